import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToUnicode, trainByteLevelBpe } from './byte-level-bpe';
import { fixtureTokenizer, tokenizerStyles } from './fixture-tokenizer';
import { ModelTokenizer } from './tokenizer';

const corpus = [
  'How many shapes are in the video?',
  'What colour is the square? What colour is the circle?',
  'Which way does the red circle move? It moves left, then right, then up, then down.',
  'Three shapes: a red circle moving down, then a green square moving right.',
];

function writeFolder(files: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'isr-tok-'));
  for (const [name, value] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
  }
  return dir;
}

describe('byte-level BPE', () => {
  it('maps all 256 bytes to distinct printable code points, keeping printable ASCII as itself', () => {
    const table = bytesToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[0x41]).toBe('A');
    expect(table[0x20]).toBe('Ġ');
    expect(table[0x0a]).toBe('Ċ');
  });

  it('merges the most frequent pair first, and every merge builds a token in the vocabulary', () => {
    const { vocab, merges } = trainByteLevelBpe(['aaab aaab aaab'], 260);
    expect(merges[0]).toBe('a a');
    for (const m of merges) expect(vocab[m.replace(' ', '')]).toBeGreaterThanOrEqual(256);
    expect(Object.values(vocab).sort((x, y) => x - y)).toEqual([...Array(Object.keys(vocab).length).keys()]);
  });
});

