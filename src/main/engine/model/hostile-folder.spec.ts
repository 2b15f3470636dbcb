// Hostile and garbage model folders (issue 23): each is refused when the folder is checked, before
// any session is built, with one line naming the file and the key; a chat template or a config that
// would run for minutes fails within a bound (the tests' timeouts).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../shared/errors';
import { readModelConfig } from './config';
import { familyById } from './families';
import { fixtureArchs, writeFixture } from './fixture';
import { buildPrompt } from './prompt';
import { ModelTokenizer, userTurn } from './tokenizer';
import { VideoLanguageModel } from './vlm';

type Json = Record<string, unknown> & { text_config: Json; vision_config: Json; model: Json; added_tokens: Record<string, unknown>[] };

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'Describe the video.'];
const clip = (n: number) => ({ frames: n, timesS: Array.from({ length: n }, (_, i) => i), durationS: n });
/** A template that reads its content as parts (as the families' do) and then runs `body` once per message. */
const partsTemplate = (body: string) => `{% for m in messages %}{{ m['content'][0]['type'] }}${body}{% endfor %}`;

/** The message of the one-line bad_input ApiError that checking `dir` throws. */
function refusalOf(dir: string): string {
  let caught: unknown = null;
  try {
    VideoLanguageModel.check(dir);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ApiError);
  expect((caught as ApiError).code).toBe('bad_input');
  const { message } = caught as ApiError;
  expect(message).not.toMatch(/\n/);
  return message;
}

