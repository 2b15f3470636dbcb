// Hostile model folders (issue 23): a copy of the tiny fixture with one thing made wrong, drawn
// from a seed. config.json and preprocessor_config.json keys given wrong types, negative, zero,
// huge or fractional numbers, unknown activations, placeholder ids out of range, a context too short;
// tokenizer.json with unknown model types and ids past the vocabulary; chat templates that loop,
// raise, or are not Jinja; safetensors headers and shards truncated or corrupted, wrong dtypes and
// shapes, missing tensors; files missing, empty, folders or symbolic link loops. Each comes with the
// names a refusal must give besides the folder's file: the key or tensor it damaged.
import { fork, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CheckOutcome } from './check-model';
import type { Mention } from './oracle';
import type { FuzzRng } from './rng';

type Json = Record<string, unknown>;
type Path = (string | number)[];

export interface ModelCase {
  description: string;
  /** What a refusal must name besides a file of the folder by its full path (any one of each entry). */
  names: Mention[];
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Json;
const writeJson = (file: string, value: unknown) => writeFileSync(file, JSON.stringify(value, null, 2));

/** Every leaf of a JSON value (numbers, strings, booleans, null, empty containers), by path. */
function leaves(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.length === 0 ? [path] : value.flatMap((v, i) => leaves(v, [...path, i]));
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    return entries.length === 0 ? [path] : entries.flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [path];
}

function getAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
}

function setAt(root: unknown, path: Path, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  if (value === DELETE) {
    if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1);
    else delete parent[path.at(-1)!];
  } else parent[path.at(-1)!] = value;
}

const DELETE = Symbol('delete');

/** What a key's value can be made: its wrong types, and numbers no config means. */
function badValue(rng: FuzzRng, path: Path, current: unknown, vocab: number): [string, unknown] {
  const key = String(path.at(-1));
  if (/_act$/.test(key) && rng.chance(0.6)) return ['an unknown activation', rng.pick(['gelu_bogus', 'swish2', '', 'SILU', 'relu6'])];
  if (/token_(index|id)$/.test(key) && rng.chance(0.7)) {
    const v = rng.pick([-1, vocab, vocab + 1, 2 ** 40, 1.5]);
    return [`token id ${v}`, v];
  }
  if (key === 'max_position_embeddings' && rng.chance(0.6)) {
    const v = rng.int(1, 64);
    return [`a context of ${v}`, v];
  }
  const r = rng.next();
  if (r < 0.12) return ['deleted', DELETE];
  if (r < 0.5) {
    const v = rng.pick([0, -1, -(2 ** 31), 2 ** 31, 1e9, 1e308, 2 ** 53 + 1, 1e-9, 3.7, -0.5]);
    return [`the number ${v}`, v];
  }
  const wrong: [string, unknown][] = [
    ['a string', 'x'], ['a numeric string', typeof current === 'number' ? String(current) : '64'], ['true', true], ['null', null],
    ['a list', [1, 2]], ['an object', { a: 1 }], ['a huge string', 'z'.repeat(100_000)], ['an empty list', []],
  ];
  return rng.pick(wrong);
}

/** The names a refusal about `path` in a JSON file may use: the key, its section, or the whole path. */
function keyNames(path: Path): Mention {
  const keys = path.filter((k): k is string => typeof k === 'string');
  // A size key of the preprocessor may be refused as the frame size it makes.
  const aliases = keys.some((k) => /size|edge/.test(k)) ? ['size', 'max_image_size'] : [];
  return [...new Set([keys.join('.'), ...keys, ...aliases])].filter(Boolean);
}

function mutateJsonKey(rng: FuzzRng, file: string, vocab: number, skip: RegExp = /^$/): ModelCase {
  const json = readJson(file);
  const candidates = leaves(json).filter((p) => p.length > 0 && !skip.test(p.join('.')));
  const path = rng.pick(candidates);
  const [label, value] = badValue(rng, path, getAt(json, path), vocab);
  setAt(json, path, value);
  writeJson(file, json);
  return { description: `${path.join('.')} ${label}`, names: [keyNames(path)] };
}

/** Keys a config may add or replace that change the numerics (rope scaling, biases, windows, head
 *  sizes) or the sections themselves. */
