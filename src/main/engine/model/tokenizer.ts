// A model folder's tokenizer and chat template: tokenizer.json and tokenizer_config.json through
// @huggingface/tokenizers, the chat template through @huggingface/jinja (within limits:
// chat-template.ts), found where Hugging Face folders keep it (chat_template.jinja,
// chat_template.json, or tokenizer_config.json).
import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, fileProblem, shownValue } from '../../../shared/errors';
import { CompiledChatTemplate, type ChatTemplateText } from './chat-template';
import { readJsonObject } from './json-file';

export type { ChatTemplateText } from './chat-template';

export type ContentPart = { type: 'text'; text: string } | { type: 'image' } | { type: 'video' };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

/** A chat of one user turn: the video (unless `withVideo` is false), then `text`. */
export function userTurn(text: string, withVideo = true): ChatMessage[] {
  return [{ role: 'user', content: withVideo ? [{ type: 'video' }, { type: 'text', text }] : text }];
}

/** Whether a template reads content as a list of typed parts (every multimodal template the
 *  families publish) rather than as a string (a text model's template, e.g. Qwen2's). */
const takesParts = (template: string) => /\[\s*['"]type['"]\s*\]|\.type\b|selectattr\(\s*['"]type['"]/.test(template);

/** The messages in the content shape the template reads: parts (a string becoming one text part),
 *  or strings (text parts joined; an image or video is an error, such a template cannot place it). */
function shapedFor(template: ChatTemplateText, messages: ChatMessage[]): ChatMessage[] {
  if (takesParts(template.text)) return messages.map((m) => ({ ...m, content: typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content }));
  return messages.map((m) => {
    if (typeof m.content === 'string') return m;
    const visual = m.content.find((p) => p.type !== 'text');
    if (visual) throw new ApiError('bad_input', `the chat template in ${template.source} takes text content only, so it cannot show ${visual.type === 'image' ? 'an image' : 'a video'}: the model folder needs its processor's chat template (chat_template.json)`, { file: template.source });
    return { ...m, content: m.content.map((p) => (p.type === 'text' ? p.text : '')).join('') };
  });
}

/** The tokenizer models @huggingface/tokenizers implements (create_tokenizer_model); anything else
 *  it would run as a "legacy" model that maps no text to ids. */
const tokenizerModels = ['BPE', 'WordPiece', 'Unigram'] as const;

/** tokenizer.json's "model.type", refused unless the library implements it. A file that leaves the
 *  type out (older tokenizers versions) is taken as the library infers it: a list vocabulary is
 *  Unigram, "merges" BPE, "continuing_subword_prefix" with "unk_token" WordPiece. */
function checkTokenizerModel(file: string, json: Record<string, unknown>): void {
  const model = json.model;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) {
    throw new ApiError('bad_input', `${file}: "model" must be an object with a "type" (one of ${tokenizerModels.map((t) => `"${t}"`).join(', ')})`, { file, key: 'model' });
  }
  const m = model as Record<string, unknown>;
  const supported = `ISR Studio's tokenizer library (@huggingface/tokenizers) runs ${tokenizerModels.map((t) => `"${t}"`).join(', ')}`;
  if (m.type !== undefined) {
    if (!tokenizerModels.includes(m.type as (typeof tokenizerModels)[number])) {
      throw new ApiError('bad_input', `${file}: "model.type" ${shownValue(m.type)} is not supported: ${supported}`, { file, key: 'model.type' });
    }
    return;
  }
  const inferred = Array.isArray(m.vocab) || 'merges' in m || ('continuing_subword_prefix' in m && 'unk_token' in m);
  if (!inferred) throw new ApiError('bad_input', `${file}: "model.type" is missing and the model is none the library can infer: ${supported}`, { file, key: 'model.type' });
}

/** The pipeline sections the library builds by their "type"; one of another shape it reports as
 *  "Unknown PreTokenizer type: undefined", naming neither the key nor the file. */
const pipelineSections = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;
const sectionOfLibraryName: Record<string, string> = { Normalizer: 'normalizer', PreTokenizer: 'pre_tokenizer', PostProcessor: 'post_processor', Decoder: 'decoder' };

/** tokenizer.json's sections of the shapes the library reads, each refused by its key otherwise. */
function checkTokenizerShape(file: string, json: Record<string, unknown>): void {
  const refuse = (key: string, want: string, got: unknown) => {
    throw new ApiError('bad_input', `${file}: "${key}" must be ${want}, got ${shownValue(got)}`, { file, key });
  };
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const key of pipelineSections) {
    const v = json[key];
    if (v !== undefined && v !== null && !(isObject(v) && typeof (v as { type?: unknown }).type === 'string')) refuse(key, 'null or an object with a "type"', v);
  }
  if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) refuse('added_tokens', 'a list', json.added_tokens);
  for (const [i, t] of ((json.added_tokens as unknown[] | undefined) ?? []).entries()) {
    if (!isObject(t) || typeof (t as { content?: unknown }).content !== 'string') refuse(`added_tokens.${i}`, 'an object with a "content" string', t);
  }
  const model = json.model as Record<string, unknown>;
  if (model.merges !== undefined && !(Array.isArray(model.merges) && model.merges.every((m) => typeof m === 'string' || (Array.isArray(m) && m.length === 2 && m.every((p) => typeof p === 'string'))))) {
    refuse('model.merges', 'a list of merges ("a b" or ["a", "b"])', model.merges);
  }
  if (model.vocab !== undefined && !isObject(model.vocab) && !(model.type === 'Unigram' && Array.isArray(model.vocab))) refuse('model.vocab', model.type === 'Unigram' ? 'a list of [piece, score]' : 'an object of token: id', model.vocab);
}

