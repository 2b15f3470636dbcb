// Writing the demo video QA set: clips, train/test question files, and ground truth per clip.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRgbVideo } from '../../video/encode';
import { mulberry32 } from './prng';
import { captionFor, questionsFor } from './questions';
import { renderFrame } from './raster';
import { COLOURS, randomScene, type Scene } from './scene';

export interface DemoOptions {
  videos: number;
  /** Clips held out for test, the last ones written (default testClipCount(videos)). */
  testClips?: number;
  seed: number;
  /** Called after each clip is written. */
  onClip?: (done: number, total: number) => void;
}

export interface DemoSummary {
  clips: number;
  trainClips: number;
  testClips: number;
  trainRows: number;
  testRows: number;
}

export const defaultDemoVideos = 24;

/** Clips held out for test: a sixth, at least one once there are two clips. */
export function testClipCount(videos: number): number {
  return videos < 2 ? 0 : Math.max(1, Math.round(videos / 6));
}

/** Writes `videos/clipNNNN.mp4`, `train.jsonl`, `test.jsonl` and `clips.jsonl` under `outDir`. */
export async function writeDemoData(ffmpeg: string, outDir: string, options: DemoOptions): Promise<DemoSummary> {
  const rng = mulberry32(options.seed);
  mkdirSync(join(outDir, 'videos'), { recursive: true });
  const testClips = options.testClips ?? testClipCount(options.videos);
  if (!(Number.isInteger(testClips) && testClips >= 0 && testClips <= options.videos)) throw new Error(`test clips must be a whole number from 0 to the ${options.videos} clips, got ${testClips}`);
  const firstTest = options.videos - testClips;
  const lines = { train: [] as string[], test: [] as string[], clips: [] as string[] };

  for (let i = 0; i < options.videos; i++) {
    const clip = `clip${String(i + 1).padStart(4, '0')}`;
    const video = `videos/${clip}.mp4`;
    const split = i < firstTest ? 'train' : 'test';
    const scene = randomScene(rng);
    const frames = Array.from({ length: scene.frameCount }, (_, f) => renderFrame(scene, f));
    await encodeRgbVideo(ffmpeg, join(outDir, video), frames, scene);
    for (const q of questionsFor(scene, rng)) {
      lines[split].push(JSON.stringify({ id: `${clip}-${q.kind}`, video, question: q.question, answer: q.answer }));
    }
    lines.clips.push(JSON.stringify({ clip, video, split, ...truth(scene), caption: captionFor(scene) }));
    options.onClip?.(i + 1, options.videos);
  }

  for (const file of ['train', 'test', 'clips'] as const) {
    writeFileSync(join(outDir, `${file}.jsonl`), lines[file].map((l) => `${l}\n`).join(''));
  }
  return {
    clips: options.videos,
    trainClips: firstTest,
    testClips: options.videos - firstTest,
    trainRows: lines.train.length,
    testRows: lines.test.length,
  };
}

/** The scene as clips.jsonl records it: everything needed to redraw or re-ask the clip. */
function truth(scene: Scene) {
  return {
    width: scene.width,
    height: scene.height,
    fps: scene.fps,
    frameCount: scene.frameCount,
    background: scene.background,
    shapes: scene.shapes.map((s) => ({ ...s, rgb: COLOURS[s.colour], appearsAtS: s.appearsAt / scene.fps })),
    order: scene.shapes.map((s) => `${s.colour} ${s.kind}`),
  };
}
