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

/** A chat template: where it came from (named in errors) and its text. */
export interface ChatTemplateText {
  source: string;
  text: string;
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
    if (visual) throw new Error(`the chat template in ${template.source} takes text content only, so it cannot show ${visual.type === 'image' ? 'an image' : 'a video'}: the model folder needs its processor's chat template (chat_template.json)`);
    return { ...m, content: m.content.map((p) => (p.type === 'text' ? p.text : '')).join('') };
  });
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
function findChatTemplate(dir: string, config: Record<string, unknown>): ChatTemplateText {
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
    private readonly template: ChatTemplateText,
  ) {}

  private readonly parsed = new Map<string, Template>();

  /** Where the folder's chat template was found. */
  get templateSource(): string {
    return this.template.source;
  }

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
    const model = new ModelTokenizer(dir, tokenizer, config, findChatTemplate(dir, config));
    model.compiled(model.template);
    return model;
  }

  private compiled(template: ChatTemplateText): Template {
    let parsed = this.parsed.get(template.text);
    if (parsed === undefined) {
      try {
        parsed = new Template(template.text);
      } catch (err) {
        throw new Error(`chat template in ${template.source} does not parse: ${(err as Error).message}`);
      }
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

  /**
   * The prompt text the model was trained on for these messages, through the folder's template or
   * `options.template` (a processor may substitute its own, as SmolVLM's does for videos). Content
   * goes in as the template reads it (shapedFor): the published multimodal templates filter or
   * iterate over parts, so a text-only turn becomes one text part there.
   */
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt: boolean; template?: ChatTemplateText }): string {
    const template = options.template ?? this.template;
    const shaped = shapedFor(template, messages);
    try {
      return this.compiled(template).render({
        messages: shaped,
        add_generation_prompt: options.addGenerationPrompt,
        bos_token: this.specialToken('bos_token') ?? '',
        eos_token: this.specialToken('eos_token') ?? '',
      });
    } catch (err) {
      const roles = messages.map((m) => m.role).join(', ');
      throw new Error(`the chat template in ${template.source} failed on a chat of ${messages.length} message(s) (${roles}): ${(err as Error).message}`);
    }
  }
}
