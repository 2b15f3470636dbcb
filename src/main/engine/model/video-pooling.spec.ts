import { describe, expect, it } from 'vitest';
import { bilinearMatrix, bilinearResize, pooledSide, poolVideoFeatures, videoTokenCount } from './video-pooling';

const grid = (side: number, dim: number, f: (r: number, c: number, k: number) => number) => {
  const g = new Float32Array(side * side * dim);
  for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) for (let k = 0; k < dim; k++) g[(r * side + c) * dim + k] = f(r, c, k);
  return g;
};

describe('LLaVA-OneVision video pooling', () => {
  it('halving an even grid averages each 2x2 block (half-pixel centres fall between the four)', () => {
    const g = grid(4, 2, (r, c, k) => Math.sin(r * 3 + c * 7 + k));
    const out = bilinearResize(g, 4, 2, 2);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 2; x++) {
        for (let k = 0; k < 2; k++) {
          const block = [0, 1].flatMap((dy) => [0, 1].map((dx) => g[((2 * y + dy) * 4 + 2 * x + dx) * 2 + k]));
          expect(out[(y * 2 + x) * 2 + k]).toBeCloseTo(block.reduce((a, b) => a + b, 0) / 4, 6);
        }
      }
    }
  });

  it('reproduces a linear ramp exactly inside the grid and keeps constants and identity sizes', () => {
    // 27 -> 14 as SigLIP's 384/14 grid: scale 27/14; an affine function is reproduced wherever no clamp applies.
    const side = 27;
    const out = bilinearResize(grid(side, 1, (r, c) => 2 * r - c + 1), side, 14, 1);
    const scale = side / 14;
    for (let y = 0; y < 14; y++) {
      for (let x = 0; x < 14; x++) {
        const sy = Math.min(Math.max(0, (y + 0.5) * scale - 0.5), side - 1);
        const sx = Math.min(Math.max(0, (x + 0.5) * scale - 0.5), side - 1);
        expect(out[y * 14 + x]).toBeCloseTo(2 * sy - sx + 1, 4);
      }
    }
    expect([...bilinearResize(grid(5, 3, () => 0.25), 5, 3, 3)].every((v) => Math.abs(v - 0.25) < 1e-7)).toBe(true);
    const g = grid(3, 2, (r, c, k) => r * 10 + c + k / 10);
    expect([...bilinearResize(g, 3, 3, 2)]).toEqual([...g]);
  });

  it('gives frames * ceil(side/2)^2 tokens plus one image_newline at the end', () => {
    expect(videoTokenCount(8, 27)).toBe(8 * 196 + 1);
    const frames = 2;
    const features = new Float32Array(frames * 4 * 4 * 3).map((_, i) => i);
    const newline = Float32Array.from([7, 8, 9]);
    const out = poolVideoFeatures(features, frames, 4, 3, newline);
    expect(out.length).toBe(videoTokenCount(frames, 4) * 3);
    expect([...out.subarray(out.length - 3)]).toEqual([7, 8, 9]);
    // The second frame's pooled grid comes from the second frame only.
    expect([...out.subarray(4 * 3, 8 * 3)]).toEqual([...bilinearResize(features.subarray(48, 96), 4, 2, 3)]);
    expect(() => poolVideoFeatures(features, 3, 4, 3, newline)).toThrow(/expected 3 frames x 4x4 x 3/);
  });
});

describe('bilinearMatrix', () => {
  it('pools a grid as bilinearResize does, as one matrix product', () => {
    for (const [side, dim] of [[5, 3], [27, 2], [4, 1]]) {
      const out = pooledSide(side);
      const grid = Float32Array.from({ length: side * side * dim }, (_, i) => Math.sin(i * 1.7));
      const m = bilinearMatrix(side, out);
      const product = new Float32Array(out * out * dim);
      for (let o = 0; o < out * out; o++) for (let k = 0; k < side * side; k++) for (let d = 0; d < dim; d++) product[o * dim + d] += m[o * side * side + k] * grid[k * dim + d];
      const expected = bilinearResize(grid, side, out, dim);
      product.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
      // Each pooled cell is a weighted average: its weights sum to 1.
      for (let o = 0; o < out * out; o++) expect(m.subarray(o * side * side, (o + 1) * side * side).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
  });
});