describe('ModelTokenizer on a fixture folder', () => {
  let tok: ModelTokenizer;
  beforeAll(() => {
    const files = fixtureTokenizer(corpus, 400);
    tok = ModelTokenizer.load(writeFolder(files));
  });

  it('round-trips any text, including bytes the corpus never had', () => {
    for (const text of ['What colour is the square?', 'naïve café — 東京 🚀\n\ttabs', '']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('learns the demo words as whole tokens, so prompts stay short', () => {
    const ids = tok.encode('What colour is the square?');
    expect(ids.length).toBeLessThanOrEqual(7);
    expect(tok.encode(' circle')).toHaveLength(1);
  });

  it('keeps special tokens whole, and skips them when decoding unless asked', () => {
    const ids = tok.encode('<|im_start|>user\n<video>\nWhat?<|im_end|>');
    expect(ids[0]).toBe(tok.tokenId('<|im_start|>'));
    expect(ids).toContain(tok.tokenId('<video>'));
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe('<|im_start|>user\n<video>\nWhat?<|im_end|>');
    expect(tok.decode(ids)).toBe('user\n\nWhat?');
    expect(tok.stopTokenIds()).toEqual([tok.tokenId('<|im_end|>')]);
    expect(() => tok.tokenId('<nope>')).toThrow(/token "<nope>" is not in .*tokenizer\.json/);
  });

  it('renders the chat template with video placeholders and the generation prompt', () => {
    const text = tok.applyChatTemplate(
      [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'What colour is the square?' }] }],
      { addGenerationPrompt: true },
    );
    expect(text).toBe('<|im_start|>user\n<video>\nWhat colour is the square?<|im_end|>\n<|im_start|>assistant\n');
  });

  it('renders a two-turn conversation in each family\'s format', () => {
    const turns = [
      { role: 'user' as const, content: [{ type: 'video' as const }, { type: 'text' as const, text: 'What colour?' }] },
      { role: 'assistant' as const, content: 'Red.' },
      { role: 'user' as const, content: 'Which way does it move?' },
    ];
    expect(tok.applyChatTemplate(turns, { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\n<video>\nWhat colour?<|im_end|>\n<|im_start|>assistant\nRed.<|im_end|>\n<|im_start|>user\nWhich way does it move?<|im_end|>\n<|im_start|>assistant\n',
    );
    const idefics = ModelTokenizer.load(writeFolder(fixtureTokenizer(corpus, 300, tokenizerStyles.idefics3)));
    const asImages = [{ ...turns[0], content: [{ type: 'image' as const }, { type: 'text' as const, text: 'What colour?' }] }, turns[1], turns[2]];
    expect(idefics.applyChatTemplate(asImages, { addGenerationPrompt: true })).toBe(
      '<|im_start|>User:<image>What colour?<end_of_utterance>\nAssistant: Red.<end_of_utterance>\nUser: Which way does it move?<end_of_utterance>\nAssistant:',
    );
    expect(idefics.decode(idefics.encode('User: Which way?<end_of_utterance>'), { skipSpecialTokens: false })).toBe('User: Which way?<end_of_utterance>');
  });
});

describe('ModelTokenizer errors and template locations', () => {
  const files = fixtureTokenizer(corpus, 300);
  const config = files['tokenizer_config.json'];
  const { chat_template: _, ...configWithoutTemplate } = config;

  it('prefers chat_template.jinja, then chat_template.json, then tokenizer_config.json', () => {
    const jinja = writeFolder({ ...files, 'chat_template.jinja': 'J{{ messages[0].content }}' });
    expect(ModelTokenizer.load(jinja).applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: false })).toBe('Jx');
    const json = writeFolder({ ...files, 'tokenizer_config.json': configWithoutTemplate, 'chat_template.json': { chat_template: 'P{{ messages[0].content }}' } });
    expect(ModelTokenizer.load(json).templateSource).toMatch(/chat_template\.json$/);
    expect(ModelTokenizer.load(writeFolder(files)).templateSource).toMatch(/tokenizer_config\.json$/);
    expect(tokenizerStyles.chatml.chatTemplate).toContain('<video>');
  });

  it('gives the published multimodal templates a list of parts, text-only turns too, and a text template strings', () => {
    // The published templates filter (LLaVA-OneVision) or iterate over (SmolVLM) the parts: a string would break both.
    for (const style of [tokenizerStyles.chatml, tokenizerStyles.idefics3, tokenizerStyles.smolvlm]) {
      const tok = ModelTokenizer.load(writeFolder(fixtureTokenizer(corpus, 300, style)));
      expect(tok.applyChatTemplate([{ role: 'user', content: 'Which way?' }], { addGenerationPrompt: true })).toContain('Which way?');
    }
    // Qwen2's own (text) template concatenates content as a string.
    const qwenText = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}";
    const text = ModelTokenizer.load(writeFolder({ ...files, 'tokenizer_config.json': { ...config, chat_template: qwenText } }));
    expect(text.applyChatTemplate([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], { addGenerationPrompt: false })).toBe('<|im_start|>user\nHi<|im_end|>\n');
    expect(() => text.applyChatTemplate([{ role: 'user', content: [{ type: 'video' }] }], { addGenerationPrompt: false })).toThrow(/tokenizer_config\.json takes text content only, so it cannot show a video/);
  });

  it('names the template and the chat when rendering fails, and gives the template\'s own raise_exception as its message', () => {
    const bad = writeFolder({ ...files, 'chat_template.jinja': '{{ messages[0].content.nope() }}' });
    expect(() => ModelTokenizer.load(bad).applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: false })).toThrow(
      /the chat template in .*chat_template\.jinja failed on a chat of 1 message\(s\) \(user\): /,
    );
    const raises = writeFolder({ ...files, 'chat_template.jinja': "{{ raise_exception('roles must\nalternate') }}" });
    expect(() => ModelTokenizer.load(raises).applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: false })).toThrow(
      new RegExp(`^${raises}/chat_template\\.jinja: the chat template raised an error: roles must alternate$`),
    );
  });

  it('names the file at fault', () => {
    expect(() => ModelTokenizer.load(writeFolder({ 'tokenizer_config.json': config }))).toThrow(/not found: .*tokenizer\.json/);
    expect(() => ModelTokenizer.load(writeFolder({ ...files, 'tokenizer.json': '{"model": ' }))).toThrow(/tokenizer\.json is not valid JSON/);
    expect(() => ModelTokenizer.load(writeFolder({ ...files, 'tokenizer_config.json': configWithoutTemplate }))).toThrow(/no chat template in/);
    expect(() => ModelTokenizer.load(writeFolder({ ...files, 'chat_template.jinja': '{% for x in %}' }))).toThrow(/chat template in .*chat_template\.jinja does not parse/);
  });

  it('lists its special tokens after the BPE vocabulary', () => {
    const tok = ModelTokenizer.load(writeFolder(files));
    const ids = tokenizerStyles.chatml.specialTokens.map((t) => tok.tokenId(t));
    expect(ids).toEqual(ids.map((_, i) => ids[0] + i));
    expect(ids[0]).toBe(Object.keys((files['tokenizer.json'].model as { vocab: object }).vocab).length);
  });
});
