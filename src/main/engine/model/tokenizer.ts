// A model folder's tokenizer and chat template: tokenizer.json and tokenizer_config.json through
// @huggingface/tokenizers, the chat template through @huggingface/jinja, found where Hugging Face
// folders keep it (chat_template.jinja, chat_template.json, or tokenizer_config.json).
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type ContentPart = { type: 'text'; text: string } | { type: 'image' } | { type: 'video' };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

/** A chat of one user turn: the video (unless `withVideo` is false), then `text`. */
export function userTurn(text: string, withVideo = true): ChatMessage[] {
  return [{ role: 'user', content: withVideo ? [{ type: 'video' }, { type: 'text', text }] : text }];
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The chat template's text, from the first of the places Hugging Face folders keep it. */
function findChatTemplate(dir: string, config: Record<string, unknown>): { source: string; text: string } {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return { source: jinja, text: readFileSync(jinja, 'utf8') };
  const processorTemplate = join(dir, 'chat_template.json');
  if (existsSync(processorTemplate)) {
    const value = readJson(processorTemplate).chat_template;
    if (typeof value !== 'string') throw new Error(`${processorTemplate}: "chat_template" is not a string`);
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
  throw new Error(`no chat template in ${dir}: looked for chat_template.jinja, chat_template.json and "chat_template" in tokenizer_config.json`);
}

export class ModelTokenizer {
  private constructor(
    readonly dir: string,
    private readonly tokenizer: Tokenizer,
    private readonly config: Record<string, unknown>,
    private readonly template: Template,
    readonly templateSource: string,
  ) {}

  static load(dir: string): ModelTokenizer {
    const tokenizerFile = join(dir, 'tokenizer.json');
    const json = readJson(tokenizerFile);
    const config = readJson(join(dir, 'tokenizer_config.json'));
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, config);
    } catch (err) {
      throw new Error(`${tokenizerFile}: unsupported tokenizer: ${(err as Error).message}`);
    }
    const { source, text } = findChatTemplate(dir, config);
    let template: Template;
    try {
      template = new Template(text);
    } catch (err) {
      throw new Error(`chat template in ${source} does not parse: ${(err as Error).message}`);
    }
    return new ModelTokenizer(dir, tokenizer, config, template, source);
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
    if (id === undefined) throw new Error(`token "${token}" is not in ${join(this.dir, 'tokenizer.json')}`);
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

  /** The prompt text the model was trained on for these messages. */
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt: boolean }): string {
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt,
      bos_token: this.specialToken('bos_token') ?? '',
      eos_token: this.specialToken('eos_token') ?? '',
    });
  }
}
