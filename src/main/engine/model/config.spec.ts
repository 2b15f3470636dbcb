import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointPreset } from './checkpoint-presets';
import { readModelConfig } from './config';
import type { Idefics3Config, LlavaOnevisionConfig } from './families';

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
    expect(c.text).toMatchObject({ modelType: 'qwen2', numHeads: 14, numKvHeads: 2, headDim: 64, rope: { theta: 1e6, dim: 64, scaling: { type: 'default' } }, qkvBias: true, outputBias: false, tieWordEmbeddings: true });
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
    expect(() => readModelConfig(folder({ ...onevision, text_config: { ...onevision.text_config, hidden_size: 'wide' } }))).toThrow(/config\.json: "text_config\.hidden_size" must be a positive integer; got "wide"/);
    expect(() => readModelConfig(folder({ ...smolvlm, scale_factor: 'two' }))).toThrow(/"scale_factor" must be a positive integer; got "two"/);
    expect(() => readModelConfig(folder({ ...smolvlm, vision_config: { ...smolvlm.vision_config, hidden_act: 'bogus' } }))).toThrow(/"vision_config\.hidden_act" must be one of/);
    expect(() => readModelConfig(folder({ ...onevision, text_config: { ...onevision.text_config, num_key_value_heads: 3 } }))).toThrow(/config\.json: num_attention_heads \(14\) must be a multiple of num_key_value_heads \(3\)/);
    expect(() => readModelConfig(folder('{'))).toThrow(/config\.json is not valid JSON/);
  });

  it('reads SmolVLM2-256M-Video-Instruct\'s published config, which leaves vision layers and MLP size to SmolVLMVisionConfig (12, 3072)', () => {
    const c = readModelConfig(folder(checkpointPreset('smolvlm2-256m-video').files['config.json'])) as Idefics3Config;
    expect(c).toMatchObject({ arch: 'smolvlm', scaleFactor: 4, imageTokenId: 49190 });
    expect(c.vision).toMatchObject({ numLayers: 12, intermediateSize: 3072, hiddenSize: 768, patchSize: 16, imageSize: 512, hiddenAct: 'gelu_pytorch_tanh', layerNormEps: 1e-6 });
    expect(c.text).toMatchObject({ numLayers: 30, hiddenSize: 576, maxPositionEmbeddings: 8192, mlpBias: false, hiddenAct: 'silu' });
  });

  // The defaults of transformers' configuration classes, as their __init__ signatures give them.
  it('gives every key a config leaves out its class\'s default, whole sections included', () => {
    const ov = readModelConfig(folder({ model_type: 'llava_onevision' })) as LlavaOnevisionConfig;
    // LlavaOnevisionConfig without vision_config: SiglipVisionConfig(hidden 1024, MLP 4096, patch 14, 336, 24 layers, 16 heads).
    expect(ov.vision).toEqual({ hiddenSize: 1024, intermediateSize: 4096, patchSize: 14, imageSize: 336, numLayers: 24, numHeads: 16, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' });
    // Qwen2Config(): num_key_value_heads defaults to 32, not to the head count.
    expect(ov.text).toEqual({
      modelType: 'qwen2', hiddenSize: 4096, intermediateSize: 22016, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128, hiddenAct: 'silu',
      rmsNormEps: 1e-6, rope: { theta: 10000, dim: 128, scaling: { type: 'default' } }, maxPositionEmbeddings: 32768, vocabSize: 151936,
      tieWordEmbeddings: false, qkvBias: true, outputBias: false, mlpBias: false,
    });
    expect(ov).toMatchObject({ imageTokenId: 151646, videoTokenId: 151647, visionFeatureLayer: -1, visionFeatureSelectStrategy: 'full', projectorHiddenAct: 'gelu', projectorBias: true });
    // A vision_config given with few keys takes SiglipVisionConfig's own defaults (768, 12 layers, 224 / 16).
    const sparse = readModelConfig(folder({ model_type: 'llava_onevision', vision_config: { model_type: 'siglip_vision_model', hidden_act: 'gelu' } })) as LlavaOnevisionConfig;
    expect(sparse.vision).toEqual({ hiddenSize: 768, intermediateSize: 3072, patchSize: 16, imageSize: 224, numLayers: 12, numHeads: 12, layerNormEps: 1e-6, hiddenAct: 'gelu' });

    // Idefics3Config's own defaults disagree: image_token_id 128257 is past LlamaConfig's 32000 tokens, so a
    // config leaving both out is refused; the defaults are read with the token id set.
    expect(() => readModelConfig(folder({ model_type: 'idefics3' }))).toThrow(/config\.json: "image_token_id" 128257 is not a token id of the model, whose text_config\.vocab_size is 32000/);
    expect(readModelConfig(folder({ model_type: 'idefics3', text_config: { vocab_size: 128259 } }))).toMatchObject({ imageTokenId: 128257 });
    const idefics = readModelConfig(folder({ model_type: 'idefics3', image_token_id: 31999 })) as Idefics3Config;
    expect(idefics.vision).toEqual({ hiddenSize: 1152, intermediateSize: 3072, patchSize: 32, imageSize: 224, numLayers: 12, numHeads: 16, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' });
    // Idefics3Config without text_config: LlamaConfig(rms_norm_eps=1e-5); LlamaConfig's num_key_value_heads is the head count.
    expect(idefics.text).toMatchObject({ modelType: 'llama', hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numKvHeads: 32, rmsNormEps: 1e-5, maxPositionEmbeddings: 2048, vocabSize: 32000, qkvBias: false, mlpBias: false });
    expect(idefics).toMatchObject({ scaleFactor: 2 });
    // null is None: the head count for num_key_value_heads, hidden / heads for head_dim.
    const nulls = readModelConfig(folder({ ...onevision, text_config: { ...onevision.text_config, num_key_value_heads: null, head_dim: null } }));
    expect(nulls.text).toMatchObject({ numKvHeads: 14, headDim: 64 });
  });

  it('reads the keys that change the numerics, and refuses values it does not implement, naming the file and the key', () => {
    const llama = { ...smolvlm, text_config: { ...smolvlm.text_config, mlp_bias: true, attention_bias: true, hidden_act: 'gelu', rope_scaling: { rope_type: 'linear', factor: 2.0 } } };
    expect(readModelConfig(folder(llama)).text).toMatchObject({ mlpBias: true, qkvBias: true, outputBias: true, hiddenAct: 'gelu', rope: { scaling: { type: 'linear', factor: 2 } } });
    const projector = readModelConfig(folder({ ...onevision, projector_hidden_act: 'gelu_pytorch_tanh', multimodal_projector_bias: false })) as LlavaOnevisionConfig;
    expect(projector).toMatchObject({ projectorHiddenAct: 'gelu_pytorch_tanh', projectorBias: false });
    const refused: [unknown, RegExp][] = [
      [{ ...onevision, projector_hidden_act: 'bogus' }, /config\.json: "projector_hidden_act" must be one of "gelu", .*; got "bogus"/],
      [{ ...onevision, text_config: { ...onevision.text_config, hidden_act: 'bogus' } }, /"text_config\.hidden_act" must be one of/],
      [{ ...onevision, text_config: { ...onevision.text_config, use_sliding_window: true } }, /config\.json: "text_config\.use_sliding_window" true is not supported/],
      [{ ...onevision, text_config: { ...onevision.text_config, rope_scaling: { type: 'longrope' } } }, /"text_config\.rope_scaling\.type" must be one of "default", "linear", "dynamic", "yarn", "llama3"; got "longrope"/],
      [{ ...onevision, vision_config: { ...onevision.vision_config, num_channels: 1 } }, /config\.json: "vision_config\.num_channels" 1 is not supported \(frames are decoded as RGB\)/],
      [{ ...onevision, vision_config: { ...onevision.vision_config, model_type: 'clip_vision_model' } }, /"vision_config\.model_type" must be one of "siglip_vision_model"; got "clip_vision_model"/],
      [{ ...smolvlm, text_config: { ...smolvlm.text_config, model_type: 'mistral' } }, /"text_config\.model_type" must be one of "llama"; got "mistral"/],
    ];
    for (const [config, message] of refused) expect(() => readModelConfig(folder(config))).toThrow(message);
  });
});
