import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint, writeCheckpoint, type TensorToWrite } from '../graph/safetensors';
import { writeFixture } from './fixture';
import { openWeights } from './weights';

/** A tiny fixture folder whose checkpoint also holds `extra` (F32 vectors of 4). */
function withExtra(extra: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'isr-weights-'));
  const { config } = writeFixture(dir, { arch: 'llava-onevision', size: 'tiny', seed: 4, corpus: ['a b c'] });
  const source = openCheckpoint(dir);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of source.names()) {
    const { dtype, shape } = source.info(name);
    tensors[name] = { dtype, shape, data: source.read(name) };
  }
  source.close();
  for (const name of extra) tensors[name] = { dtype: 'F32', shape: [4], data: new Float32Array(4).fill(1) };
  writeCheckpoint(dir, tensors, { metadata: { format: 'pt' } });
  return { dir, config };
}

describe('openWeights', () => {
  it('refuses a weight the config\'s model does not have, naming it and the config', () => {
    const { dir, config } = withExtra(['language_model.model.layers.0.mlp.gate_proj.bias', 'multi_modal_projector.linear_3.weight']);
    expect(() => openWeights(dir, config)).toThrow(`${dir}: weight "language_model.model.layers.0.mlp.gate_proj.bias" and 1 more is not part of the model config.json describes (${join(dir, 'config.json')})`);
  });

  it('skips what transformers\' model classes hold but no output reads: rotary inv_freq buffers and SigLIP\'s pooling head', () => {
    const { dir, config } = withExtra(['language_model.model.layers.0.self_attn.rotary_emb.inv_freq', 'vision_tower.vision_model.head.probe']);
    const weights = openWeights(dir, config);
    expect(weights.shapes.has('vision_tower.vision_model.head.probe')).toBe(false);
    weights.close();
  });
});
