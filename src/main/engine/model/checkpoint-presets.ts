// The published files of the checkpoints `isr-studio fixture --like` stands in for, one entry per
// preset: config.json and the processor, generation and tokenizer settings as the Hub repos hold them
// (keys the studio does not read included, keys the repos leave out left out), the special tokens at
// their published ids, and how the weights are stored. Only the weights' values and the ordinary
// vocabulary are stand-ins (fixture.ts writes those). Where each value comes from: each entry's
// `source`, and docs/families.md, "Stand-ins of published checkpoints".
import { tokenizerStyles } from './fixture-tokenizer';

export interface PublishedToken {
  id: number;
  content: string;
}

export interface CheckpointPreset {
  /** The name `--like` takes. */
  id: string;
  /** The Hugging Face repo it stands in for. */
  repo: string;
  /** Where the values were read, and which were not found (then as transformers would write them). */
  source: string;
  /** JSON files written exactly as given, by file name. */
  files: Record<string, Record<string, unknown>>;
  /** The chat template and the file the repo keeps it in. */
  chatTemplate: { file: 'chat_template.json' | 'chat_template.jinja'; text: string };
  tokenizer: {
    /** tokenizer_config.json without added_tokens_decoder (written from `added`). */
    config: Record<string, unknown>;
    /** Every added token at its published id (all special, not normalized, as published). */
    added: PublishedToken[];
    /** Ids below this are the BPE model's vocabulary (added tokens among them keep their place). */
    modelVocab: number;
    /** The published tokenizer.json's normalizer, pre_tokenizer, post_processor and decoder; null: Qwen2's. */
    pipeline: Record<string, unknown> | null;
  };
  weights: {
    dtype: 'BF16' | 'F16';
    /** Shard file names in order; null: as save_pretrained's default max_shard_size lays them out. */
    shards: string[] | null;
  };
}

const special = (first: number, names: string[]): PublishedToken[] => names.map((content, i) => ({ id: first + i, content }));

// LLaVA-OneVision's anyres grid: every (height, width) from 384 to 2304 in steps of 384, in row order,
// in config.json and preprocessor_config.json alike.
const oneVisionPinpoints = Array.from({ length: 36 }, (_, i) => [384 * (1 + Math.floor(i / 6)), 384 * (1 + (i % 6))]);

