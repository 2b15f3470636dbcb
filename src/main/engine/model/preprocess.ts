// Image preprocessing from a model folder's preprocessor_config.json, as the published (slow,
// PIL-based) transformers processors do it to a video frame: resize with PIL and the config's
// `resample` (resize.ts), then rescale and normalise into [frames, 3, height, width] float32.
// docs/families.md, "Preprocessing", says which processor each step follows.
import { join } from 'node:path';
import { ApiError, shownValue } from '../../../shared/errors';
import { readJsonObject } from './json-file';
import { Resample, isResampleFilter, resizeRgb, type ResampleFilter, type RgbImage } from './resize';

export interface ImageProcessorConfig {
  file: string;
  /** The vision tower's input: every frame ends at this size. */
  size: { height: number; width: number };
  resample: ResampleFilter;
  /** Idefics3/SmolVLM: the longest edge frames are first resized to, keeping their aspect ratio
   *  (null: no such step); they are then squared to `size` whatever do_resize says. */
  longestEdge: number | null;
  /** Whether frames are resized to `size` (do_resize, or always for Idefics3/SmolVLM). */
  resizeToSize: boolean;
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
  doRescale: boolean;
  doNormalize: boolean;
}

/** A frame at its own size, or its bytes alone for a frame already at the tower's size. */
export type Frame = RgbImage | Uint8Array;

// transformers' Idefics3ImageProcessor, SmolVLMImageProcessor and their video processors
// default to LANCZOS; SigLIP's, LLaVA-OneVision's (image and video) and the base class to BICUBIC.
const lanczosByDefault = new Set(['Idefics3ImageProcessor', 'Idefics3ImageProcessorFast', 'SmolVLMImageProcessor', 'SmolVLMImageProcessorFast']);

// image_processing_idefics3.py's MAX_IMAGE_SIZE: no edge grows past it.
const MAX_IMAGE_SIZE = 4096;

const triple = (value: unknown, file: string, key: string, fallback: number): [number, number, number] => {
  if (value === undefined) return [fallback, fallback, fallback];
  if (typeof value === 'number') return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number')) {
    return value as [number, number, number];
  }
  throw bad(file, `"${key}" must be a number or three numbers, got ${shownValue(value)}`);
};

/** A key of the file that cannot be used: bad input, as every file of a model folder is. */
const bad = (file: string, message: string) => new ApiError('bad_input', `${file}: ${message}`, { file });

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const record = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);

/** The tower's input size, from whichever key the family's processor uses: size {height, width}
 *  (SigLIP, LLaVA-OneVision), size {shortest_edge} or a number (squared, as LLaVA-OneVision's video
 *  processor does), or Idefics3's max_image_size {longest_edge} (frames go in whole, untiled). */
function inputSize(config: Record<string, unknown>, file: string): { height: number; width: number } {
  const size = config.size;
  const maxImage = record(config.max_image_size);
  if (positive(maxImage?.longest_edge)) return { height: maxImage.longest_edge, width: maxImage.longest_edge };
  if (positive(size)) return { height: size, width: size };
  const sized = record(size);
  if (sized) {
    if (positive(sized.height) && positive(sized.width)) return { height: sized.height, width: sized.width };
    if (positive(sized.shortest_edge)) return { height: sized.shortest_edge, width: sized.shortest_edge };
  }
  throw bad(file, 'no usable input size (looked for size.height/width, size.shortest_edge, max_image_size.longest_edge)');
}

/** Idefics3/SmolVLM's first resize: SmolVLM's video processor takes video_sampling.video_size, the
 *  image processor size.longest_edge. */
function longestEdge(config: Record<string, unknown>, file: string, doResize: boolean): number | null {
  if (!positive(record(config.max_image_size)?.longest_edge) || !doResize) return null;
  const video = record(record(config.video_sampling)?.video_size)?.longest_edge;
  const edge = video ?? record(config.size)?.longest_edge;
  if (!positive(edge)) throw bad(file, `max_image_size comes with size.longest_edge (or video_sampling.video_size.longest_edge), got ${shownValue(video ?? config.size)}`);
  return edge;
}