/** The highest token id tokenizer.json gives (its model's vocabulary and its added tokens), and the
 *  token; a negative or fractional id is refused, naming the key. */
function highestTokenId(file: string, json: Record<string, unknown>): { id: number; token: string } | null {
  let top: { id: number; token: string } | null = null;
  const see = (id: unknown, token: string, key: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new ApiError('bad_input', `${file}: "${key}" gives token ${shownValue(token)} the id ${shownValue(id)}; ids are whole numbers from 0`, { file, key });
    }
    if (top === null || id > top.id) top = { id, token };
  };
  const vocab = (json.model as { vocab?: unknown }).vocab;
  // Unigram's vocabulary is a list of [piece, score]: the id is the index.
  if (Array.isArray(vocab)) vocab.forEach((entry, i) => see(i, String(Array.isArray(entry) ? entry[0] : entry), 'model.vocab'));
  else if (typeof vocab === 'object' && vocab !== null) for (const [token, id] of Object.entries(vocab)) see(id, token, 'model.vocab');
  const added = json.added_tokens;
  if (Array.isArray(added)) for (const t of added as { id?: unknown; content?: unknown }[]) see(t?.id, String(t?.content), 'added_tokens');
  return top;
}

/** The chat template's text, from the first of the places Hugging Face folders keep it. */
function findChatTemplate(dir: string, config: Record<string, unknown>): ChatTemplateText {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) {
    try {
      return { source: jinja, text: readFileSync(jinja, 'utf8') };
    } catch (err) {
      throw new ApiError('bad_input', fileProblem(err, 'chat template file', jinja), { file: jinja });
    }
  }
  const processorTemplate = join(dir, 'chat_template.json');
  if (existsSync(processorTemplate)) {
    const value = readJsonObject(processorTemplate).chat_template;
    if (typeof value !== 'string') throw new ApiError('bad_input', `${processorTemplate}: "chat_template" is not a string`, { file: processorTemplate, key: 'chat_template' });
    return { source: processorTemplate, text: value };
  }
  const fromConfig = config.chat_template;
  const source = join(dir, 'tokenizer_config.json');
  if (typeof fromConfig === 'string') return { source, text: fromConfig };
  // Some configs hold several named templates; "default" is the chat one.
  if (Array.isArray(fromConfig)) {
    const named = fromConfig.find((t: { name?: string }) => t.name === 'default') as { template?: unknown } | undefined;
    if (typeof named?.template === 'string') return { source, text: named.template };
  }
  throw new ApiError('bad_input', `no chat template in ${dir}: looked for chat_template.jinja, chat_template.json and "chat_template" in tokenizer_config.json`, { file: dir });
}

export class ModelTokenizer {
  private constructor(
    readonly dir: string,
    private readonly tokenizer: Tokenizer,
    private readonly config: Record<string, unknown>,
    private readonly template: ChatTemplateText,
    /** The highest id tokenizer.json gives a token (null: none), checked against the model's vocabulary (checkVocabulary). */
    private readonly highest: { id: number; token: string } | null,
  ) {}

