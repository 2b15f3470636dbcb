// The tokenizer files a fixture model folder carries: a byte-level BPE learned from the words the
// studio's prompts and demo data use, plus the special tokens and the chat template of the family's
// published checkpoints (ChatML for LLaVA-OneVision, User:/Assistant: turns for Idefics3 and SmolVLM).
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
  /** LLaVA-OneVision (Qwen2): ChatML turns; images, then videos, then text, as the chat_template.json
   *  of llava-hf's OneVision checkpoints (transformers' convert_llava_onevision_weights_to_hf.py) writes. */
  chatml: {
    specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<video>'],
    chatTemplate:
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{# Render all images first #}" +
      "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
      "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}" +
      "{# Render all text next #}{% if message['role'] != 'assistant' %}" +
      "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}" +
      "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}" +
      "{% endif %}{{'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    bos: null,
    eos: '<|im_end|>',
    pad: '<|endoftext|>',
    tokenizerClass: 'Qwen2Tokenizer',
  },
  /** Idefics3 / SmolVLM: "User:<image>...question<end_of_utterance>" turns, as the chat_template.json of
   *  HuggingFaceTB/SmolVLM-256M-Instruct writes them; the processor later expands each <image>
   *  (processing_idefics3.py). */
  idefics3: {
    specialTokens: ['<|endoftext|>', '<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<global-img>', '<image>'],
    chatTemplate:
      "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}" +
      "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}" +
      "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}" +
      "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
    bos: '<|im_start|>',
    eos: '<end_of_utterance>',
    pad: '<|endoftext|>',
    tokenizerClass: 'GPT2Tokenizer',
  },
  /** SmolVLM2 (model_type smolvlm): SmolVLM's turns with a <video> part as well: the template
   *  processing_smolvlm.py substitutes for chats that show a video (DEFAULT_CHAT_TEMPLATE). */
  smolvlm: {
    specialTokens: ['<|endoftext|>', '<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<global-img>', '<image>'],
    chatTemplate:
      "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}" +
      "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}" +
      "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}" +
      "{% elif line['type'] == 'video' %}{{ '<video>' }}{% endif %}{% endfor %}" +
      "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
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