export function readPreprocessorConfig(dir: string): ImageProcessorConfig {
  const file = join(dir, 'preprocessor_config.json');
  const config = readJsonObject(file);
  const rescaleFactor = config.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== 'number' || !(rescaleFactor > 0)) throw bad(file, '"rescale_factor" must be a positive number');
  const std = triple(config.image_std, file, 'image_std', 1);
  if (std.some((s) => !(s > 0))) throw bad(file, '"image_std" must be positive');
  const resample = config.resample ?? (lanczosByDefault.has(config.image_processor_type as string) ? Resample.LANCZOS : Resample.BICUBIC);
  if (!isResampleFilter(resample)) throw bad(file, `"resample" must be a PIL filter number 0-5, got ${shownValue(resample)}`);
  const doResize = config.do_resize !== false;
  const squared = positive(record(config.max_image_size)?.longest_edge);
  return {
    file,
    size: inputSize(config, file),
    resample,
    longestEdge: longestEdge(config, file, doResize),
    resizeToSize: doResize || squared,
    rescaleFactor,
    mean: triple(config.image_mean, file, 'image_mean', 0),
    std,
    doRescale: config.do_rescale !== false,
    doNormalize: config.do_normalize !== false,
  };
}

/** Idefics3's get_resize_output_image_size: the longest edge to `edge`, the other truncated from
 *  the aspect ratio and rounded up to even, then both capped at MAX_IMAGE_SIZE. */
export function longestEdgeSize(width: number, height: number, edge: number): { width: number; height: number } {
  let aspect = width / height;
  if (width >= height) {
    width = edge;
    height = Math.trunc(width / aspect);
    if (height % 2 !== 0) height += 1;
  } else {
    height = edge;
    width = Math.trunc(height * aspect);
    if (width % 2 !== 0) width += 1;
  }
  height = Math.max(height, 1);
  width = Math.max(width, 1);
  aspect = width / height;
  if (width >= height && width > MAX_IMAGE_SIZE) {
    width = MAX_IMAGE_SIZE;
    height = Math.trunc(width / aspect);
  } else if (height > width && height > MAX_IMAGE_SIZE) {
    height = MAX_IMAGE_SIZE;
    width = Math.trunc(height * aspect);
  }
  return { width: Math.max(width, 1), height: Math.max(height, 1) };
}

/** A frame resized as the processor resizes it, still rgb24: at config.size. */
export function towerImage(frame: Frame, config: ImageProcessorConfig): RgbImage {
  const { width, height } = config.size;
  let image: RgbImage = frame instanceof Uint8Array ? { width, height, data: frame } : frame;
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`a frame of ${image.width}x${image.height} RGB needs ${image.width * image.height * 3} bytes, got ${image.data.length}`);
  }
  if (config.longestEdge !== null) {
    const to = longestEdgeSize(image.width, image.height, config.longestEdge);
    image = resizeRgb(image, to.width, to.height, config.resample);
  }
  if (config.resizeToSize) image = resizeRgb(image, width, height, config.resample);
  if (image.width !== width || image.height !== height) {
    throw new Error(`a frame of ${image.width}x${image.height}, but ${config.file} asks for ${width}x${height} and turns resizing off`);
  }
  return image;
}

/** Frames of any size as pixel_values [N, 3, H, W] at config.size. Rescaling is a float64 product
 *  cast to float32 and normalising float32 arithmetic, as transformers' rescale and normalize. */
export function pixelValues(frames: readonly Frame[], config: ImageProcessorConfig): Float32Array {
  const { height, width } = config.size;
  const plane = height * width;
  const out = new Float32Array(frames.length * 3 * plane);
  const f = Math.fround;
  // Each channel maps a byte to one value: one table of 256 per channel.
  const tables = [0, 1, 2].map((c) =>
    Float32Array.from({ length: 256 }, (_, v) => {
      let x = config.doRescale ? f(v * config.rescaleFactor) : v;
      if (config.doNormalize) x = f(f(x - f(config.mean[c])) / f(config.std[c]));
      return x;
    }),
  );
  frames.forEach((frame, i) => {
    let data: Uint8Array;
    try {
      data = towerImage(frame, config).data;
    } catch (err) {
      throw new Error(`frame ${i}: ${(err as Error).message}`);
    }
    for (let c = 0; c < 3; c++) {
      const base = (i * 3 + c) * plane;
      const table = tables[c];
      for (let p = 0; p < plane; p++) out[base + p] = table[data[p * 3 + c]];
    }
  });
  return out;
}