describe.each(fixtureArchs)('%s model folder', (arch) => {
  const family = familyById(arch);
  let base: string;
  const made: string[] = [];
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
    writeFixture(base, { arch, size: 'tiny', seed: 7, corpus });
  });
  afterAll(() => {
    for (const dir of [base, ...made]) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the fixture folder with `file` (JSON) changed by `edit`, or written as `edit` gives it. */
  function variant(file: string, edit: ((json: Json) => void) | string): string {
    const dir = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
    made.push(dir);
    cpSync(base, dir, { recursive: true });
    if (typeof edit === 'string') {
      writeFileSync(join(dir, file), edit);
    } else {
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json;
      edit(json);
      writeFileSync(join(dir, file), JSON.stringify(json));
    }
    return dir;
  }

  /** The error checking `dir` throws: a one-line bad_input ApiError naming `file` (its full path) and matching `message`. */
  function expectRefused(dir: string, file: string, message: RegExp | string): void {
    const text = refusalOf(dir);
    expect(text).toContain(join(dir, file));
    if (typeof message === 'string') expect(text).toContain(message);
    else expect(text).toMatch(message);
  }

  const withTemplate = (template: string) => variant('tokenizer_config.json', (j) => {
    j.chat_template = template;
  });

  it('refuses a chat template looping 10^8 times at once, naming chat_template.jinja', { timeout: 5_000 }, () => {
    const dir = variant('chat_template.jinja', partsTemplate('{% for i in range(100000000) %}.{% endfor %}'));
    expectRefused(dir, 'chat_template.jinja', /chat_template\.jinja: the chat template went past a rendering limit on a chat of \d message\(s\) \(.*\): range\(\) of 100,000,000 items \(at most 65,536\)$/);
  });

  it('refuses a template whose nested loops would run 3.6 * 10^9 times, naming tokenizer_config.json', { timeout: 10_000 }, () => {
    const dir = withTemplate(partsTemplate('{% for i in range(60000) %}{% for j in range(60000) %}.{% endfor %}{% endfor %}'));
    expectRefused(dir, 'tokenizer_config.json', /tokenizer_config\.json: the chat template went past a rendering limit on .*: more than (200,000 steps|2 s)$/);
  });

  it('refuses a template that doubles a string 64 times before it takes the memory', { timeout: 5_000 }, () => {
    const dir = withTemplate(partsTemplate("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"));
    expectRefused(dir, 'tokenizer_config.json', /the chat template went past a rendering limit on .*: a string of 2,097,152 characters \(at most 1,048,576\)$/);
  });

  it("gives a template's raise_exception as its message, naming chat_template.json", () => {
    const dir = variant('chat_template.json', JSON.stringify({ chat_template: partsTemplate("{{ raise_exception('nope') }}") }));
    expectRefused(dir, 'chat_template.json', new RegExp(`^${join(dir, 'chat_template.json')}: the chat template raised an error: nope$`));
  });

  it('refuses num_hidden_layers 1000000 (text and vision) in well under a second, from the weights\' names', { timeout: 5_000 }, () => {
    const text = variant('config.json', (j) => {
      j.text_config.num_hidden_layers = 1_000_000;
    });
    expectRefused(text, 'config.json', `config.json: text_config.num_hidden_layers is 1000000 but the weights hold layers 0..1 (${family.textPrefix}layers.N)`);
    const vision = variant('config.json', (j) => {
      j.vision_config.num_hidden_layers = 1_000_000;
    });
    expectRefused(vision, 'config.json', `config.json: vision_config.num_hidden_layers is 1000000 but the weights hold layers 0..1 (${family.visionPrefix}encoder.layers.N)`);
  });

  it("checks config.json's sizes against the weights' shapes, naming the key, its value and what the weights hold", () => {
    const sizes: [(j: Json) => void, RegExp][] = [
      [(j) => void (j.text_config.vocab_size = 1_000_000_000), /config\.json: text_config\.vocab_size is 1000000000 but the weights hold \d+ \(.*embed_tokens\.weight is \[\d+, 64\]\)$/],
      [(j) => void (j.text_config.hidden_size = 128), /config\.json: text_config\.hidden_size is 128 but the weights hold 64 \(.*embed_tokens\.weight is \[\d+, 64\]\)$/],
      [(j) => void (j.text_config.intermediate_size = 1_000_000), /config\.json: text_config\.intermediate_size is 1000000 but the weights hold 128 \(.*layers\.0\.mlp\.gate_proj\.weight is \[128, 64\]\)$/],
      [(j) => void (j.text_config.num_key_value_heads = 1), /config\.json: text_config\.num_key_value_heads is 1, which makes 16 key rows at head_dim 16 .*, but the weights hold 32 \(.*layers\.0\.self_attn\.k_proj\.weight is \[32, 64\]\)$/],
      [(j) => void (j.vision_config.hidden_size = 64), /config\.json: vision_config\.hidden_size is 64 but the weights hold 32 \(.*patch_embedding\.weight is \[32, 3, 8, 8\]\)$/],
      [(j) => void (j.vision_config.intermediate_size = 4096), /config\.json: vision_config\.intermediate_size is 4096 but the weights hold 64 \(.*layers\.0\.mlp\.fc1\.weight is \[64, 32\]\)$/],
    ];
    for (const [edit, message] of sizes) expectRefused(variant('config.json', edit), 'config.json', message);
  });

  it('refuses a placeholder token id that is negative or past the vocabulary, naming the key', () => {
    const key = 'image_token_index' in JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) ? 'image_token_index' : 'image_token_id';
    for (const id of [-1, 99_999]) {
      const dir = variant('config.json', (j) => {
        j[key] = id;
      });
      expectRefused(dir, 'config.json', new RegExp(`config\\.json: "${key}" ${id} is not a token id of the model, whose text_config\\.vocab_size is \\d+`));
    }
  });

  it('refuses unknown activations and other than 3 channels, as bad input naming the key', () => {
    const refused: [(j: Json) => void, string][] = [
      [(j) => void (j.text_config.hidden_act = 'bogus'), '"text_config.hidden_act" must be one of'],
      [(j) => void (j.vision_config.hidden_act = 'bogus'), '"vision_config.hidden_act" must be one of'],
      [(j) => void (j.vision_config.num_channels = 1), '"vision_config.num_channels" 1 is not supported'],
    ];
    if (arch === 'llava-onevision') refused.push([(j) => void (j.projector_hidden_act = 'bogus'), '"projector_hidden_act" must be one of']);
    for (const [edit, message] of refused) expectRefused(variant('config.json', edit), 'config.json', message);
  });

  it('refuses a max_position_embeddings too short for one frame, at config load and against the real prompt', () => {
    const one = variant('config.json', (j) => {
      j.text_config.max_position_embeddings = 1;
    });
    expectRefused(one, 'config.json', /config\.json: "text_config\.max_position_embeddings" 1 is too short for any prompt: one frame alone takes \d+ visual tokens, so it must be at least \d+/);
    // Enough for the frame's visual tokens, not for the chat template's text around them.
    const least = family.promptGrid(readModelConfig(base)) ** 2 + family.appendedVisualRows + 1;
    const frameOnly = variant('config.json', (j) => {
      j.text_config.max_position_embeddings = least;
    });
    expectRefused(frameOnly, 'config.json', new RegExp(`config\\.json: "text_config\\.max_position_embeddings" ${least} is too short: the smallest prompts the studio makes .* take up to \\d+ tokens`));
  });

  it('refuses a prompt longer than max_position_embeddings, naming the key', () => {
    const dir = variant('config.json', (j) => {
      j.text_config.max_position_embeddings = 200;
    });
    const config = VideoLanguageModel.check(dir);
    const tokenizer = ModelTokenizer.load(dir);
    expect(buildPrompt(tokenizer, config, userTurn('Describe the video.'), clip(2), { addGenerationPrompt: true }).inputIds.length).toBeLessThanOrEqual(200);
    expect(() => buildPrompt(tokenizer, config, userTurn('Describe the video.'), clip(64), { addGenerationPrompt: true })).toThrow(
      new RegExp(`^a prompt of (at least )?\\d+ tokens \\(\\d+ of them visual, for 64 frames\\) is longer than the model's context, ${join(dir, 'config.json')} text_config\\.max_position_embeddings 200`),
    );
  });

  it('refuses a tokenizer.json whose model type the tokenizer library does not run, naming model.type', () => {
    for (const type of ['WordLevel', 'Bogus']) {
      const dir = variant('tokenizer.json', (j) => {
        j.model.type = type;
      });
      expectRefused(dir, 'tokenizer.json', `tokenizer.json: "model.type" "${type}" is not supported`);
    }
  });

  it("refuses a tokenizer.json with ids past config.json's vocab_size, naming both files", () => {
    const dir = variant('tokenizer.json', (j) => {
      j.added_tokens.push({ id: 99_999, content: '<x>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    });
    const vocab = readModelConfig(dir).text.vocabSize;
    expectRefused(dir, 'tokenizer.json', `${join(dir, 'tokenizer.json')}: token id 99999 ("<x>") is outside ${join(dir, 'config.json')} text_config.vocab_size ${vocab}`);
  });

  it('still loads the untouched fixture', () => {
    expect(VideoLanguageModel.check(base).arch).toBe(arch);
  });
});

// Found by the fuzz suite (test/fuzz.spec.ts): each refused as bad input in one line naming the
// file and the key or tensor, with no raw errno text, no JavaScript error and no excerpt of the file.
describe('hostile files the fuzz suite found', () => {
  const bases = new Map<string, string>();
  const made: string[] = [];
  beforeAll(() => {
    for (const arch of ['llava-onevision', 'smolvlm']) {
      const dir = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
      writeFixture(dir, { arch, size: 'tiny', seed: 7, corpus });
      bases.set(arch, dir);
    }
  });
  afterAll(() => {
    for (const dir of [...bases.values(), ...made]) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of `arch`'s fixture with `change` made to it. */
  function copy(arch: string, change: (dir: string) => void): string {
    const dir = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
    made.push(dir);
    cpSync(bases.get(arch)!, dir, { recursive: true });
    change(dir);
    return dir;
  }
  const editJson = (dir: string, file: string, edit: (j: Record<string, unknown>) => void) => {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
    edit(json);
    writeFileSync(join(dir, file), JSON.stringify(json));
  };
  function refusal(dir: string): string {
    const message = refusalOf(dir);
    expect(message).not.toMatch(/\bE[A-Z]{3,}: |Cannot read properties|is not a function|\bundefined\b/);
    return message;
  }

  it('reads JSON files with a byte-order mark, and names one that is missing, a folder, a link loop or not an object', () => {
    expect(VideoLanguageModel.check(copy('llava-onevision', (d) => {
      for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']) writeFileSync(join(d, f), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(join(d, f))]));
    })).arch).toBe('llava-onevision');
    const config = (d: string) => join(d, 'config.json');
    let dir = copy('llava-onevision', (d) => rmSync(config(d)));
    expect(refusal(dir)).toBe(`model file not found: ${config(dir)}`);
    expect(refusal(join(dir, 'nowhere'))).toBe(`model folder not found: ${join(dir, 'nowhere')}`);
    expect(refusal(join(bases.get('llava-onevision')!, 'config.json'))).toBe(`model folder is a file, not a folder: ${join(bases.get('llava-onevision')!, 'config.json')}`);
    dir = copy('llava-onevision', (d) => (rmSync(join(d, 'tokenizer.json')), mkdirSync(join(d, 'tokenizer.json'))));
    expect(refusal(dir)).toBe(`model file is a folder, not a file: ${join(dir, 'tokenizer.json')}`);
    dir = copy('llava-onevision', (d) => (rmSync(config(d)), symlinkSync(config(d), config(d))));
    expect(refusal(dir)).toBe(`model file path goes round in a loop of symbolic links: ${config(dir)}`);
    dir = copy('llava-onevision', (d) => writeFileSync(config(d), 'null'));
    expect(refusal(dir)).toBe(`${config(dir)} must hold a JSON object, not null`);
    dir = copy('llava-onevision', (d) => writeFileSync(config(d), '{\n  "model_type": llava\n}'));
    expect(refusal(dir)).toBe(`${config(dir)} is not valid JSON: unexpected character`);
    dir = copy('llava-onevision', (d) => editJson(d, 'config.json', (j) => delete j.model_type));
    expect(refusal(dir)).toMatch(/config\.json: "model_type" is missing; ISR Studio runs/);
  });

  it("names tokenizer.json's section of the wrong shape or type, which the library would report as undefined", () => {
    const cases: [(j: Record<string, unknown>) => void, string][] = [
      [(j) => void (j.pre_tokenizer = 42), 'tokenizer.json: "pre_tokenizer" must be null or an object with a "type", got 42'],
      [(j) => void (j.decoder = { type: 'Bogus' }), 'tokenizer.json: a "decoder" of type "Bogus" is not supported by the tokenizer library'],
      [(j) => void ((j.model as Record<string, unknown>).merges = 'x'), 'tokenizer.json: "model.merges" must be a list of merges ("a b" or ["a", "b"]), got "x"'],
      [(j) => void (j.added_tokens = {}), 'tokenizer.json: "added_tokens" must be a list, got {}'],
    ];
    for (const [edit, message] of cases) expect(refusal(copy('llava-onevision', (d) => editJson(d, 'tokenizer.json', edit)))).toContain(message);
  });

  it('refuses a chat template cut short, and one rendering nothing for a chat without a video', () => {
    let dir = copy('llava-onevision', (d) => editJson(d, 'tokenizer_config.json', (j) => void (j.chat_template = String(j.chat_template).slice(0, 30))));
    expect(refusal(dir)).toMatch(/tokenizer_config\.json does not parse: a tag or expression is left unfinished$/);
    dir = copy('smolvlm', (d) => writeFileSync(join(d, 'chat_template.jinja'), ''));
    expect(refusal(dir)).toBe(`${join(dir, 'chat_template.jinja')}: the chat template renders nothing for a chat without a video (a judge's question), so the model would have no token to start from`);
  });

  it("refuses preprocessor_config.json's bad values as bad input, quoting a huge value short", () => {
    let dir = copy('llava-onevision', (d) => editJson(d, 'preprocessor_config.json', (j) => void (j.image_std = [0.5, 0.5, -1])));
    expect(refusal(dir)).toBe(`${join(dir, 'preprocessor_config.json')}: "image_std" must be positive`);
    dir = copy('llava-onevision', (d) => editJson(d, 'preprocessor_config.json', (j) => void (j.image_mean = 'z'.repeat(100_000))));
    expect(refusal(dir)).toBe(`${join(dir, 'preprocessor_config.json')}: "image_mean" must be a number or three numbers, got "${'z'.repeat(79)}… (100,002 characters)`);
  });

  it("refuses an Idefics3 scale_factor the connector's weight disagrees with, naming it", () => {
    const dir = copy('smolvlm', (d) => editJson(d, 'config.json', (j) => void (j.scale_factor = 1e308)));
    expect(refusal(dir)).toMatch(/config\.json: scale_factor is 1e\+308, which makes Infinity connector input features \(vision_config\.hidden_size 32 x 1e\+308\^2\), but the weights hold 128 \(model\.connector\.modality_projection\.proj\.weight is \[64, 128\]\)$/);
  });

  it('names the weights file that is a folder, a shard mapped to no name, an index of null, and a header entry that is a list', () => {
    const weights = (d: string) => join(d, 'model.safetensors');
    let dir = copy('llava-onevision', (d) => (rmSync(weights(d)), mkdirSync(weights(d))));
    expect(refusal(dir)).toBe(`safetensors file is a folder, not a file: ${weights(dir)}`);
    const sharded = (indexText: (names: string[]) => string) => copy('llava-onevision', (d) => {
      const shard = 'model-00001-of-00001.safetensors';
      renameSync(weights(d), join(d, shard));
      const bytes = readFileSync(join(d, shard));
      const names = Object.keys(JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as object).filter((n) => n !== '__metadata__');
      writeFileSync(join(d, 'model.safetensors.index.json'), indexText(names));
    });
    dir = sharded(() => 'null');
    expect(refusal(dir)).toBe(`checkpoint index ${join(dir, 'model.safetensors.index.json')} has no weight_map object`);
    dir = sharded((names) => JSON.stringify({ weight_map: Object.fromEntries(names.map((n, i) => [n, i === 0 ? '' : 'model-00001-of-00001.safetensors'])) }));
    expect(refusal(dir)).toMatch(/checkpoint index .*: weight '.+' maps to an invalid shard name ""$/);
    dir = copy('llava-onevision', (d) => {
      const bytes = readFileSync(weights(d));
      const n = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
      const name = Object.keys(header).find((k) => k !== '__metadata__')!;
      header[name] = [1];
      const text = Buffer.from(JSON.stringify(header));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(text.length));
      writeFileSync(weights(d), Buffer.concat([length, text, bytes.subarray(8 + n)]));
    });
    expect(refusal(dir)).toMatch(/model\.safetensors: tensor '.+' is not an object$/);
  });
});

describe('LLaVA-OneVision keys the check used to pass and the vision graph refused mid-run', () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
    writeFixture(base, { arch: 'llava-onevision', size: 'tiny', seed: 7, corpus });
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it.each([
    ['vision_feature_layer', -100, /config\.json: vision_feature_layer -100 is outside the tower's 3 hidden states \(-3\.\.2\)$/],
    ['vision_feature_select_strategy', 'default', /config\.json: "vision_feature_select_strategy" "default" is not supported \("default" drops a token, so a frame's features form no patch grid/],
  ])('refuses %s %j at the check, naming it', (key, value, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
    cpSync(base, dir, { recursive: true });
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    json[key] = value;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(json));
    expect(() => VideoLanguageModel.check(dir)).toThrow(message);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('sizes that make a frame absurd, named by their keys', () => {
  it.each([
    ['vision_config', 'num_attention_heads', 1e308, /config\.json: "vision_config\.hidden_size" 32 is not divisible by "vision_config\.num_attention_heads" 1e\+308$/],
    ['vision_config', 'image_size', 2 ** 31, /config\.json: "text_config\.max_position_embeddings" 4096 is too short for any prompt: .*vision_config image_size 2147483648 and patch_size 8\)$/],
  ])('%s.%s %d', (section, key, value, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-hostile-'));
    writeFixture(dir, { arch: 'llava-onevision', size: 'tiny', seed: 7, corpus });
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    json[section][key] = value;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(json));
    expect(() => VideoLanguageModel.check(dir)).toThrow(message);
    rmSync(dir, { recursive: true, force: true });
  });
});
