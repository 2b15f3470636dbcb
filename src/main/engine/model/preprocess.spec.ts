import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pixelValues, readPreprocessorConfig } from './preprocess';

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
    expect(() => readPreprocessorConfig(join(tmpdir(), 'no-such-model'))).toThrow(/cannot read .*preprocessor_config\.json/);
    const config = readPreprocessorConfig(folder({ size: 2 }));
    expect(() => pixelValues([new Uint8Array(12), new Uint8Array(5)], config)).toThrow(/frame 1 has 5 bytes; .* asks for 2x2 RGB \(12 bytes\)/);
  });
});
