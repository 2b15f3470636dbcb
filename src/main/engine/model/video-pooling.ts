// LLaVA-OneVision's video path after the projector: each frame's side x side grid of features is
// downsampled to ceil(side/2) x ceil(side/2) by bilinear interpolation (torch's
// F.interpolate(mode="bilinear", align_corners=False), as apply_pooling in
// modeling_llava_onevision.py does), frames are concatenated, and one image_newline follows them.

/** Source coordinates and weights of torch's bilinear, align_corners=False, for one axis. */
function axisTaps(inSize: number, outSize: number): { i0: number; i1: number; w1: number }[] {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return { i0, i1, w1: src - i0 };
  });
}

/** Bilinear resize of a [side, side, dim] grid (row-major, channels last) to [out, out, dim]. */
export function bilinearResize(grid: Float32Array, side: number, out: number, dim: number): Float32Array {
  if (grid.length !== side * side * dim) throw new Error(`grid has ${grid.length} values, expected ${side}x${side}x${dim}`);
  const taps = axisTaps(side, out);
  const result = new Float32Array(out * out * dim);
  for (let y = 0; y < out; y++) {
    const ty = taps[y];
    for (let x = 0; x < out; x++) {
      const tx = taps[x];
      const corners = [
        [ty.i0, tx.i0, (1 - ty.w1) * (1 - tx.w1)],
        [ty.i0, tx.i1, (1 - ty.w1) * tx.w1],
        [ty.i1, tx.i0, ty.w1 * (1 - tx.w1)],
        [ty.i1, tx.i1, ty.w1 * tx.w1],
      ];
      const dst = (y * out + x) * dim;
      for (const [r, c, w] of corners) {
        if (w === 0) continue;
        const src = (r * side + c) * dim;
        for (let k = 0; k < dim; k++) result[dst + k] += w * grid[src + k];
      }
    }
  }
  return result;
}

export const pooledSide = (side: number) => Math.ceil(side / 2);

/** The same resize as a matrix [out*out, side*side] (row-major grids), so a graph can pool with one
 *  MatMul: pooled = M @ grid. */
export function bilinearMatrix(side: number, out: number): Float32Array {
  const taps = axisTaps(side, out);
  const m = new Float32Array(out * out * side * side);
  for (let y = 0; y < out; y++) {
    for (let x = 0; x < out; x++) {
      const row = (y * out + x) * side * side;
      const [ty, tx] = [taps[y], taps[x]];
      for (const [r, wr] of [[ty.i0, 1 - ty.w1], [ty.i1, ty.w1]]) {
        for (const [c, wc] of [[tx.i0, 1 - tx.w1], [tx.i1, tx.w1]]) m[row + r * side + c] += wr * wc;
      }
    }
  }
  return m;
}

/** Visual tokens a video of `frames` frames takes in the prompt: pooled grids plus one newline. */
export function videoTokenCount(frames: number, side: number): number {
  return frames * pooledSide(side) ** 2 + 1;
}

/** Projected per-frame features [frames, side*side, dim] -> the video's embeddings
 *  [frames * pooled^2 + 1, dim], ending with image_newline. */
export function poolVideoFeatures(features: Float32Array, frames: number, side: number, dim: number, imageNewline: Float32Array): Float32Array {
  if (features.length !== frames * side * side * dim) {
    throw new Error(`video features have ${features.length} values, expected ${frames} frames x ${side}x${side} x ${dim}`);
  }
  if (imageNewline.length !== dim) throw new Error(`image_newline has ${imageNewline.length} values, expected ${dim}`);
  const out = pooledSide(side);
  const result = new Float32Array(videoTokenCount(frames, side) * dim);
  const perFrame = side * side * dim;
  for (let f = 0; f < frames; f++) {
    result.set(bilinearResize(features.subarray(f * perFrame, (f + 1) * perFrame), side, out, dim), f * out * out * dim);
  }
  result.set(imageNewline, frames * out * out * dim);
  return result;
}
