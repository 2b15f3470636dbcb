import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goldens, samples, sha256, sourceImage } from '../../../../test/reference/pil-goldens';
import { longestEdgeSize, pixelValues, readPreprocessorConfig, towerImage } from './preprocess';
import { Resample } from './resize';

const folder = (config: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), 'isr-pre-'));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(config));
  return dir;
};

describe('preprocessing', () => {
  it("reads the input size from each family's keys", () => {
    expect(readPreprocessorConfig(folder({ size: { height: 384, width: 384 } })).size).toEqual({ height: 384, width: 384 });
    expect(readPreprocessorConfig(folder({ size: { shortest_edge: 224 } })).size).toEqual({ height: 224, width: 224 });
    expect(readPreprocessorConfig(folder({ size: { longest_edge: 1456 }, max_image_size: { longest_edge: 364 } })).size).toEqual({ height: 364, width: 364 });
  });

  it('rescales and normalises per channel into [N, 3, H, W], as (x * factor - mean) / std', () => {
    const config = readPreprocessorConfig(
      folder({ size: { height: 1, width: 2 }, rescale_factor: 0.00392156862745098, image_mean: [0.5, 0.4, 0.3], image_std: [0.5, 0.25, 0.2] }),
    );
    // Two pixels, RGB interleaved: (255, 0, 51) and (0, 102, 255).
    const values = pixelValues([new Uint8Array([255, 0, 51, 0, 102, 255])], config);
    const expected = [
      (1 - 0.5) / 0.5, (0 - 0.5) / 0.5, // R plane
      (0 - 0.4) / 0.25, (0.4 - 0.4) / 0.25, // G plane
      (0.2 - 0.3) / 0.2, (1 - 0.3) / 0.2, // B plane
    ];
    expect([...values].map((v) => Number(v.toFixed(5)))).toEqual(expected.map((v) => Number(v.toFixed(5))));
  });

  it('skips normalisation and rescaling when the config turns them off', () => {
    const config = readPreprocessorConfig(folder({ size: { height: 1, width: 1 }, do_rescale: false, do_normalize: false, image_mean: 0.5 }));
    expect([...pixelValues([new Uint8Array([1, 2, 3])], config)]).toEqual([1, 2, 3]);
  });

  it('names the file and the key at fault', () => {
    expect(() => readPreprocessorConfig(folder({}))).toThrow(/preprocessor_config\.json: no usable input size/);
    expect(() => readPreprocessorConfig(folder({ size: 8, image_std: [1, 0, 1] }))).toThrow(/"image_std" must be positive/);
    expect(() => readPreprocessorConfig(folder({ size: 8, image_mean: [1, 2] }))).toThrow(/"image_mean" must be a number or three numbers/);
    expect(() => readPreprocessorConfig(folder({ size: 8, resample: 'bicubic' }))).toThrow(/"resample" must be a PIL filter number 0-5, got "bicubic"/);
    expect(() => readPreprocessorConfig(folder({ size: { height: 8 }, max_image_size: { longest_edge: 8 } }))).toThrow(/max_image_size comes with size\.longest_edge/);
    expect(() => readPreprocessorConfig(join(tmpdir(), 'no-such-model'))).toThrow(/not found: .*preprocessor_config\.json/);
    const config = readPreprocessorConfig(folder({ size: 2 }));
    expect(() => pixelValues([new Uint8Array(12), new Uint8Array(5)], config)).toThrow(/frame 1: a frame of 2x2 RGB needs 12 bytes, got 5/);
    const fixed = readPreprocessorConfig(folder({ size: 2, do_resize: false }));
    expect(() => pixelValues([{ width: 3, height: 2, data: new Uint8Array(18) }], fixed)).toThrow(/frame 0: a frame of 3x2, but .*preprocessor_config\.json asks for 2x2 and turns resizing off/);
  });
});

describe('resizing as the processor does', () => {
  it("takes `resample` from the config, else the processor class's default", () => {
    expect(readPreprocessorConfig(folder({ size: 8, resample: 2 })).resample).toBe(Resample.BILINEAR);
    expect(readPreprocessorConfig(folder({ image_processor_type: 'LlavaOnevisionImageProcessor', size: 8 })).resample).toBe(Resample.BICUBIC);
    expect(readPreprocessorConfig(folder({ size: 8 })).resample).toBe(Resample.BICUBIC);
    for (const type of ['Idefics3ImageProcessor', 'SmolVLMImageProcessor']) {
      expect(readPreprocessorConfig(folder({ image_processor_type: type, size: { longest_edge: 16 }, max_image_size: { longest_edge: 8 } })).resample).toBe(Resample.LANCZOS);
    }
  });

  it("plans Idefics3's two resizes: the longest edge (SmolVLM video: video_sampling's), then the square", () => {
    const idefics = { size: { longest_edge: 1456 }, max_image_size: { longest_edge: 364 } };
    expect(readPreprocessorConfig(folder(idefics))).toMatchObject({ size: { height: 364, width: 364 }, longestEdge: 1456, resizeToSize: true });
    expect(readPreprocessorConfig(folder({ ...idefics, video_sampling: { video_size: { longest_edge: 512 } } })).longestEdge).toBe(512);
    // do_resize off skips the longest-edge step only: the square happens regardless.
    expect(readPreprocessorConfig(folder({ ...idefics, do_resize: false }))).toMatchObject({ longestEdge: null, resizeToSize: true });
    expect(readPreprocessorConfig(folder({ size: { height: 4, width: 6 }, do_resize: false }))).toMatchObject({ longestEdge: null, resizeToSize: false });
  });

  it("computes the longest-edge size with Idefics3's truncation, even rounding and 4096 cap", () => {
    expect(longestEdgeSize(1280, 720, 512)).toEqual({ width: 512, height: 288 });
    expect(longestEdgeSize(123, 457, 364)).toEqual({ width: 98, height: 364 }); // 97.97 -> 97 -> 98
    expect(longestEdgeSize(300, 300, 364)).toEqual({ width: 364, height: 364 });
    expect(longestEdgeSize(1000, 3, 364)).toEqual({ width: 364, height: 2 }); // 1.09 -> 1 -> 2
    expect(longestEdgeSize(200, 100, 5000)).toEqual({ width: 4096, height: 2048 });
  });

  it.each(goldens.pipelines.map((p) => [`${p.config.image_processor_type} ${p.source.width}x${p.source.height} -> ${p.sizes.map((s) => s.join('x')).join(' -> ')}`, p] as const))(
    '%s matches PIL + numpy',
    (_, golden) => {
      const config = readPreprocessorConfig(folder(golden.config));
      const image = sourceImage(golden.source);
      if (config.longestEdge !== null) expect(longestEdgeSize(image.width, image.height, config.longestEdge)).toEqual({ width: golden.sizes[0][0], height: golden.sizes[0][1] });
      const resized = towerImage(image, config);
      expect([resized.width, resized.height]).toEqual(golden.sizes.at(-1));
      expect(sha256(resized.data)).toBe(golden.resizedSha256);
      const values = pixelValues([image, image], config);
      const perFrame = golden.shape.reduce((a, b) => a * b, 1);
      expect(values.length).toBe(2 * perFrame);
      for (const frame of [values.subarray(0, perFrame), values.subarray(perFrame)]) {
        const got = samples(frame);
        const worst = Math.max(...got.map((v, i) => Math.abs(v - golden.samples[i])));
        expect(worst).toBeLessThanOrEqual(1e-6);
      }
    },
  );
});