function mutateConfigSection(rng: FuzzRng, file: string, arch: string): ModelCase {
  const json = readJson(file);
  const text = (json.text_config ??= {}) as Json;
  const otherType = rng.pick(['llava_onevision', 'idefics3', 'smolvlm', 'qwen2_vl', 'llava'].filter((t) => t !== json.model_type));
  const edits: [string, () => void, Mention][] = [
    ['rope_scaling linear factor 0', () => void (text.rope_scaling = { type: 'linear', factor: 0 }), ['rope_scaling', 'factor']],
    ['rope_scaling yarn factor 1e308', () => void (text.rope_scaling = { rope_type: 'yarn', factor: 1e308 }), ['rope_scaling', 'factor']],
    ['rope_scaling of an unknown type', () => void (text.rope_scaling = { rope_type: 'bogus', factor: 2 }), ['rope_scaling', 'rope_type']],
    ['rope_scaling a string', () => void (text.rope_scaling = 'x'), ['rope_scaling']],
    ['rope_scaling llama3 with no original context', () => void (text.rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 1, original_max_position_embeddings: 0 }), ['rope_scaling', 'original_max_position_embeddings', 'low_freq_factor', 'high_freq_factor']],
    ['rope_theta 0', () => void (text.rope_theta = 0), ['rope_theta']],
    ['attention_bias true', () => void (text.attention_bias = true), ['attention_bias', 'bias']],
    ['mlp_bias true', () => void (text.mlp_bias = true), ['mlp_bias', 'bias']],
    ['a sliding window of 4', () => void Object.assign(text, { use_sliding_window: true, sliding_window: 4, max_window_layers: 0 }), ['sliding_window', 'use_sliding_window']],
    ['head_dim 7', () => void (text.head_dim = 7), ['head_dim']],
    ['num_key_value_heads 3', () => void (text.num_key_value_heads = 3), ['num_key_value_heads']],
    ['text_config a list', () => void (json.text_config = []), ['text_config']],
    ['vision_config a number', () => void (json.vision_config = 5), ['vision_config']],
    ['text_config null', () => void (json.text_config = null), ['text_config', 'vocab_size', 'token', 'weight']],
    [`model_type ${otherType}`, () => void (json.model_type = otherType), ['model_type', 'weight', 'token', 'text_config', 'vision_config', 'image']],
    ['a quantization_config', () => void (json.quantization_config = { quant_method: 'gptq', bits: 4 }), ['quantization_config']],
    ['tie_word_embeddings in text_config', () => void (text.tie_word_embeddings = true), ['tie_word_embeddings', 'lm_head']],
  ];
  if (arch === 'llava-onevision') edits.push(['vision_feature_layer -100', () => void (json.vision_feature_layer = -100), ['vision_feature_layer']], ['vision_feature_select_strategy default', () => void (json.vision_feature_select_strategy = 'default'), ['vision_feature_select_strategy']]);
  const [label, apply, names] = rng.pick(edits);
  apply();
  writeJson(file, json);
  return { description: label, names: [names] };
}

const loops = [
  ['range(10^8)', '{% for i in range(100000000) %}.{% endfor %}'],
  ['nested loops', '{% for i in range(60000) %}{% for j in range(60000) %}.{% endfor %}{% endfor %}'],
  ['string doubling', "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"],
  ['recursive macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}'],
  ['a wide indent', "{{ 'x' | indent(100000000) }}"],
  ['a long join', "{{ range(60000) | join('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx') }}"],
] as const;

/** A chat template that loops, raises, is not Jinja, or is not a string; written where one of the
 *  three files Hugging Face keeps it in says. */
function mutateTemplate(rng: FuzzRng, dir: string): ModelCase {
  const config = readJson(join(dir, 'tokenizer_config.json'));
  const real = String(config.chat_template);
  const parts = (body: string) => `{% for m in messages %}{{ m['content'][0]['type'] }}${body}{% endfor %}`;
  const r = rng.next();
  let template: unknown;
  let label: string;
  if (r < 0.3) {
    const [name, body] = rng.pick(loops);
    // Before the real template, where every render runs it (a loop over image parts would not).
    [label, template] = [`a template with ${name}`, rng.chance(0.5) ? parts(body) : body + real];
  } else if (r < 0.45) {
    [label, template] = ['raise_exception', `{% if messages %}{{ raise_exception('fuzz says no') }}{% endif %}${real}`];
  } else if (r < 0.65) {
    const at = rng.int(0, real.length - 1);
    [label, template] = [`the real template cut at ${at} of ${real.length}`, real.slice(0, at)];
  } else if (r < 0.85) {
    const at = rng.int(0, real.length);
    const junk = rng.pick(['{%', '{{', '%}', '}}', '{% endfor %}', '{% if %}', '{{ messages[ }}', '{% for %}', '{{ 1 / 0 }}', '{{ undefined_fn() }}', '{% set = %}', '\u0000', '{#']);
    [label, template] = [`${JSON.stringify(junk)} inserted at ${at}`, real.slice(0, at) + junk + real.slice(at)];
  } else {
    [label, template] = rng.pick<[string, unknown]>([['a number', 42], ['a list of nothing', []], ['an object', { a: 1 }], ['null', null], ['an empty string', ''], ['named templates without a default', [{ name: 'tool_use', template: real }]]]);
  }
  const where = rng.pick(['tokenizer_config.json', 'chat_template.jinja', 'chat_template.json'] as const);
  if (where === 'tokenizer_config.json' || typeof template !== 'string') {
    config.chat_template = template;
    writeJson(join(dir, 'tokenizer_config.json'), config);
    return { description: `tokenizer_config.json chat_template: ${label}`, names: [['tokenizer_config.json', 'chat_template']] };
  }
  if (where === 'chat_template.jinja') writeFileSync(join(dir, where), template);
  else writeJson(join(dir, where), { chat_template: template });
  return { description: `${where}: ${label}`, names: [[where]] };
}

