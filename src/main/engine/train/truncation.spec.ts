import { describe, expect, it } from 'vitest';
import type { TrainExample } from './train-config';
import { fitExample } from './truncation';

const ids = (n: number, from = 100) => Array.from({ length: n }, (_, i) => from + i);
/** A prompt of `n` ids, `video` of them the visual token 7. */
const example = (prompt: number, chosen: number, rejected: number, video = 0): TrainExample => ({
  prompt: [...Array<number>(video).fill(7), ...ids(prompt - video, 1000)],
  chosen: ids(chosen),
  rejected: ids(rejected, 5000),
  ...(video > 0 ? { visual: { tokenId: 7, features: new Float32Array(0) } } : {}),
});

describe('fitExample (TRL: max_completion_length, then max_length with truncation_mode keep_start)', () => {
  it('leaves an example within the limits as it is', () => {
    const e = example(10, 5, 6);
    expect(fitExample(e, { maxLength: 16, maxCompletionLength: 6 }, 1000)).toEqual({ example: e, cuts: [] });
  });

  it('keeps the first max_completion_length tokens of each response', () => {
    const fitted = fitExample(example(10, 50, 3), { maxLength: null, maxCompletionLength: 20 }, 1000);
    if (!('example' in fitted)) throw new Error(fitted.refused);
    expect(fitted.example.chosen).toEqual(ids(20));
    expect(fitted.example.rejected).toEqual(ids(3, 5000));
    expect(fitted.cuts).toEqual(['chosen cut from 50 to 20 tokens (max_completion_length)']);
  });

  it("cuts each response's end so that prompt + response is max_length, never the prompt", () => {
    const e = example(30, 40, 25);
    const fitted = fitExample(e, { maxLength: 60, maxCompletionLength: null }, 1000);
    if (!('example' in fitted)) throw new Error(fitted.refused);
    expect(fitted.example.prompt).toEqual(e.prompt);
    // As TRL's keep_start keeps the first max_length tokens of prompt + response.
    expect([...fitted.example.prompt, ...fitted.example.chosen]).toEqual([...e.prompt, ...e.chosen].slice(0, 60));
    expect([...fitted.example.prompt, ...fitted.example.rejected!]).toEqual([...e.prompt, ...e.rejected!]);
    expect(fitted.cuts).toEqual(['chosen cut from 40 to 30 tokens (max_length 60, with a prompt of 30)']);
  });

  it("bounds by the model's max_position_embeddings when it is below max_length (or max_length is none)", () => {
    for (const maxLength of [null, 5000]) {
      const fitted = fitExample(example(10, 8_000, 2), { maxLength, maxCompletionLength: null }, 4096);
      if (!('example' in fitted)) throw new Error(fitted.refused);
      expect(fitted.example.chosen).toHaveLength(4086);
      expect(fitted.cuts).toEqual(["chosen cut from 8,000 to 4,086 tokens (the model's max_position_embeddings 4,096, with a prompt of 10)"]);
    }
  });

  it('applies max_completion_length first, then max_length', () => {
    const fitted = fitExample(example(30, 100, 2), { maxLength: 50, maxCompletionLength: 40 }, 1000);
    if (!('example' in fitted)) throw new Error(fitted.refused);
    expect(fitted.example.chosen).toEqual(ids(20));
    expect(fitted.cuts).toEqual(['chosen cut from 100 to 40 tokens (max_completion_length)', 'chosen cut from 40 to 20 tokens (max_length 50, with a prompt of 30)']);
  });

  it("refuses a prompt that leaves no room for a response, counting the video's tokens", () => {
    expect(fitExample(example(2000, 5, 5, 1568), { maxLength: 2000, maxCompletionLength: null }, 32768)).toEqual({
      refused: 'the prompt is 2,000 tokens (1,568 of them the video\'s), leaving no room for a response within max_length 2,000: raise max_length or show fewer frames',
    });
  });

  it('fits an SFT example (no rejected response)', () => {
    const { rejected: _, ...sft } = example(4, 10, 0);
    const fitted = fitExample(sft, { maxLength: 8, maxCompletionLength: null }, 100);
    expect(fitted).toEqual({ example: { ...sft, chosen: ids(4) }, cuts: ['chosen cut from 10 to 4 tokens (max_length 8, with a prompt of 4)'] });
  });
});
