import { cpSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelFingerprint } from './model-fingerprint';

const fresh = (name: string) => mkdtempSync(join(tmpdir(), `isr-${name}-`));

describe('modelFingerprint', () => {
  function folder(): string {
    const dir = fresh('model');
    writeFileSync(join(dir, 'config.json'), '{"model_type":"idefics3"}');
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), Buffer.alloc(3000, 7));
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), Buffer.alloc(2000, 9));
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    return dir;
  }

  it('depends on config.json and the weights\' contents, not on the folder\'s path or other files', async () => {
    const dir = folder();
    const first = await modelFingerprint(dir);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await modelFingerprint(dir)).toBe(first);
    const copy = fresh('model-copy');
    cpSync(dir, copy, { recursive: true });
    writeFileSync(join(copy, 'tokenizer.json'), '{"changed":true}');
    expect(await modelFingerprint(copy)).toBe(first);
    writeFileSync(join(copy, 'config.json'), '{"model_type":"smolvlm"}');
    expect(await modelFingerprint(copy)).not.toBe(first);
  });

  it('changes when one byte of a weight file changes', async () => {
    const dir = folder();
    const first = await modelFingerprint(dir);
    const weights = join(dir, 'model-00002-of-00002.safetensors');
    const bytes = readFileSync(weights);
    bytes[1234] ^= 1;
    const { mtime } = statSync(weights);
    writeFileSync(weights, bytes);
    // A rewrite moves mtime; set it apart explicitly so a coarse filesystem clock cannot hide the edit from the memo.
    utimesSync(weights, mtime, new Date(mtime.getTime() + 2000));
    expect(await modelFingerprint(dir)).not.toBe(first);
  });
});