/** tokenizer.json: unknown model types, ids past the vocabulary or not ids at all, sections of the wrong kind. */
function mutateTokenizer(rng: FuzzRng, dir: string, vocab: number): ModelCase {
  const file = join(dir, 'tokenizer.json');
  const json = readJson(file) as Json & { model: Json; added_tokens: Json[] };
  const r = rng.next();
  if (r < 0.25) {
    const type = rng.pick(['WordLevel', 'Bogus', '', 'bpe', 42, null]);
    json.model.type = type;
    writeJson(file, json);
    return { description: `model.type ${JSON.stringify(type)}`, names: [['model.type', 'type']] };
  }
  if (r < 0.5) {
    const id = rng.pick([vocab, vocab + 7, 2 ** 31, -1, 1.5, '7', null]);
    const inAdded = rng.chance(0.5);
    if (inAdded) json.added_tokens[rng.int(0, json.added_tokens.length - 1)].id = id;
    else {
      const vocabMap = json.model.vocab as Record<string, unknown>;
      const keys = Object.keys(vocabMap);
      vocabMap[rng.pick(keys)] = id;
    }
    writeJson(file, json);
    return { description: `an id ${JSON.stringify(id)} in ${inAdded ? 'added_tokens' : 'model.vocab'}`, names: [['id', 'vocab', 'added_tokens']] };
  }
  if (r < 0.75) {
    const section = rng.pick(['normalizer', 'pre_tokenizer', 'decoder', 'post_processor', 'model', 'added_tokens', 'model.merges', 'model.vocab'] as const);
    const value = rng.pick<unknown>([{ type: 'Bogus' }, 42, 'x', [], [1, 2], { type: 42 }]);
    if (section.startsWith('model.')) json.model[section.slice(6)] = value;
    else (json as Json)[section] = value;
    writeJson(file, json);
    return { description: `${section} ${JSON.stringify(value)}`, names: [[section, section.split('.').at(-1)!, 'type', 'tokenizer']] };
  }
  const text = readFileSync(file, 'utf8');
  const at = rng.int(0, text.length - 1);
  writeFileSync(file, text.slice(0, at));
  return { description: `tokenizer.json cut at ${at} of ${text.length} characters`, names: [] };
}

interface Header {
  size: number;
  json: Json & Record<string, { dtype: unknown; shape: unknown; data_offsets: unknown }>;
  data: Buffer;
}

function readHeader(file: string): Header {
  const bytes = readFileSync(file);
  const size = Number(bytes.readBigUInt64LE(0));
  return { size, json: JSON.parse(bytes.subarray(8, 8 + size).toString('utf8')) as Header['json'], data: bytes.subarray(8 + size) };
}

function writeHeader(file: string, json: unknown, data: Buffer): void {
  const text = Buffer.from(JSON.stringify(json));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(file, Buffer.concat([head, text, data]));
}

