import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelConfig } from '../src/main/engine/model/config';
import { ModelTokenizer } from '../src/main/engine/model/tokenizer';
import { runCli } from './cli';

describe('isr-studio fixture', () => {
  it('writes a model folder in the Hugging Face layout whose tokenizer covers the demo words', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'isr-cli-fixture-')), 'model');
    const result = await runCli(['fixture', '--arch', 'llava-onevision', '--out', out, '--seed', '5']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/wrote a tiny llava-onevision model \(0\.\d+M parameters\)/);
    expect(readdirSync(out).sort()).toEqual(
      ['config.json', 'generation_config.json', 'model.safetensors', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'],
    );
    expect(readModelConfig(out).arch).toBe('llava-onevision');
    const tok = ModelTokenizer.load(out);
    for (const word of [' purple', ' triangle', ' square', ' left', ' colour']) expect(tok.encode(word), word).toHaveLength(1);
  });

  it('refuses an unknown family, naming the choices', async () => {
    const result = await runCli(['fixture', '--arch', 'gpt2', '--out', tmpdir()]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('expected one of llava-onevision, idefics3');
  });
});
