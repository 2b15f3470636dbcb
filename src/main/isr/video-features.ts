// Frames and vision features of a video for a model, computed once: frames come from the frame
// cache (keyed by the video's content), features from the feature cache (keyed by video content,
// frame count and size, and the model's vision fingerprint), so describing, judging and training the
// same clip never run ffmpeg or the vision tower twice, nor do later rounds whose training left the
// vision weights alone.
import { join } from 'node:path';
import { FeatureCache } from '../engine/model/feature-cache';
import type { PromptVideo } from '../engine/model/prompt';
import type { VisionStage } from '../engine/model/vision';
import type { ChatMessage } from '../engine/model/tokenizer';
import type { PromptInput, VideoLanguageModel } from '../engine/model/vlm';
import { FrameCache } from '../video/frame-cache';
import { uniformFrameIndices } from '../video/frames';
import { sha256File } from '../video/hash';
import { probeVideo, type VideoInfo } from '../video/probe';

export class VideoFeatures {
  private readonly frames: FrameCache;
  private readonly features: FeatureCache;
  private readonly probes = new Map<string, Promise<VideoInfo>>();

  constructor(
    private readonly model: VideoLanguageModel,
    private readonly ffmpeg: string,
    cacheDir: string,
  ) {
    this.frames = new FrameCache(join(cacheDir, 'frames'));
    this.features = new FeatureCache(join(cacheDir, 'features'));
  }

  /** The feature rows a prompt showing `videoPath` with `frameCount` frames takes; at stage 'tower',
   *  the tower's output before the projector (what training the projector starts from). */
  async of(videoPath: string, frameCount: number, stage: VisionStage = 'features'): Promise<Float32Array> {
    const size = this.model.frameSize;
    const model = stage === 'features' ? this.model.visionFingerprint() : `${this.model.visionFingerprint()}:${stage}`;
    const key = { video: await sha256File(videoPath), frames: frameCount, frameSize: size.width, model };
    const cached = this.features.get(key);
    if (cached) return cached;
    const frames = await this.frames.frames(this.ffmpeg, videoPath, frameCount);
    const features = stage === 'features' ? await this.model.visualFeatures(frames) : await this.model.towerFeatures(frames);
    this.features.put(key, features);
    return features;
  }

  /**
   * Features of every one of `videoPaths` at `frameCount` frames in the cache (computed where
   * missing), then the vision tower released: what follows reads the cache, so the tower and the
   * decoder never hold memory at the same time (docs/engine.md, memory).
   */
  async prepare(videoPaths: readonly string[], frameCount: number, onVideo?: (done: number, total: number) => void): Promise<void> {
    const unique = [...new Set(videoPaths)];
    for (const [i, path] of unique.entries()) {
      onVideo?.(i, unique.length);
      await this.of(path, frameCount);
    }
    await this.model.releaseVision();
  }

  /** `messages` about the video, ready to run: the prompt showing its frames, and their feature rows. */
  async input(messages: ChatMessage[], videoPath: string, frameCount: number): Promise<PromptInput> {
    return { prompt: this.model.prompt(messages, await this.shown(videoPath, frameCount)), features: await this.of(videoPath, frameCount) };
  }

  /** The video as a prompt shows it: `frameCount` frames, each one's time in the clip (the frames
   *  `of` samples: uniformFrameIndices over the probed frame count) and the clip's duration. */
  async shown(videoPath: string, frameCount: number): Promise<PromptVideo> {
    let probe = this.probes.get(videoPath);
    if (probe === undefined) this.probes.set(videoPath, (probe = probeVideo(this.ffmpeg, videoPath)));
    const info = await probe;
    const total = Math.max(1, Math.round(info.durationS * info.fps));
    return { frames: frameCount, timesS: uniformFrameIndices(total, frameCount).map((i) => i / info.fps), durationS: info.durationS };
  }
}
