// The tokenizer files a fixture model folder carries: a byte-level BPE learned from the words the
// studio's prompts and demo data use, plus the special tokens and chat template of the family's
// published tokenizer (ChatML for LLaVA-OneVision, User:/Assistant: turns for Idefics3).
import { byteLevelTokenizerJson, trainByteLevelBpe } from './byte-level-bpe';

/** How a family's published tokenizer frames a chat: its special tokens and its chat template. */
export interface TokenizerStyle {
  specialTokens: string[];
  chatTemplate: string;
  bos: string | null;
  eos: string;
  pad: string;
  tokenizerClass: string;
}

export const tokenizerStyles = {
  /** LLaVA-OneVision (Qwen2): ChatML turns; an image or video part becomes its placeholder on a line of its own. */
  chatml: {
    specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<video>'],
    chatTemplate:
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}" +
      "{% if message['content'] is string %}{{ message['content'] }}" +
      "{% else %}{% for part in message['content'] %}" +
      "{% if part['type'] == 'image' %}{{ '<image>\\n' }}{% elif part['type'] == 'video' %}{{ '<video>\\n' }}" +
      "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}" +
      "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    bos: null,
    eos: '<|im_end|>',
    pad: '<|endoftext|>',
    tokenizerClass: 'Qwen2Tokenizer',
  },
  /** Idefics3 / SmolVLM: "User:<image>... question<end_of_utterance>" turns, as SmolVLM's template
   *  writes them; the processor later expands each <image> (processing_idefics3.py). */
  idefics3: {
    specialTokens: ['<|endoftext|>', '<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<global-img>', '<image>'],
    chatTemplate:
      "{{ bos_token }}{% for message in messages %}{{ message['role'] | capitalize }}:" +
      "{% if message['content'] is string %}{{ ' ' + message['content'] }}" +
      "{% else %}{% for part in message['content'] %}" +
      "{% if part['type'] == 'image' %}{{ '<image>' }}{% elif part['type'] == 'text' %}{{ ' ' + part['text'] }}{% endif %}" +
      "{% endfor %}{% endif %}{{ '<end_of_utterance>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
    bos: '<|im_start|>',
    eos: '<end_of_utterance>',
    pad: '<|endoftext|>',
    tokenizerClass: 'GPT2Tokenizer',
  },
} satisfies Record<string, TokenizerStyle>;

export interface TokenizerFiles {
  'tokenizer.json': Record<string, unknown>;
  'tokenizer_config.json': Record<string, unknown>;
}

/** Tokenizer files whose vocabulary has `vocabSize` BPE tokens (fewer if the corpus runs out of
 *  repeated pairs) learned from `corpus`, plus the special tokens. */
export function fixtureTokenizer(corpus: string[], vocabSize: number, style: TokenizerStyle = tokenizerStyles.chatml): TokenizerFiles {
  const bpe = trainByteLevelBpe(corpus, vocabSize);
  const json = byteLevelTokenizerJson(bpe, style.specialTokens);
  const firstSpecial = Object.keys(bpe.vocab).length;
  return {
    'tokenizer.json': json,
    'tokenizer_config.json': {
      tokenizer_class: style.tokenizerClass,
      model_max_length: 32768,
      bos_token: style.bos,
      eos_token: style.eos,
      pad_token: style.pad,
      unk_token: null,
      clean_up_tokenization_spaces: false,
      added_tokens_decoder: Object.fromEntries(
        style.specialTokens.map((content, i) => [
          String(firstSpecial + i),
          { content, lstrip: false, rstrip: false, normalized: false, single_word: false, special: true },
        ]),
      ),
      chat_template: style.chatTemplate,
    },
  };
}