// Qwen2-0.5B-Instruct's three special tokens, then the two convert_llava_onevision_weights_to_hf.py adds.
const oneVisionTokens = special(151643, ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<video>']);

// SmolVLM's tokenizer (tokenizer.json / added_tokens.json of HuggingFaceTB/SmolVLM-256M-Instruct): SmolLM2's
// 17 specials at 0..16, then <global-img>, the 36 <row_r_col_c> tile markers, <fake_token_around_image>,
// <image>, 88 reserved tokens and <end_of_utterance> at 49152..49279.
const smolVlmTokens: PublishedToken[] = [
  ...special(0, [
    '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<repo_name>', '<reponame>', '<file_sep>', '<filename>', '<gh_stars>', '<issue_start>',
    '<issue_comment>', '<issue_closed>', '<jupyter_start>', '<jupyter_text>', '<jupyter_code>', '<jupyter_output>', '<jupyter_script>', '<empty_output>',
  ]),
  { id: 49152, content: '<global-img>' },
  ...Array.from({ length: 36 }, (_, i) => ({ id: 49153 + i, content: `<row_${Math.floor(i / 6) + 1}_col_${(i % 6) + 1}>` })),
  { id: 49189, content: '<fake_token_around_image>' },
  { id: 49190, content: '<image>' },
  ...Array.from({ length: 88 }, (_, i) => ({ id: 49191 + i, content: `<|reserved_special_token_${i}|>` })),
  { id: 49279, content: '<end_of_utterance>' },
];

// tokenizer.json of HuggingFaceTB/SmolVLM-256M-Instruct: GPT-2's byte-level regex split after single digits.
const smolVlmPipeline = {
    "normalizer": null,
    "pre_tokenizer": {
      "type": "Sequence",
      "pretokenizers": [
        {
          "type": "Digits",
          "individual_digits": true
        },
        {
          "type": "ByteLevel",
          "add_prefix_space": false,
          "trim_offsets": true,
          "use_regex": true
        }
      ]
    },
    "post_processor": null,
    "decoder": {
      "type": "ByteLevel",
      "add_prefix_space": true,
      "trim_offsets": true,
      "use_regex": true
    }
  };

export const checkpointPresets: readonly CheckpointPreset[] = [
  {
    id: 'llava-onevision-qwen2-0.5b-ov',
    repo: 'llava-hf/llava-onevision-qwen2-0.5b-ov-hf',
    source:
      'transformers convert_llava_onevision_weights_to_hf.py (chat template, <image>/<video> added after Qwen2-0.5B-Instruct\'s tokens, ' +
      'vocab 151936 + 2 padded to a multiple of 64 = 152000, SiglipVisionConfig, num_image_tokens 729, weights saved as float16); ' +
      'the repo\'s own files were not found: their remaining keys are as that script\'s save_pretrained writes them, from memory of the repo',
    files: {
      'config.json': {
        "architectures": [
          "LlavaOnevisionForConditionalGeneration"
        ],
        "image_grid_pinpoints": oneVisionPinpoints,
        "image_token_index": 151646,
        "model_type": "llava_onevision",
        "projector_hidden_act": "gelu",
        "text_config": {
          "_name_or_path": "Qwen/Qwen2-0.5B-Instruct",
          "architectures": [
            "Qwen2ForCausalLM"
          ],
          "bos_token_id": 151643,
          "eos_token_id": 151645,
          "hidden_size": 896,
          "intermediate_size": 4864,
          "max_position_embeddings": 32768,
          "max_window_layers": 24,
          "model_type": "qwen2",
          "num_attention_heads": 14,
          "num_hidden_layers": 24,
          "num_key_value_heads": 2,
          "rope_theta": 1000000.0,
          "sliding_window": null,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "vocab_size": 152000
        },
        "tie_word_embeddings": true,
        "torch_dtype": "float16",
        "transformers_version": "4.45.0.dev0",
        "use_image_newline_parameter": true,
        "video_token_index": 151647,
        "vision_aspect_ratio": "anyres_max_9",
        "vision_config": {
          "hidden_size": 1152,
          "image_size": 384,
          "intermediate_size": 4304,
          "model_type": "siglip_vision_model",
          "num_attention_heads": 16,
          "num_hidden_layers": 26,
          "patch_size": 14,
          "vision_use_head": false
        },
        "vision_feature_layer": -1,
        "vision_feature_select_strategy": "full"
      },
      'preprocessor_config.json': {
        "crop_size": {
          "height": 384,
          "width": 384
        },
        "do_center_crop": true,
        "do_convert_rgb": true,
        "do_normalize": true,
        "do_pad": true,
        "do_rescale": true,
        "do_resize": true,
        "image_grid_pinpoints": oneVisionPinpoints,
        "image_mean": [
          0.5,
          0.5,
          0.5
        ],
        "image_processor_type": "LlavaOnevisionImageProcessor",
        "image_std": [
          0.5,
          0.5,
          0.5
        ],
        "processor_class": "LlavaOnevisionProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {
          "height": 384,
          "width": 384
        }
      },
      'video_preprocessor_config.json': {
        "do_convert_rgb": true,
        "do_normalize": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [
          0.5,
          0.5,
          0.5
        ],
        "image_std": [
          0.5,
          0.5,
          0.5
        ],
        "processor_class": "LlavaOnevisionProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {
          "height": 384,
          "width": 384
        },
        "video_processor_type": "LlavaOnevisionVideoProcessor"
      },
      'processor_config.json': {
        "num_image_tokens": 729,
        "processor_class": "LlavaOnevisionProcessor",
        "vision_feature_select_strategy": "full"
      },
      'generation_config.json': {
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "transformers_version": "4.45.0.dev0"
      },
      'special_tokens_map.json': {
        "additional_special_tokens": [
          "<|im_start|>",
          "<|im_end|>"
        ],
        "eos_token": {
          "content": "<|im_end|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "pad_token": {
          "content": "<|endoftext|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        }
      },
    },
    chatTemplate: { file: 'chat_template.json', text: tokenizerStyles.chatml.chatTemplate },
    tokenizer: {
      config: {
        "add_prefix_space": false,
        "additional_special_tokens": [
          "<|im_start|>",
          "<|im_end|>"
        ],
        "bos_token": null,
        "clean_up_tokenization_spaces": false,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": "<|endoftext|>",
        "padding_side": "left",
        "processor_class": "LlavaOnevisionProcessor",
        "split_special_tokens": false,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": null
      },
      added: oneVisionTokens,
      modelVocab: 151643,
      pipeline: null,
    },
    weights: { dtype: 'F16', shards: null },
  },
  {
    id: 'smolvlm-256m',
    repo: 'HuggingFaceTB/SmolVLM-256M-Instruct',
    source:
      'the repo\'s files as committed in github.com/xi-ix/smolvlm_256m_ft (SmolVLM-256M-Instruct/, commit 0c7b2de, 2025-11-23): ' +
      'config.json, preprocessor_config.json, processor_config.json, generation_config.json, chat_template.json, special_tokens_map.json, ' +
      'tokenizer_config.json and tokenizer.json\'s added tokens and pipeline; model.safetensors one file of 513028808 bytes (its LFS pointer)',
    files: {
      'config.json': {
        "architectures": [
          "Idefics3ForConditionalGeneration"
        ],
        "image_token_id": 49190,
        "model_type": "idefics3",
        "scale_factor": 4,
        "text_config": {
          "_attn_implementation_autoset": false,
          "_flash_attn_2_enabled": true,
          "_name_or_path": "None",
          "add_cross_attention": false,
          "architectures": [
            "VLlama3ForCausalLM"
          ],
          "attention_bias": false,
          "attention_dropout": 0.0,
          "bad_words_ids": null,
          "begin_suppress_tokens": null,
          "bos_token_id": 1,
          "chunk_size_feed_forward": 0,
          "cross_attention_hidden_size": null,
          "decoder_start_token_id": null,
          "diversity_penalty": 0.0,
          "do_sample": false,
          "early_stopping": false,
          "encoder_no_repeat_ngram_size": 0,
          "eos_token_id": 2,
          "exponential_decay_length_penalty": null,
          "finetuning_task": null,
          "forced_bos_token_id": null,
          "forced_eos_token_id": null,
          "head_dim": 64,
          "hidden_act": "silu",
          "hidden_size": 576,
          "id2label": {
            "0": "LABEL_0",
            "1": "LABEL_1"
          },
          "initializer_range": 0.041666666666666664,
          "intermediate_size": 1536,
          "is_decoder": false,
          "is_encoder_decoder": false,
          "is_llama_config": true,
          "label2id": {
            "LABEL_0": 0,
            "LABEL_1": 1
          },
          "length_penalty": 1.0,
          "max_length": 20,
          "max_position_embeddings": 8192,
          "min_length": 0,
          "mlp_bias": false,
          "model_type": "llama",
          "neftune_noise_alpha": 0.0,
          "no_repeat_ngram_size": 0,
          "num_attention_heads": 9,
          "num_beam_groups": 1,
          "num_beams": 1,
          "num_hidden_layers": 30,
          "num_key_value_heads": 3,
          "num_return_sequences": 1,
          "output_attentions": false,
          "output_hidden_states": false,
          "output_scores": false,
          "pad_token_id": 2,
          "perceiver_config": {
            "_attn_implementation_autoset": false,
            "_name_or_path": "",
            "add_cross_attention": false,
            "architectures": null,
            "attention_dropout": 0.0,
            "bad_words_ids": null,
            "begin_suppress_tokens": null,
            "bos_token_id": null,
            "chunk_size_feed_forward": 0,
            "cross_attention_hidden_size": null,
            "decoder_start_token_id": null,
            "diversity_penalty": 0.0,
            "do_sample": false,
            "early_stopping": false,
            "encoder_no_repeat_ngram_size": 0,
            "eos_token_id": null,
            "exponential_decay_length_penalty": null,
            "finetuning_task": null,
            "forced_bos_token_id": null,
            "forced_eos_token_id": null,
            "hidden_act": "silu",
            "id2label": {
              "0": "LABEL_0",
              "1": "LABEL_1"
            },
            "is_decoder": false,
            "is_encoder_decoder": false,
            "label2id": {
              "LABEL_0": 0,
              "LABEL_1": 1
            },
            "length_penalty": 1.0,
            "max_length": 20,
            "min_length": 0,
            "model_type": "vllama3",
            "no_repeat_ngram_size": 0,
            "num_beam_groups": 1,
            "num_beams": 1,
            "num_key_value_heads": 1,
            "num_return_sequences": 1,
            "output_attentions": false,
            "output_hidden_states": false,
            "output_scores": false,
            "pad_token_id": null,
            "prefix": null,
            "problem_type": null,
            "pruned_heads": {},
            "qk_layer_norms_perceiver": false,
            "remove_invalid_values": false,
            "repetition_penalty": 1.0,
            "resampler_depth": 6,
            "resampler_head_dim": 96,
            "resampler_n_heads": 16,
            "resampler_n_latents": 64,
            "return_dict": true,
            "return_dict_in_generate": false,
            "sep_token_id": null,
            "suppress_tokens": null,
            "task_specific_params": null,
            "temperature": 1.0,
            "tf_legacy_loss": false,
            "tie_encoder_decoder": false,
            "tie_word_embeddings": true,
            "tokenizer_class": null,
            "top_k": 50,
            "top_p": 1.0,
            "torch_dtype": null,
            "torchscript": false,
            "transformers_version": "4.46.0",
            "typical_p": 1.0,
            "use_bfloat16": false
          },
          "pixel_shuffle_factor": 4,
          "prefix": null,
          "pretraining_tp": 1,
          "problem_type": null,
          "pruned_heads": {},
          "qk_layer_norms": false,
          "remove_invalid_values": false,
          "repetition_penalty": 1.0,
          "return_dict": true,
          "return_dict_in_generate": false,
          "rms_norm_eps": 1e-05,
          "rope_interleaved": false,
          "rope_scaling": null,
          "rope_theta": 100000,
          "sep_token_id": null,
          "suppress_tokens": null,
          "task_specific_params": null,
          "temperature": 1.0,
          "tf_legacy_loss": false,
          "tie_encoder_decoder": false,
          "tie_word_embeddings": false,
          "tokenizer_class": null,
          "top_k": 50,
          "top_p": 1.0,
          "torch_dtype": "bfloat16",
          "torchscript": false,
          "transformers.js_config": {
            "kv_cache_dtype": {
              "fp16": "float16",
              "q4f16": "float16"
            }
          },
          "typical_p": 1.0,
          "use_bfloat16": false,
          "use_cache": true,
          "use_resampler": false,
          "vocab_size": 49280
        },
        "tie_word_embeddings": false,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0",
        "transformers.js_config": {
          "kv_cache_dtype": {
            "q4f16": "float16",
            "fp16": "float16"
          }
        },
        "use_cache": true,
        "vision_config": {
          "use_base_siglip": true,
          "_attn_implementation_autoset": false,
          "_name_or_path": "",
          "add_cross_attention": false,
          "architectures": null,
          "attention_dropout": 0.0,
          "bad_words_ids": null,
          "begin_suppress_tokens": null,
          "bos_token_id": null,
          "chunk_size_feed_forward": 0,
          "cross_attention_hidden_size": null,
          "decoder_start_token_id": null,
          "diversity_penalty": 0.0,
          "do_sample": false,
          "early_stopping": false,
          "encoder_no_repeat_ngram_size": 0,
          "eos_token_id": null,
          "exponential_decay_length_penalty": null,
          "finetuning_task": null,
          "forced_bos_token_id": null,
          "forced_eos_token_id": null,
          "hidden_act": "gelu_pytorch_tanh",
          "hidden_size": 768,
          "id2label": {
            "0": "LABEL_0",
            "1": "LABEL_1"
          },
          "image_size": 512,
          "initializer_range": 0.02,
          "intermediate_size": 3072,
          "is_decoder": false,
          "is_encoder_decoder": false,
          "label2id": {
            "LABEL_0": 0,
            "LABEL_1": 1
          },
          "layer_norm_eps": 1e-06,
          "length_penalty": 1.0,
          "max_image_size": {
            "longest_edge": 512
          },
          "max_length": 20,
          "min_length": 0,
          "model_type": "idefics3",
          "no_repeat_ngram_size": 0,
          "num_attention_heads": 12,
          "num_beam_groups": 1,
          "num_beams": 1,
          "num_channels": 3,
          "num_hidden_layers": 12,
          "num_return_sequences": 1,
          "output_attentions": false,
          "output_hidden_states": false,
          "output_scores": false,
          "pad_token_id": null,
          "patch_size": 16,
          "prefix": null,
          "problem_type": null,
          "pruned_heads": {},
          "remove_invalid_values": false,
          "repetition_penalty": 1.0,
          "return_dict": true,
          "return_dict_in_generate": false,
          "sep_token_id": null,
          "size": {
            "longest_edge": 2048
          },
          "suppress_tokens": null,
          "task_specific_params": null,
          "temperature": 1.0,
          "tf_legacy_loss": false,
          "tie_encoder_decoder": false,
          "tie_word_embeddings": false,
          "tokenizer_class": null,
          "top_k": 50,
          "top_p": 1.0,
          "torch_dtype": null,
          "torchscript": false,
          "typical_p": 1.0,
          "use_bfloat16": false
        },
        "vocab_size": 49280
      },
      'preprocessor_config.json': {
        "do_convert_rgb": true,
        "do_image_splitting": true,
        "do_normalize": true,
        "do_pad": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [
          0.5,
          0.5,
          0.5
        ],
        "image_processor_type": "Idefics3ImageProcessor",
        "image_std": [
          0.5,
          0.5,
          0.5
        ],
        "max_image_size": {
          "longest_edge": 512
        },
        "processor_class": "Idefics3Processor",
        "resample": 1,
        "rescale_factor": 0.00392156862745098,
        "size": {
          "longest_edge": 2048
        }
      },
      'processor_config.json': {
        "image_seq_len": 64,
        "processor_class": "Idefics3Processor"
      },
      'generation_config.json': {
        "_from_model_config": true,
        "bos_token_id": 0,
        "eos_token_id": 49279,
        "pad_token_id": 2,
        "transformers_version": "4.46.0"
      },
      'special_tokens_map.json': {
        "additional_special_tokens": [
          {
            "content": "<fake_token_around_image>",
            "lstrip": false,
            "normalized": false,
            "rstrip": false,
            "single_word": false
          },
          {
            "content": "<image>",
            "lstrip": false,
            "normalized": false,
            "rstrip": false,
            "single_word": false
          },
          {
            "content": "<end_of_utterance>",
            "lstrip": false,
            "normalized": false,
            "rstrip": false,
            "single_word": false
          }
        ],
        "bos_token": {
          "content": "<|im_start|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "eos_token": {
          "content": "<|im_end|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "pad_token": {
          "content": "<|im_end|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "unk_token": {
          "content": "<|endoftext|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        }
      },
    },
    chatTemplate: { file: 'chat_template.json', text: tokenizerStyles.idefics3.chatTemplate },
    tokenizer: {
      config: { ...{
        "add_prefix_space": false,
        "additional_special_tokens": [
          "<fake_token_around_image>",
          "<image>",
          "<end_of_utterance>"
        ],
        "bos_token": "<|im_start|>",
        "clean_up_tokenization_spaces": false,
        "eos_token": "<end_of_utterance>",
        "legacy": false,
        "model_max_length": 8192,
        "pad_token": "<|im_end|>",
        "processor_class": "Idefics3Processor",
        "tokenizer_class": "GPT2Tokenizer",
        "truncation_side": "left",
        "unk_token": "<|endoftext|>",
        "vocab_size": 49280
      }, chat_template: tokenizerStyles.idefics3.chatTemplate },
      added: smolVlmTokens,
      modelVocab: 49152,
      pipeline: smolVlmPipeline,
    },
    weights: { dtype: 'BF16', shards: ['model.safetensors'] },
  },
  {
    id: 'smolvlm2-256m-video',
    repo: 'HuggingFaceTB/SmolVLM2-256M-Video-Instruct',
    source:
      'the repo\'s files were not found; SmolVLM2-500M-Video-Instruct\'s config.json, preprocessor_config.json, processor_config.json ' +
      'and tokenizer_config.json as a public offline-cache script quotes them (vision_config without num_hidden_layers and intermediate_size), ' +
      'with the 256M text model\'s sizes from SmolVLM-256M-Instruct; the chat template is processing_smolvlm.py\'s DEFAULT_CHAT_TEMPLATE; ' +
      'generation_config.json as transformers writes it from text_config; the added tokens are SmolVLM\'s',
    files: {
      'config.json': {
        "architectures": [
          "SmolVLMForConditionalGeneration"
        ],
        "image_token_id": 49190,
        "model_type": "smolvlm",
        "pad_token_id": 128002,
        "scale_factor": 4,
        "text_config": {
          "architectures": [
            "VLlama3ForCausalLM"
          ],
          "head_dim": 64,
          "hidden_size": 576,
          "intermediate_size": 1536,
          "is_llama_config": true,
          "max_position_embeddings": 8192,
          "model_type": "llama",
          "neftune_noise_alpha": 0.0,
          "num_attention_heads": 9,
          "num_hidden_layers": 30,
          "num_key_value_heads": 3,
          "pad_token_id": 2,
          "pixel_shuffle_factor": 4,
          "qk_layer_norms": false,
          "rms_norm_eps": 1e-05,
          "rope_interleaved": false,
          "rope_theta": 100000,
          "torch_dtype": "bfloat16",
          "use_resampler": false,
          "vocab_size": 49280
        },
        "tie_word_embeddings": false,
        "torch_dtype": "float32",
        "transformers_version": "4.47.1",
        "use_cache": false,
        "use_reentrant_checkpointing": false,
        "vision_config": {
          "hidden_size": 768,
          "image_size": 512,
          "max_image_size": {
            "longest_edge": 512
          },
          "model_type": "smolvlm_vision",
          "num_attention_heads": 12,
          "patch_size": 16,
          "size": {
            "longest_edge": 2048
          },
          "tie_word_embeddings": false,
          "use_base_siglip": false
        },
        "vocab_size": 49280
      },
      'preprocessor_config.json': {
        "do_convert_rgb": true,
        "do_image_splitting": true,
        "do_normalize": true,
        "do_pad": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [
          0.5,
          0.5,
          0.5
        ],
        "image_processor_type": "SmolVLMImageProcessor",
        "image_std": [
          0.5,
          0.5,
          0.5
        ],
        "max_image_size": {
          "longest_edge": 512
        },
        "processor_class": "SmolVLMProcessor",
        "resample": 1,
        "rescale_factor": 0.00392156862745098,
        "size": {
          "longest_edge": 2048
        },
        "video_sampling": {
          "fps": 1,
          "max_frames": 64,
          "video_size": {
            "longest_edge": 512
          }
        }
      },
      'processor_config.json': {
        "image_seq_len": 64,
        "processor_class": "SmolVLMProcessor"
      },
      'generation_config.json': {
        "_from_model_config": true,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 2,
        "transformers_version": "4.47.1"
      },
      'special_tokens_map.json': {
        "additional_special_tokens": [
          {
            "content": "<fake_token_around_image>",
            "lstrip": false,
            "normalized": false,
            "rstrip": false,
            "single_word": false
          },
          {
            "content": "<image>",
            "lstrip": false,
            "normalized": false,
            "rstrip": false,
            "single_word": false
          },
          {
            "content": "<end_of_utterance>",
            "lstrip": false,
            "normalized": false,
            "rstrip": false,
            "single_word": false
          }
        ],
        "bos_token": {
          "content": "<|im_start|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "eos_token": {
          "content": "<|im_end|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "pad_token": {
          "content": "<|im_end|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        },
        "unk_token": {
          "content": "<|endoftext|>",
          "lstrip": false,
          "normalized": false,
          "rstrip": false,
          "single_word": false
        }
      },
    },
    chatTemplate: { file: 'chat_template.json', text: tokenizerStyles.smolvlm.chatTemplate },
    tokenizer: {
      config: {
        "additional_special_tokens": [
          "<fake_token_around_image>",
          "<image>",
          "<end_of_utterance>"
        ],
        "bos_token": "<|im_start|>",
        "clean_up_tokenization_spaces": false,
        "end_of_utterance_token": "<end_of_utterance>",
        "eos_token": "<end_of_utterance>",
        "extra_special_tokens": {
          "end_of_utterance_token": "<end_of_utterance>",
          "fake_image_token": "<fake_token_around_image>",
          "global_image_token": "<global-img>",
          "image_token": "<image>"
        },
        "fake_image_token": "<fake_token_around_image>",
        "global_image_token": "<global-img>",
        "image_token": "<image>",
        "model_max_length": 8192,
        "pad_token": "<|im_end|>",
        "processor_class": "SmolVLMProcessor",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "truncation_side": "left",
        "unk_token": "<|endoftext|>"
      },
      added: smolVlmTokens,
      modelVocab: 49152,
      pipeline: smolVlmPipeline,
    },
    weights: { dtype: 'BF16', shards: null },
  },
];

/** The names `--like` takes. */
export const checkpointPresetIds = checkpointPresets.map((p) => p.id);

export function checkpointPreset(id: string): CheckpointPreset {
  const preset = checkpointPresets.find((p) => p.id === id);
  if (!preset) throw new Error(`no checkpoint preset "${id}"; --like takes ${checkpointPresetIds.join(', ')}`);
  return preset;
}
