// Model folders the studio writes itself, for tests, benchmarks and the demo: seeded random
// weights in exactly the layout and under exactly the names a published checkpoint of the family
// has (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
// preprocessor_config.json), so the real loading code is what runs on them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { float32ToBF16Bits, float32ToF16Bits } from '../graph/half-float';
import { shardLayout, writeCheckpoint, writeCheckpointStream, type TensorSpec, type TensorToWrite } from '../graph/safetensors';
import { Rng } from '../generate/sampling';
import { byteLevelTokenizerJson, trainByteLevelBpe } from './byte-level-bpe';
import { checkpointPreset, type CheckpointPreset } from './checkpoint-presets';
import { readModelConfig, type ModelConfig } from './config';
import { familyById, fixtureFamilyIds, type FixturePreset } from './families';
import { fixtureTokenizer } from './fixture-tokenizer';
import { expectedWeights } from './weights';

/** The families with a fixture preset (families/): the CLI's --arch choices. */
export const fixtureArchs = fixtureFamilyIds;
/** A family id (ModelFamily.id) whose module has a fixture preset. */
export type FixtureArch = string;
export const fixtureSizes = ['tiny', 'demo', 'small'] as const;
export type FixtureSize = (typeof fixtureSizes)[number];

interface Dims {
  vision: { hidden: number; layers: number; heads: number; intermediate: number; image: number; patch: number };
  text: { hidden: number; layers: number; heads: number; kvHeads: number; intermediate: number };
  bpeVocab: number;
}

// tiny: a test suite runs it in milliseconds. demo: the offline demo's judge, a decoder of 4 x 256
// whose update costs a fraction of a CPU-second (docs/experiments/README.md), over small's vision
// tower. small: ~30M parameters, for benchmarks.
const dims: Record<FixtureSize, Dims> = {
  tiny: {
    vision: { hidden: 32, layers: 2, heads: 2, intermediate: 64, image: 32, patch: 8 },
    text: { hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128 },
    bpeVocab: 400,
  },
  demo: {
    vision: { hidden: 256, layers: 4, heads: 4, intermediate: 1024, image: 64, patch: 8 },
    text: { hidden: 256, layers: 4, heads: 4, kvHeads: 2, intermediate: 704 },
    bpeVocab: 1000,
  },
  small: {
    vision: { hidden: 256, layers: 4, heads: 4, intermediate: 1024, image: 64, patch: 8 },
    text: { hidden: 512, layers: 8, heads: 8, kvHeads: 4, intermediate: 1408 },
    bpeVocab: 1000,
  },
};

/** config.json: the sections every family shares, from `d`; the rest is the family's preset. */
function configJson(preset: FixturePreset, modelType: string, d: Dims, vocabSize: number, idOf: (token: string) => number): Record<string, unknown> {
  const vision = {
    hidden_size: d.vision.hidden,
    image_size: d.vision.image,
    patch_size: d.vision.patch,
    num_hidden_layers: d.vision.layers,
    num_attention_heads: d.vision.heads,
    intermediate_size: d.vision.intermediate,
    layer_norm_eps: 1e-6,
    hidden_act: 'gelu_pytorch_tanh',
    num_channels: 3,
  };
  const text = {
    hidden_size: d.text.hidden,
    num_hidden_layers: d.text.layers,
    num_attention_heads: d.text.heads,
    num_key_value_heads: d.text.kvHeads,
    intermediate_size: d.text.intermediate,
    rms_norm_eps: 1e-6,
    vocab_size: vocabSize,
    max_position_embeddings: 4096,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    torch_dtype: 'float32',
  };
  return preset.configJson({ vision, text }, idOf, modelType);
}

/** preprocessor_config.json: the family's published one (its resample filter, rescale and
 *  normalisation), its sizes set for frames of `image` pixels a side. */
function preprocessorJson(preset: FixturePreset, image: number): Record<string, unknown> {
  return preset.preprocessorJson(checkpointPreset(preset.processorFrom).files['preprocessor_config.json'], image);
}

/** Standard normal draws from the seeded generator (Box-Muller). */
function normals(rng: Rng, n: number, std: number, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const a = 2 * Math.PI * rng.next();
    out[i] = mean + std * r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(a);
  }
  return out;
}

/** Random weights a trained model would not be far from: norms near 1, small biases, matrices with
 *  std 1/sqrt(fan_in) so activations keep their scale through the layers. */
