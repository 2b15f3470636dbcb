import { describe, expect, it } from 'vitest';
import { goldens, samples, sha256, sourceImage } from '../../../../test/reference/pil-goldens';
import { Resample, isResampleFilter, resizeRgb } from './resize';

const names = Object.fromEntries(Object.entries(Resample).map(([name, n]) => [n, name]));

describe('resizeRgb against Pillow', () => {
  it('has goldens from the Pillow it claims to match', () => {
    expect(goldens.pillow).toBe('9.4.0');
    // Every filter, downscaled and upscaled; both passes, either alone, and a same-size copy.
    expect(new Set(goldens.resize.map((c) => c.resample))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
  });

  it.each(goldens.resize.map((c) => [`${c.source.kind} ${c.source.width}x${c.source.height} -> ${c.width}x${c.height} ${names[c.resample]}`, c] as const))(
    '%s is byte-identical',
    (_, c) => {
      if (!isResampleFilter(c.resample)) throw new Error(`bad golden filter ${c.resample}`);
      const out = resizeRgb(sourceImage(c.source), c.width, c.height, c.resample);
      expect([out.width, out.height]).toEqual([c.width, c.height]);
      // The samples first: on a failure they show where, the hash then covers every byte.
      expect(samples(out.data)).toEqual(c.samples);
      expect(sha256(out.data)).toBe(c.sha256);
    },
  );

  it('leaves its input alone and refuses sizes and buffers that do not fit', () => {
    const image = sourceImage({ kind: 'noise', width: 5, height: 4, seed: 9 });
    const before = image.data.slice();
    const copy = resizeRgb(image, 5, 4, Resample.BICUBIC);
    expect(copy.data).toEqual(before);
    expect(copy.data).not.toBe(image.data);
    resizeRgb(image, 3, 2, Resample.LANCZOS);
    expect(image.data).toEqual(before);
    expect(() => resizeRgb(image, 0, 2, Resample.BICUBIC)).toThrow(/cannot resize to 0x2/);
    expect(() => resizeRgb({ width: 5, height: 4, data: new Uint8Array(10) }, 2, 2, Resample.BICUBIC)).toThrow(/needs 60 bytes, got 10/);
  });
});
