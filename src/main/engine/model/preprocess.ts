// Image preprocessing from a model folder's preprocessor_config.json: the frame size the vision
// tower takes, then rescale and normalise into the [frames, 3, height, width] float32 layout.
// Resizing itself happens when frames are decoded (ffmpeg scales while sampling), so this module
// starts from rgb24 frames already at `size`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ImageProcessorConfig {
  file: string;
  size: { height: number; width: number };
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
  doRescale: boolean;
  doNormalize: boolean;
}

const triple = (value: unknown, file: string, key: string, fallback: number): [number, number, number] => {
  if (value === undefined) return [fallback, fallback, fallback];
  if (typeof value === 'number') return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number')) {
    return value as [number, number, number];
  }
  throw new Error(`${file}: "${key}" must be a number or three numbers, got ${JSON.stringify(value)}`);
};

/** The square or rectangular input size, from whichever key the family's processor uses:
 *  size {height, width} (SigLIP, LLaVA-OneVision), size {shortest_edge}, or Idefics3's
 *  max_image_size {longest_edge} (frames go in whole, without tiling). */
function inputSize(config: Record<string, unknown>, file: string): { height: number; width: number } {
  const positive = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  const size = config.size as Record<string, unknown> | number | undefined;
  const maxImage = config.max_image_size as Record<string, unknown> | undefined;
  if (positive(maxImage?.longest_edge)) return { height: maxImage!.longest_edge as number, width: maxImage!.longest_edge as number };
  if (typeof size === 'number' && positive(size)) return { height: size, width: size };
  if (size && typeof size === 'object') {
    if (positive(size.height) && positive(size.width)) return { height: size.height as number, width: size.width as number };
    if (positive(size.shortest_edge)) return { height: size.shortest_edge as number, width: size.shortest_edge as number };
  }
  throw new Error(`${file}: no usable input size (looked for size.height/width, size.shortest_edge, max_image_size.longest_edge)`);
}

export function readPreprocessorConfig(dir: string): ImageProcessorConfig {
  const file = join(dir, 'preprocessor_config.json');
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const rescaleFactor = config.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== 'number' || !(rescaleFactor > 0)) throw new Error(`${file}: "rescale_factor" must be a positive number`);
  const std = triple(config.image_std, file, 'image_std', 1);
  if (std.some((s) => !(s > 0))) throw new Error(`${file}: "image_std" must be positive`);
  return {
    file,
    size: inputSize(config, file),
    rescaleFactor,
    mean: triple(config.image_mean, file, 'image_mean', 0),
    std,
    doRescale: config.do_rescale !== false,
    doNormalize: config.do_normalize !== false,
  };
}

/** rgb24 frames (each height*width*3 bytes at config.size) as pixel_values [N, 3, H, W]. */
export function pixelValues(frames: Uint8Array[], config: ImageProcessorConfig): Float32Array {
  const { height, width } = config.size;
  const plane = height * width;
  const out = new Float32Array(frames.length * 3 * plane);
  const scale = config.doRescale ? config.rescaleFactor : 1;
  frames.forEach((frame, f) => {
    if (frame.length !== plane * 3) {
      throw new Error(`frame ${f} has ${frame.length} bytes; ${config.file} asks for ${width}x${height} RGB (${plane * 3} bytes)`);
    }
    for (let c = 0; c < 3; c++) {
      const [mean, std] = config.doNormalize ? [config.mean[c], config.std[c]] : [0, 1];
      const base = (f * 3 + c) * plane;
      for (let i = 0; i < plane; i++) out[base + i] = (frame[i * 3 + c] * scale - mean) / std;
    }
  });
  return out;
}
