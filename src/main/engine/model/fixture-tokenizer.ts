// The tokenizer files a fixture model folder carries: a byte-level BPE learned from the words the
// studio's prompts and demo data use, ChatML special tokens with <image> and <video> placeholders,
// and a chat template of the LLaVA-OneVision kind.
import { byteLevelTokenizerJson, trainByteLevelBpe } from './byte-level-bpe';

export const fixtureSpecialTokens = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<video>'];

/** ChatML turns; an image or video part becomes its placeholder token on a line of its own. */
export const fixtureChatTemplate =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}" +
  "{% if message['content'] is string %}{{ message['content'] }}" +
  "{% else %}{% for part in message['content'] %}" +
  "{% if part['type'] == 'image' %}{{ '<image>\\n' }}{% elif part['type'] == 'video' %}{{ '<video>\\n' }}" +
  "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}" +
  "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TokenizerFiles {
  'tokenizer.json': Record<string, unknown>;
  'tokenizer_config.json': Record<string, unknown>;
}

/** Tokenizer files whose vocabulary has `vocabSize` BPE tokens (fewer if the corpus runs out of
 *  repeated pairs) learned from `corpus`, plus the special tokens. */
export function fixtureTokenizer(corpus: string[], vocabSize: number): TokenizerFiles {
  const bpe = trainByteLevelBpe(corpus, vocabSize);
  const json = byteLevelTokenizerJson(bpe, fixtureSpecialTokens);
  const firstSpecial = Object.keys(bpe.vocab).length;
  return {
    'tokenizer.json': json,
    'tokenizer_config.json': {
      tokenizer_class: 'Qwen2Tokenizer',
      model_max_length: 32768,
      bos_token: null,
      eos_token: '<|im_end|>',
      pad_token: '<|endoftext|>',
      unk_token: null,
      clean_up_tokenization_spaces: false,
      added_tokens_decoder: Object.fromEntries(
        fixtureSpecialTokens.map((content, i) => [
          String(firstSpecial + i),
          { content, lstrip: false, rstrip: false, normalized: false, single_word: false, special: true },
        ]),
      ),
      chat_template: fixtureChatTemplate,
    },
  };
}