/** model.safetensors: cut, its header's length or text broken, or one tensor's entry changed. */
function mutateSafetensors(rng: FuzzRng, dir: string): ModelCase {
  const file = join(dir, 'model.safetensors');
  const bytes = readFileSync(file);
  const header = readHeader(file);
  const tensors = Object.keys(header.json).filter((k) => k !== '__metadata__');
  const name = rng.pick(tensors);
  const entry = header.json[name];
  const r = rng.next();
  if (r < 0.15) {
    const keep = rng.int(0, bytes.length - 1);
    writeFileSync(file, bytes.subarray(0, keep));
    return { description: `model.safetensors cut to ${keep} of ${bytes.length} bytes`, names: [] };
  }
  if (r < 0.25) {
    const size = rng.pick([0n, 1n, 2n ** 63n, 2n ** 40n, BigInt(bytes.length), BigInt(header.size + 1), BigInt(header.size - 1)]);
    const copy = Buffer.from(bytes);
    copy.writeBigUInt64LE(size);
    writeFileSync(file, copy);
    return { description: `the header length field ${size}`, names: [] };
  }
  if (r < 0.32) {
    const copy = Buffer.from(bytes);
    const at = 8 + rng.int(0, header.size - 1);
    copy.set(rng.bytes(rng.int(1, 16)).subarray(0, Math.max(1, Math.min(16, 8 + header.size - at))), at);
    writeFileSync(file, copy);
    return { description: `random bytes at ${at} in the header`, names: [] };
  }
  let label: string;
  if (r < 0.47) {
    entry.dtype = rng.pick(['F16', 'BF16', 'F64', 'I64', 'I8', 'BOOL', 'U8', 'Q4', 'F8_E4M3', 42, null, 'f32']);
    label = `dtype ${JSON.stringify(entry.dtype)}`;
  } else if (r < 0.62) {
    const shape = entry.shape as number[];
    entry.shape = rng.pick<unknown>([[], [0], [...shape, 1], [...shape].reverse(), shape.map((d) => d * 2), [-1, ...shape.slice(1)], [2 ** 40], [1.5], 'x', null]);
    label = `shape ${JSON.stringify(entry.shape)}`;
  } else if (r < 0.77) {
    const [a, b] = entry.data_offsets as number[];
    entry.data_offsets = rng.pick<unknown>([[b, a], [a, b + 4], [a + header.data.length, b + header.data.length], [a, 2 ** 53], [-4, b], [a + 0.5, b], [a], 'x', null]);
    label = `data_offsets ${JSON.stringify(entry.data_offsets)}`;
  } else if (r < 0.9) {
    delete header.json[name];
    label = 'left out';
  } else {
    (header.json as Json)[rng.pick(['__metadata__', 'extra.weight', name])] = rng.pick<unknown>([42, { format: 7 }, 'x', [1], { dtype: 'F32', shape: [1], data_offsets: [0, 4] }]);
    label = 'an entry of the wrong kind';
  }
  writeHeader(file, header.json, header.data);
  // A tensor left out may show first as the gap its bytes leave, named by the tensor after it.
  return { description: `tensor ${name}: ${label}`, names: [[name, 'extra.weight', '__metadata__', 'header', /tensor '[\w.]+'/]] };
}

/** The weights as a sharded checkpoint (an index and one shard), then the index or the shard broken. */
function mutateShards(rng: FuzzRng, dir: string): ModelCase {
  const shard = 'model-00001-of-00001.safetensors';
  renameSync(join(dir, 'model.safetensors'), join(dir, shard));
  const names = Object.keys(readHeader(join(dir, shard)).json).filter((k) => k !== '__metadata__');
  const weightMap: Record<string, unknown> = Object.fromEntries(names.map((n) => [n, shard]));
  const index = join(dir, 'model.safetensors.index.json');
  const name = rng.pick(names);
  const r = rng.next();
  let label: string;
  if (r < 0.15) {
    rmSync(join(dir, shard));
    label = 'the shard deleted';
  } else if (r < 0.3) {
    weightMap[name] = rng.pick(['model-00002-of-00002.safetensors', '../model.safetensors', '/etc/passwd', '', 42, null]);
    label = `${name} mapped to ${JSON.stringify(weightMap[name])}`;
  } else if (r < 0.45) {
    delete weightMap[name];
    label = `${name} left out of the index`;
  } else if (r < 0.6) {
    weightMap['model.extra.weight'] = shard;
    label = 'a tensor the shard lacks';
  } else if (r < 0.75) {
    writeFileSync(index, rng.pick(['{"weight_map": ', 'null', '[]', '{"weight_map": []}', '{"weight_map": "x"}', '']));
    return { description: 'the index broken', names: [['model.safetensors.index.json']] };
  } else {
    const bytes = readFileSync(join(dir, shard));
    writeFileSync(join(dir, shard), bytes.subarray(0, rng.int(0, bytes.length - 1)));
    label = 'the shard cut short';
  }
  writeJson(index, { metadata: { total_size: 1 }, weight_map: weightMap });
  return { description: `sharded: ${label}`, names: [[name, 'model.extra.weight', shard, 'model.safetensors.index.json']] };
}