function randomWeight(name: string, shape: number[], rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (/(norm|layernorm)[^.]*\.weight$|layer_norm\d\.weight$/.test(name)) return normals(rng, n, 0.1, 1);
  if (name.endsWith('.bias') || name === 'image_newline') return normals(rng, n, 0.02);
  if (name.includes('embed_tokens') || name.includes('position_embedding')) return normals(rng, n, 0.5);
  const fanIn = n / shape[0];
  return normals(rng, n, 1 / Math.sqrt(fanIn));
}

export interface FixtureOptions {
  arch: FixtureArch;
  size: FixtureSize;
  seed: number;
  /** Text the tokenizer's vocabulary is learned from: the words the demo data and prompts use. */
  corpus: string[];
}

/** Writes the model folder and returns its config as the studio reads it, and its parameter count. */
export function writeFixture(dir: string, options: FixtureOptions): { config: ModelConfig; parameters: number } {
  const d = dims[options.size];
  const family = familyById(options.arch);
  const preset = family.fixture;
  if (preset === null) throw new Error(`the ${family.id} family has no fixture preset, so no fixture folder of it can be written`);
  const style = preset.tokenizerStyle;
  const tokenizer = fixtureTokenizer(options.corpus, d.bpeVocab, style);
  const added = tokenizer['tokenizer.json'].added_tokens as { id: number; content: string }[];
  const idOf = (t: string) => added.find((a) => a.content === t)!.id;
  const vocabSize = Math.max(...added.map((a) => a.id)) + 1;
  mkdirSync(dir, { recursive: true });
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', configJson(preset, family.modelTypes[0], d, vocabSize, idOf));
  json('tokenizer.json', tokenizer['tokenizer.json']);
  json('tokenizer_config.json', tokenizer['tokenizer_config.json']);
  json('preprocessor_config.json', preprocessorJson(preset, d.vision.image));
  json('generation_config.json', { eos_token_id: idOf(style.eos), pad_token_id: idOf(style.pad) });

  const config = readModelConfig(dir);
  const rng = new Rng(options.seed);
  const tensors: Record<string, TensorToWrite> = {};
  let parameters = 0;
  for (const [name, shape] of expectedWeights(config)) {
    tensors[name] = { dtype: 'F32', shape, data: randomWeight(name, shape, rng) };
    parameters += shape.reduce((a, b) => a * b, 1);
  }
  writeCheckpoint(dir, tensors, { metadata: { format: 'pt' } });
  return { config, parameters };
}

// ---- stand-ins of published checkpoints (checkpoint-presets.ts) ------------------------------------

export interface CheckpointFixtureOptions {
  /** A checkpoint preset id (checkpointPresetIds). */
  like: string;
  seed: number;
  /** Text the ordinary vocabulary's BPE is learned from. */
  corpus: string[];
  /** Sets both towers' num_hidden_layers (adding the key where the published config leaves it to its
   *  default): the same files and vocabulary at a fraction of the size, for tests. */
  layers?: number;
  /** save_pretrained's max_shard_size, in bytes; the published layout when absent. */
  maxShardBytes?: number;
}

// Tokens learned from the corpus before filler takes the remaining ids (the corpus runs out first).
const presetBpeTokens = 4000;
// Filler pieces have their own seed: the weights' seed does not change the vocabulary.
const fillerSeed = 7;

type Json = Record<string, unknown>;

/** tokenizer.json and tokenizer_config.json with every added token at its published id, a BPE learned
 *  from `corpus` at the lowest free ids, and at every other id below `vocabSize` a filler word piece
 *  made by one more merge of two letter tokens (as a real vocabulary's later merges are), so each id
 *  the embedding has is a token, and text a random model samples encodes back to about as many
 *  tokens as it was sampled in (what a round re-encodes when it judges and trains on responses). */
