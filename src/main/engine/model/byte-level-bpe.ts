// A byte-level BPE trainer, so fixture models carry a tokenizer.json of the same kind Qwen2 and
// SmolVLM checkpoints ship (BPE model, ByteLevel pre-tokenizer and decoder, ranked merges) and the
// real loading path (@huggingface/tokenizers) is what tests exercise.

/** GPT-2's reversible map from bytes to printable code points, which byte-level BPE vocabularies use. */
export function bytesToUnicode(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + extra++);
  return table;
}

/** Qwen2's pre-tokenizer split: contractions, letters with one leading non-letter, single digits,
 *  punctuation runs, newlines, and whitespace. */
export const qwen2SplitPattern =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The same split as a JavaScript RegExp (JS has no inline (?i:...) group, so the contractions are spelled out). */
const splitRegExp = new RegExp(
  qwen2SplitPattern.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"),
  'gu',
);

export interface TrainedBpe {
  /** Token string -> id; ids 0..255 are the single bytes in byte order. */
  vocab: Record<string, number>;
  /** Merges in rank order, as "left right". */
  merges: string[];
}

/** Learns merges from `corpus` until the vocabulary holds `vocabSize` tokens or no pair repeats. */
export function trainByteLevelBpe(corpus: string[], vocabSize: number): TrainedBpe {
  const byteChar = bytesToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const text of corpus) {
    for (const piece of text.match(splitRegExp) ?? []) {
      const word = [...encoder.encode(piece)].map((b) => byteChar[b]).join('\u0000');
      wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
    }
  }
  const words = [...wordCounts].map(([w, count]) => ({ symbols: w.split('\u0000'), count }));
  const vocab: Record<string, number> = {};
  byteChar.forEach((c, b) => (vocab[c] = b));
  let size = 256;
  const merges: string[] = [];
  while (size < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    // Most frequent first; ties broken by the pair's text so training is deterministic.
    let best: [string, number] | null = null;
    for (const entry of pairs) {
      if (!best || entry[1] > best[1] || (entry[1] === best[1] && entry[0] < best[0])) best = entry;
    }
    if (!best || best[1] < 2) break;
    const [left, right] = best[0].split(' ');
    const merged = left + right;
    merges.push(best[0]);
    if (!(merged in vocab)) vocab[merged] = size++;
    for (const word of words) {
      const out: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(word.symbols[i]);
      }
      word.symbols = out;
    }
  }
  return { vocab, merges };
}

/** A tokenizer.json (Hugging Face tokenizers format) for a trained byte-level BPE with special tokens
 *  appended after the vocabulary, laid out as Qwen2's is. */
export function byteLevelTokenizerJson(bpe: TrainedBpe, specialTokens: string[]): Record<string, unknown> {
  const firstSpecial = Object.keys(bpe.vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content, i) => ({
      id: firstSpecial + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: qwen2SplitPattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: bpe.vocab,
      merges: bpe.merges,
    },
  };
}
