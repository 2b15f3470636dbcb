import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointPreset } from '../src/main/engine/model/checkpoint-presets';
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

  // The one full-size write in the suite (~20 s, 490 MiB): the published config and a weights file of
  // exactly the published size (513028808 bytes, the Hub's LFS pointer of model.safetensors).
  it('--like smolvlm-256m writes SmolVLM-256M-Instruct\'s files and a weights file of its published size', { timeout: 90_000 }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'isr-cli-fixture-')), 'smolvlm');
    const result = await runCli(['fixture', '--like', 'smolvlm-256m', '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/wrote a stand-in of smolvlm-256m \(256\.48M parameters\)/);
    expect(readdirSync(out).sort()).toEqual([
      'chat_template.json', 'config.json', 'generation_config.json', 'model.safetensors', 'preprocessor_config.json',
      'processor_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual(checkpointPreset('smolvlm-256m').files['config.json']);
    expect(statSync(join(out, 'model.safetensors')).size).toBe(513_028_808);
    expect(readModelConfig(out).arch).toBe('idefics3');
    const tok = ModelTokenizer.load(out);
    expect([tok.tokenId('<image>'), tok.tokenId('<end_of_utterance>'), tok.tokenId('<row_6_col_6>')]).toEqual([49190, 49279, 49188]);
  });

  it('refuses --like together with --arch or --size', async () => {
    for (const extra of [['--arch', 'idefics3'], ['--size', 'small']]) {
      const result = await runCli(['fixture', '--like', 'smolvlm-256m', ...extra, '--out', tmpdir()]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('cannot be combined with --arch or --size');
    }
  });
});