function presetTokenizer(preset: CheckpointPreset, corpus: string[], vocabSize: number): { json: Json; config: Json } {
  const { added, modelVocab, pipeline, config } = preset.tokenizer;
  const byId = new Map(added.map((t) => [t.id, t.content]));
  const bpe = trainByteLevelBpe(corpus, presetBpeTokens);
  const vocab: Record<string, number> = {};
  for (const t of added) if (t.id < modelVocab) vocab[t.content] = t.id;
  let next = 0;
  const free = () => {
    while (byId.has(next)) next++;
    return next++;
  };
  for (const token of Object.entries(bpe.vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t)) {
    if (token in vocab) throw new Error(`the learned token ${JSON.stringify(token)} is also a special token of ${preset.repo}`);
    vocab[token] = free();
  }
  const merges = [...bpe.merges];
  // A head of up to 8 characters (a word's start, Ġ for its space, or not) and a tail of up to 4 (no
  // space): every piece stays within a real word piece's length, so picks rarely need redrawing.
  const letters = Object.keys(vocab).filter((t) => /^Ġ?[A-Za-z]+$/.test(t));
  const heads = letters.filter((t) => t.length <= 8);
  const tails = letters.filter((t) => !t.startsWith('Ġ') && t.length <= 4);
  const rng = new Rng(fillerSeed);
  const pick = (from: string[]) => from[Math.floor(rng.next() * from.length)];
  for (let id = free(); id < vocabSize; id = free()) {
    let parts: [string, string];
    do parts = [pick(heads), pick(tails)];
    while (parts.join('') in vocab);
    const piece = parts.join('');
    vocab[piece] = id;
    merges.push(parts.join(' '));
    if (piece.length <= 8) heads.push(piece);
    if (!piece.startsWith('Ġ') && piece.length <= 4) tails.push(piece);
  }
  const json = byteLevelTokenizerJson({ vocab, merges }, []);
  const flags = { lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  json.added_tokens = added.map(({ id, content }) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  if (pipeline) Object.assign(json, pipeline);
  const decoder = Object.fromEntries(added.map(({ id, content }) => [String(id), { content, ...flags }]));
  return { json, config: { ...config, added_tokens_decoder: decoder } };
}

/** config.json with both towers' layer counts set to `layers`, nothing else changed. */
function withLayers(config: Json, layers: number): Json {
  const copy = structuredClone(config);
  for (const section of ['text_config', 'vision_config']) (copy[section] as Json).num_hidden_layers = layers;
  return copy;
}

const toDtype = { BF16: float32ToBF16Bits, F16: float32ToF16Bits } as const;

/**
 * Writes a stand-in of a published checkpoint: its files as published (checkpoint-presets.ts), a
 * tokenizer the full vocab_size large with the special tokens at their ids, and seeded random
 * weights (drawn as writeFixture draws them) in the published dtype and shard layout, streamed one
 * tensor at a time. Returns the config as the studio reads it, the weights' dtype and the parameter count.
 */
export function writeCheckpointFixture(dir: string, options: CheckpointFixtureOptions): { config: ModelConfig; dtype: 'BF16' | 'F16'; parameters: number } {
  const preset = checkpointPreset(options.like);
  const published = preset.files['config.json'];
  const configJson = options.layers === undefined ? published : withLayers(published, options.layers);
  const vocabSize = (published.text_config as { vocab_size: number }).vocab_size;
  mkdirSync(dir, { recursive: true });
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  for (const [name, value] of Object.entries({ ...preset.files, 'config.json': configJson })) json(name, value);
  const template = preset.chatTemplate;
  if (template.file === 'chat_template.json') json(template.file, { chat_template: template.text });
  else writeFileSync(join(dir, template.file), template.text);
  const tokenizer = presetTokenizer(preset, options.corpus, vocabSize);
  json('tokenizer.json', tokenizer.json);
  json('tokenizer_config.json', tokenizer.config);

  const config = readModelConfig(dir);
  const shapes = expectedWeights(config);
  const dtype = preset.weights.dtype;
  const specs: TensorSpec[] = [...shapes].map(([name, shape]) => ({ name, dtype, shape }));
  const layout = shardLayout(specs, options.maxShardBytes);
  const publishedShards = preset.weights.shards;
  if (publishedShards !== null && options.maxShardBytes === undefined && options.layers === undefined) {
    const files = layout.shards.map((s) => s.file);
    if (files.join() !== publishedShards.join()) throw new Error(`${preset.id}: the weights lay out as ${files.join(', ')}, not as ${preset.repo} publishes them (${publishedShards.join(', ')})`);
  }
  const rng = new Rng(options.seed);
  function* tensors() {
    for (const [name, shape] of shapes) yield { name, data: toDtype[dtype](randomWeight(name, shape, rng)) };
  }
  writeCheckpointStream(dir, layout, tensors(), { metadata: { format: 'pt' } });
  return { config, dtype, parameters: specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0) };
}

export { checkpointPresetIds } from './checkpoint-presets';
