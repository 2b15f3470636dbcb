// The collator's layout, without a model: embeddings are a stand-in (each id as [id, -id]) so the
// test reads which row holds which tokens.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../model/config';
import type { LanguageModel } from '../model/language-model';
import { PreferenceCollator } from './collator';
import { trainInputs } from './policy-forward';
import type { TrainExample } from './train-config';

const model = {
  config: { arch: 'idefics3', text: { hiddenSize: 2 } } as ModelConfig,
  lm: { embed: (ids: readonly number[]) => Float32Array.from(ids.flatMap((id) => [id, -id])) } as unknown as LanguageModel,
};
const examples: TrainExample[] = [
  { prompt: [1, 2], chosen: [3, 9], rejected: [4, 5, 9] },
  { prompt: [6], chosen: [7, 9], rejected: [8, 9] },
];
const values = (feeds: Record<string, { data: unknown }>, name: string) => Array.from(feeds[name].data as ArrayLike<number | bigint>, Number);

describe('PreferenceCollator', () => {
  it("lays out TRL's concatenated rows: chosen [0, P), rejected [P, 2P), right-padded, labels shifted, loss on responses", async () => {
    const collator = new PreferenceCollator(model, examples, { loss: 'sigmoid', trainProjector: false, trainEmbeddings: false }, 0);
    const { feeds, tokens } = await collator.batch([1, 0], Float32Array.of(-1, -2, -3, -4));
    // Rows: [6 7 9], [1 2 3 9], [6 8 9], [1 2 4 5 9]; padded to 5.
    expect(tokens).toBe(3 + 4 + 3 + 5);
    expect(feeds[trainInputs.embeds].dims).toEqual([4, 5, 2]);
    expect(values(feeds, trainInputs.embeds).filter((_, i) => i % 2 === 0)).toEqual([6, 7, 9, 0, 0, 1, 2, 3, 9, 0, 6, 8, 9, 0, 0, 1, 2, 4, 5, 9]);
    expect(values(feeds, trainInputs.mask)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    // Logits only where a response token is predicted: positions 0 (prompt [6] ends) to 3 (before 9 of the longest row).
    expect(values(feeds, trainInputs.logitsPositions)).toEqual([0, 1, 2, 3]);
    expect(values(feeds, trainInputs.labels)).toEqual([7, 9, 0, 0, 2, 3, 9, 0, 8, 9, 0, 0, 2, 4, 5, 9]);
    expect(values(feeds, trainInputs.lossMask)).toEqual([1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(values(feeds, trainInputs.positions)).toEqual(Array.from({ length: 4 }, () => [0, 1, 2, 3, 4]).flat());
    expect(values(feeds, trainInputs.refChosen)).toEqual([-2, -1]);
    expect(values(feeds, trainInputs.refRejected)).toEqual([-4, -3]);
  });

  it('gives SFT the chosen rows alone and no reference feeds', async () => {
    const collator = new PreferenceCollator(model, examples, { loss: 'sft', trainProjector: false, trainEmbeddings: false }, 0);
    const { feeds } = await collator.batch([0]);
    // Row [1 2 3 9]: positions 1 and 2 predict the response 3 9.
    expect(values(feeds, trainInputs.logitsPositions)).toEqual([1, 2]);
    expect(feeds[trainInputs.labels].dims).toEqual([1, 2]);
    expect(trainInputs.refChosen in feeds).toBe(false);
  });

  it('refuses a DPO batch without the reference log-probs', async () => {
    const collator = new PreferenceCollator(model, examples, { loss: 'sigmoid', trainProjector: false, trainEmbeddings: false }, 0);
    await expect(collator.batch([0])).rejects.toThrow('a DPO batch needs the reference log-probs');
  });
});