/** Whole files: missing, empty, a folder, a link loop, not UTF-8, a BOM, not an object. */
function mutateFile(rng: FuzzRng, dir: string): ModelCase {
  const name = rng.pick(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'model.safetensors', 'generation_config.json']);
  const file = join(dir, name);
  const how = rng.pick(['deleted', 'empty', 'a folder', 'a symlink loop', 'a dangling symlink', 'not UTF-8', 'with a BOM', 'a JSON list', 'null', 'NUL bytes'] as const);
  const text = readFileSync(file);
  rmSync(file);
  switch (how) {
    case 'deleted': break;
    case 'empty': writeFileSync(file, ''); break;
    case 'a folder': mkdirSync(file); break;
    case 'a symlink loop': symlinkSync(file, file); break;
    case 'a dangling symlink': symlinkSync(join(dir, 'nowhere'), file); break;
    case 'not UTF-8': writeFileSync(file, Buffer.concat([text.subarray(0, 20), Buffer.from([0xff, 0xfe, 0xe9]), text.subarray(20)])); break;
    case 'with a BOM': writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text])); break;
    case 'a JSON list': writeFileSync(file, '[1, 2, 3]'); break;
    case 'null': writeFileSync(file, 'null'); break;
    case 'NUL bytes': writeFileSync(file, Buffer.alloc(rng.int(1, 512))); break;
  }
  return { description: `${name} ${how}`, names: [] };
}

export const modelMutations = ['config.json', 'config.json sections', 'config.json, several keys', 'preprocessor_config.json', 'tokenizer.json', 'chat template', 'model.safetensors', 'shards', 'files'] as const;
export type ModelMutation = (typeof modelMutations)[number];

/** Copies the fixture `base` to `dir` and breaks one thing of it. */
export function hostileFolder(kind: ModelMutation, rng: FuzzRng, base: string, dir: string, arch = ''): ModelCase {
  cpSync(base, dir, { recursive: true });
  const vocab = (readJson(join(dir, 'config.json')).text_config as Json).vocab_size as number;
  switch (kind) {
    case 'config.json': return mutateJsonKey(rng, join(dir, 'config.json'), vocab, /^architectures/);
    case 'config.json sections': return mutateConfigSection(rng, join(dir, 'config.json'), arch);
    case 'config.json, several keys': {
      // Refused naming any one of them.
      const cases = Array.from({ length: rng.int(2, 4) }, () => mutateJsonKey(rng, join(dir, 'config.json'), vocab, /^architectures/));
      return { description: cases.map((c) => c.description).join('; '), names: [cases.flatMap((c) => c.names.flatMap((n) => (typeof n === 'string' || n instanceof RegExp ? [n] : [...n])))] };
    }
    case 'preprocessor_config.json': return mutateJsonKey(rng, join(dir, 'preprocessor_config.json'), vocab);
    case 'tokenizer.json': return mutateTokenizer(rng, dir, vocab);
    case 'chat template': return mutateTemplate(rng, dir);
    case 'model.safetensors': return mutateSafetensors(rng, dir);
    case 'shards': return mutateShards(rng, dir);
    case 'files': return mutateFile(rng, dir);
  }
}

const childEntry = fileURLToPath(new URL('./check-model.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** VideoLanguageModel.check in a child process: a case past its bound is killed, not waited for. */
export class ModelChecker {
  private child: ChildProcess | null = null;
  private next = 0;
  private stderr = '';

  private start(): ChildProcess {
    this.stderr = '';
    const child = fork(childEntry, [], { execArgv: ['--import', tsxLoader, '--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    child.stderr?.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    child.on('exit', () => {
      if (this.child === child) this.child = null;
    });
    return child;
  }

  /** The check's outcome for `dir`; with `use`, a folder it accepts is loaded and answers too. */
  check(dir: string, boundMs: number, use = false): Promise<CheckOutcome | { hang: string }> {
    const child = (this.child ??= this.start());
    const id = this.next++;
    return new Promise((resolve) => {
      const done = (value: CheckOutcome | { hang: string }) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(value);
      };
      const onMessage = (m: { id: number; outcome: CheckOutcome }) => {
        if (m.id === id) done(m.outcome);
      };
      const onExit = (code: number | null, signal: string | null) => done({ hang: `the checking process ended (code ${code}, signal ${signal}): ${this.stderr.trim().split('\n').slice(-5).join(' | ')}` });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done({ hang: `no outcome within ${boundMs} ms` });
      }, boundMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ id, dir, use });
    });
  }

  close(): void {
    this.child?.kill();
    this.child = null;
  }
}
