// Resizing rgb24 images exactly as Pillow's Image.resize does (Pillow 9.4, no reducing_gap):
// libImaging/Resample.c's separable convolution for the filters (support widened by the downscale
// factor, so downscaling antialiases; weights normalised, then fixed point with 22 fractional bits;
// a horizontal pass over only the rows the vertical pass reads, then the vertical pass, each
// rounding and clipping to 0..255), and Geometry.c's affine scaling for NEAREST. The published
// processors resize with Pillow, so this is what makes pixel_values match transformers'.

/** An rgb24 image: `data` holds height rows of width pixels, three bytes each. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** PIL.Image.Resampling, by the numbers preprocessor_config.json's `resample` uses. */
export const Resample = { NEAREST: 0, LANCZOS: 1, BILINEAR: 2, BICUBIC: 3, BOX: 4, HAMMING: 5 } as const;
export type ResampleFilter = (typeof Resample)[keyof typeof Resample];

export function isResampleFilter(value: unknown): value is ResampleFilter {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 5;
}

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));

// The constants and the order of operations are Resample.c's, so each weight rounds the same way.
const filters: Record<Exclude<ResampleFilter, 0>, Filter> = {
  [Resample.BOX]: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  [Resample.BILINEAR]: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    },
  },
  [Resample.HAMMING]: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const t = ax * Math.PI;
      // 0.54f and 0.46f: float constants in the C source.
      return (Math.sin(t) / t) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(t));
    },
  },
  [Resample.BICUBIC]: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  [Resample.LANCZOS]: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  /** Taps per output pixel (the stride of `weights`). */
  ksize: number;
  /** Per output pixel: the first input pixel and how many are read. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  weights: Int32Array;
}

/** Resample.c's precompute_coeffs followed by normalize_coeffs_8bpc, for the whole axis. */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const ss = 1 / filterScale;
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const count = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < count; x++) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (let x = 0; x < count; x++) {
      const w = total !== 0 ? k[x] / total : k[x];
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

const HALF = 1 << (PRECISION_BITS - 1);

function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over input rows first..first+rows-1. */
function horizontal(src: RgbImage, width: number, first: number, rows: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(width * rows * 3);
  const { ksize, bounds, weights } = c;
  for (let y = 0; y < rows; y++) {
    const row = (y + first) * src.width * 3;
    for (let xx = 0; xx < width; xx++) {
      const xmin = bounds[xx * 2];
      const count = bounds[xx * 2 + 1];
      const kOff = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < count; x++) {
        const p = row + (xmin + x) * 3;
        const w = weights[kOff + x];
        s0 += src.data[p] * w;
        s1 += src.data[p + 1] * w;
        s2 += src.data[p + 2] * w;
      }
      const o = (y * width + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/** Vertical pass; `first` is the input row that bounds count from. */
function vertical(src: Uint8Array, width: number, height: number, first: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const { ksize, bounds, weights } = c;
  const stride = width * 3;
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[yy * 2] - first;
    const count = bounds[yy * 2 + 1];
    const kOff = yy * ksize;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      for (let y = 0; y < count; y++) s += src[(ymin + y) * stride + i] * weights[kOff + y];
      out[yy * stride + i] = clip8(s);
    }
  }
  return out;
}

/** Geometry.c's ImagingScaleAffine, which Image.resize uses for NEAREST: source positions are
 *  accumulated step by step from the first pixel's centre, then truncated. */
function nearest(src: RgbImage, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const sx = src.width / width;
  const sy = src.height / height;
  const cols = new Int32Array(width);
  let xo = sx * 0.5;
  for (let x = 0; x < width; x++, xo += sx) cols[x] = Math.trunc(xo);
  let yo = sy * 0.5;
  for (let y = 0; y < height; y++, yo += sy) {
    const row = Math.trunc(yo) * src.width * 3;
    for (let x = 0; x < width; x++) {
      const p = row + cols[x] * 3;
      const o = (y * width + x) * 3;
      out[o] = src.data[p];
      out[o + 1] = src.data[p + 1];
      out[o + 2] = src.data[p + 2];
    }
  }
  return out;
}

/** `image` resized to width x height as PIL's `Image.resize((width, height), resample)`. */
export function resizeRgb(image: RgbImage, width: number, height: number, resample: ResampleFilter): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`cannot resize to ${width}x${height}: the size must be whole and positive`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`an rgb24 image of ${image.width}x${image.height} needs ${image.width * image.height * 3} bytes, got ${image.data.length}`);
  }
  if (width === image.width && height === image.height) return { width, height, data: image.data.slice() };
  if (resample === Resample.NEAREST) return { width, height, data: nearest(image, width, height) };
  const filter = filters[resample];
  const horiz = coefficients(image.width, width, filter);
  const vert = coefficients(image.height, height, filter);
  if (width === image.width) return { width, height, data: vertical(image.data, width, height, 0, vert) };
  if (height === image.height) return { width, height, data: horizontal(image, width, 0, height, horiz) };
  // Only the rows the vertical pass reads go through the horizontal one, as in Resample.c.
  const first = vert.bounds[0];
  const last = vert.bounds[(height - 1) * 2] + vert.bounds[(height - 1) * 2 + 1];
  const temp = horizontal(image, width, first, last - first, horiz);
  return { width, height, data: vertical(temp, width, height, first, vert) };
}
