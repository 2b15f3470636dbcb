// The goldens pil-resize.py writes (Pillow's resize and the processors' pipeline), and the same
// deterministic source images it starts from, for the specs that compare against them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RgbImage } from '../../src/main/engine/model/resize';

export interface Source {
  kind: 'noise' | 'blend';
  width: number;
  height: number;
  seed: number;
}

export interface Goldens {
  pillow: string;
  samples: number;
  resize: { source: Source; width: number; height: number; resample: number; sha256: string; samples: number[] }[];
  pipelines: { source: Source; config: Record<string, unknown>; sizes: [number, number][]; resizedSha256: string; shape: number[]; samples: number[] }[];
}

export const goldens = JSON.parse(readFileSync(new URL('./pil-resize.json', import.meta.url), 'utf8')) as Goldens;

function noise(x: number, y: number, c: number, seed: number): number {
  let h = (Math.imul(x, 374761393) + Math.imul(y, 668265263) + Math.imul(c, 2246822519) + Math.imul(seed, 3266489917)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 2246822519) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 3266489917) >>> 0;
  return (h ^ (h >>> 16)) & 255;
}

/** pil-resize.py's `source`. */
export function sourceImage({ kind, width, height, seed }: Source): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const smooth = [
        Math.floor((x * 255) / Math.max(1, width - 1)),
        Math.floor((y * 255) / Math.max(1, height - 1)),
        Math.floor(((x + y) * 255) / Math.max(1, width + height - 2)),
      ];
      for (let c = 0; c < 3; c++) {
        const n = noise(x, y, c, seed);
        data[(y * width + x) * 3 + c] = kind === 'noise' ? n : (3 * smooth[c] + n) >> 2;
      }
    }
  }
  return { width, height, data };
}

/** pil-resize.py's `samples`: values at evenly spaced flat indices. */
export function samples(values: ArrayLike<number>, count = goldens.samples): number[] {
  const n = values.length;
  return Array.from({ length: count }, (_, k) => values[Math.floor((k * (n - 1)) / (count - 1))]);
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
