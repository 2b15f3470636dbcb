import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelConfig } from './config';
import type { LlavaOnevisionConfig } from './families';

const folder = (config: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), 'isr-cfg-'));
  writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
};

// The shape of llava-hf/llava-onevision-qwen2-0.5b-ov-hf's config, trimmed to the keys that matter.
const onevision = {
  model_type: 'llava_onevision',
  image_token_index: 151646,
  video_token_index: 151647,
  vision_feature_layer: -1,
  vision_feature_select_strategy: 'full',
  text_config: {
    model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14, num_key_value_heads: 2,
    num_hidden_layers: 24, rms_norm_eps: 1e-6, rope_theta: 1000000, vocab_size: 152000, tie_word_embeddings: true,
  },
  vision_config: {
    model_type: 'siglip_vision_model', hidden_size: 1152, image_size: 384, intermediate_size: 4304,
    num_attention_heads: 16, num_hidden_layers: 26, patch_size: 14, layer_norm_eps: 1e-6,
  },
};

// The shape of HuggingFaceTB/SmolVLM-256M-Instruct's config.
const smolvlm = {
  model_type: 'smolvlm',
  image_token_id: 49190,
  scale_factor: 4,
  text_config: {
    model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_attention_heads: 9, num_key_value_heads: 3,
    num_hidden_layers: 30, rms_norm_eps: 1e-5, rope_theta: 100000, vocab_size: 49280,
  },
  vision_config: { hidden_size: 768, image_size: 512, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, patch_size: 16 },
};

describe('readModelConfig', () => {
  it('reads LLaVA-OneVision with its Qwen2 decoder (q/k/v biases, GQA, RoPE theta from the config)', () => {
    const c = readModelConfig(folder(onevision)) as LlavaOnevisionConfig;
    expect(c.arch).toBe('llava-onevision');
    expect(c.text).toMatchObject({ modelType: 'qwen2', numHeads: 14, numKvHeads: 2, headDim: 64, ropeTheta: 1e6, qkvBias: true, outputBias: false, tieWordEmbeddings: true });
    expect(c.vision).toMatchObject({ hiddenSize: 1152, imageSize: 384, patchSize: 14, hiddenAct: 'gelu_pytorch_tanh' });
    expect([c.imageTokenId, c.videoTokenId, c.visionFeatureLayer]).toEqual([151646, 151647, -1]);
  });

  it('reads SmolVLM2 (model_type smolvlm) as its own family over Idefics3, with its Llama decoder and pixel-shuffle factor', () => {
    const c = readModelConfig(folder(smolvlm));
    expect(c).toMatchObject({ arch: 'smolvlm', modelType: 'smolvlm', scaleFactor: 4, imageTokenId: 49190 });
    expect(c.text).toMatchObject({ modelType: 'llama', headDim: 64, qkvBias: false, tieWordEmbeddings: false, rmsNormEps: 1e-5 });
  });

  it('names the file and the key at fault', () => {
    expect(() => readModelConfig(folder({ ...onevision, model_type: 'mllama' }))).toThrow(/config\.json: unsupported model_type "mllama"/);
    const { hidden_size: _, ...noHidden } = onevision.text_config;
    expect(() => readModelConfig(folder({ ...onevision, text_config: noHidden }))).toThrow(/config\.json: "text_config\.hidden_size" must be a positive integer; it is missing/);
    expect(() => readModelConfig(folder({ ...smolvlm, scale_factor: 'two' }))).toThrow(/"scale_factor" must be a positive integer; got "two"/);
    expect(() => readModelConfig(folder({ ...smolvlm, vision_config: { ...smolvlm.vision_config, hidden_act: 'relu' } }))).toThrow(/"vision_config\.hidden_act" must be one of/);
    expect(() => readModelConfig(folder({ ...onevision, text_config: { ...onevision.text_config, num_key_value_heads: 3 } }))).toThrow(/config\.json: num_attention_heads \(14\) must be a multiple of num_key_value_heads \(3\)/);
    expect(() => readModelConfig(folder('{'))).toThrow(/cannot read .*config\.json/);
  });
});