  private readonly parsed = new Map<string, CompiledChatTemplate>();

  /** Where the folder's chat template was found. */
  get templateSource(): string {
    return this.template.source;
  }

  static load(dir: string): ModelTokenizer {
    const tokenizerFile = join(dir, 'tokenizer.json');
    const json = readJsonObject(tokenizerFile);
    const config = readJsonObject(join(dir, 'tokenizer_config.json'));
    checkTokenizerModel(tokenizerFile, json);
    checkTokenizerShape(tokenizerFile, json);
    const highest = highestTokenId(tokenizerFile, json);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, config);
    } catch (err) {
      const message = (err as Error).message;
      const unknown = /^Unknown (\w+) type: (.*)$/.exec(message);
      const key = unknown ? sectionOfLibraryName[unknown[1]] : undefined;
      if (key !== undefined) throw new ApiError('bad_input', `${tokenizerFile}: a "${key}" of type ${JSON.stringify(unknown![2])} is not supported by the tokenizer library`, { file: tokenizerFile, key });
      throw new ApiError('bad_input', `${tokenizerFile}: unsupported tokenizer: ${message}`, { file: tokenizerFile });
    }
    const model = new ModelTokenizer(dir, tokenizer, config, findChatTemplate(dir, config), highest);
    model.compiled(model.template);
    return model;
  }

  /**
   * Refuses a tokenizer that gives ids the model has no embedding for: every id of tokenizer.json
   * (vocabulary and added tokens) must be below the text model's vocab_size. `where` names that key
   * and its file (e.g. "/m/config.json text_config.vocab_size").
   */
  checkVocabulary(vocabSize: number, where: string): void {
    const top = this.highest;
    if (top !== null && top.id >= vocabSize) {
      const file = join(this.dir, 'tokenizer.json');
      throw new ApiError('bad_input', `${file}: token id ${top.id} (${JSON.stringify(top.token)}) is outside ${where} ${vocabSize}: the model has no embedding for it`, { file });
    }
  }

  private compiled(template: ChatTemplateText): CompiledChatTemplate {
    let parsed = this.parsed.get(template.text);
    if (parsed === undefined) {
      parsed = CompiledChatTemplate.compile(template);
      this.parsed.set(template.text, parsed);
    }
    return parsed;
  }

  /** Token ids of `text`; chat-formatted prompts already hold their special tokens, so none are added. */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    // The library refuses an empty list; an empty generation is a normal outcome.
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  /** The id of a token that must exist (an image or video placeholder, an end-of-turn marker). */
  tokenId(token: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) throw new ApiError('bad_input', `token "${token}" is not in ${join(this.dir, 'tokenizer.json')}`, { file: join(this.dir, 'tokenizer.json') });
    return id;
  }

  /** A special token named in tokenizer_config.json (eos_token, pad_token, ...), as text, or null. */
  specialToken(key: string): string | null {
    const value = this.config[key];
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
      return (value as { content: string }).content;
    }
    return null;
  }

  /** Ids that end generation: the config's eos_token, and ChatML's end of turn where the vocabulary has it. */
  stopTokenIds(): number[] {
    const names = [this.specialToken('eos_token'), '<|im_end|>', '<end_of_utterance>'];
    const ids = names.flatMap((n) => (n === null ? [] : [this.tokenizer.token_to_id(n)])).filter((id) => id !== undefined);
    return [...new Set(ids as number[])];
  }

  /**
   * The prompt text the model was trained on for these messages, through the folder's template or
   * `options.template` (a processor may substitute its own, as SmolVLM's does for videos). Content
   * goes in as the template reads it (shapedFor): the published multimodal templates filter or
   * iterate over parts, so a text-only turn becomes one text part there.
   */
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt: boolean; template?: ChatTemplateText }): string {
    const template = options.template ?? this.template;
    const shaped = shapedFor(template, messages);
    const chat = `a chat of ${messages.length} message(s) (${messages.map((m) => m.role).join(', ')})`;
    return this.compiled(template).render({
      messages: shaped,
      add_generation_prompt: options.addGenerationPrompt,
      bos_token: this.specialToken('bos_token') ?? '',
      eos_token: this.specialToken('eos_token') ?? '',
    }, chat);
  }
}
