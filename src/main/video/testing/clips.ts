// Test fixtures: tiny clips whose every frame is known, made with the real encoder.
import { encodeRgbVideo } from '../encode';

/** A clip whose frame k is one flat colour, `colours[k]`. */
export async function flatClip(
  ffmpeg: string,
  path: string,
  colours: Array<[number, number, number]>,
  settings = { width: 32, height: 24, fps: 10 },
): Promise<void> {
  const frames = colours.map(([r, g, b]) => {
    const f = new Uint8Array(settings.width * settings.height * 3);
    for (let i = 0; i < f.length; i += 3) f.set([r, g, b], i);
    return f;
  });
  await encodeRgbVideo(ffmpeg, path, frames, settings);
}

/** Mean of each channel over a frame: robust to the codec's small per-pixel errors. */
export function meanColour(frame: Uint8Array): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < frame.length; i++) sum[i % 3] += frame[i];
  const n = frame.length / 3;
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}
