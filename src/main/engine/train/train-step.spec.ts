// The whole step in ONNX Runtime: forward, backward, clipping and AdamW in one graph, driven by a
// schedule over a tiny synthetic preference set until the policy prefers every chosen answer.
import { describe, expect, it } from 'vitest';
import { GRAD_NORM, updatedName } from './adamw';
import { dpoForward, tinyDecoder, TinyRun, type Preference } from './fixture';
import { defaultLoraConfig, loraInputNames } from './lora';
import { trlMetrics } from './losses';
import { buildTrainStep, LOSS, LR_INPUT, momentNames, STEP_INPUT } from './train-step';

// Prompt tokens 1-2; chosen answers count up, rejected ones repeat a token.
const pairs: Preference[] = [
  { prompt: [1, 2], chosen: [3, 4, 5], rejected: [7, 7, 7] },
  { prompt: [2, 1], chosen: [4, 5, 6], rejected: [8, 8] },
  { prompt: [1, 1], chosen: [5, 6, 7], rejected: [9, 9, 9, 9] },
  { prompt: [2, 2], chosen: [6, 7, 8], rejected: [3, 3, 3] },
];
const lora = { ...defaultLoraConfig, r: 4, alpha: 8 };

describe('buildTrainStep', () => {
  it('names what the caller feeds and reads, and returns no gradients to the host', () => {
    const ts = buildTrainStep(dpoForward(tinyDecoder(5), { loss: 'sigmoid', beta: 0.1 }), { lora });
    expect(ts.modules).toHaveLength(14);
    expect(ts.params).toHaveLength(28);
    const q = loraInputNames('model.layers.1.self_attn.q_proj');
    expect(ts.params).toContain(q.a);
    const inputs = ts.graph.inputs.map((i) => i.name);
    expect(inputs).toEqual(expect.arrayContaining([...ts.dataInputs, ...ts.params, momentNames(q.a).m, momentNames(q.b).v, LR_INPUT, STEP_INPUT]));
    expect(ts.dataInputs.sort()).toEqual(['input_ids', 'labels', 'loss_mask', 'position_ids', 'ref_chosen_logps', 'ref_rejected_logps']);
    const outputs = ts.graph.outputs.map((o) => o.name);
    expect(outputs.sort()).toEqual([LOSS, GRAD_NORM, ...trlMetrics, ...ts.params.flatMap((p) => Object.values(updatedName(p)))].sort());
    expect(ts.graph.initializers.has('model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(() => buildTrainStep(dpoForward(tinyDecoder(5), { loss: 'sigmoid', beta: 0.1 }), { lora: { ...lora, targets: ['c_attn'] } })).toThrow(/no module/);
    expect(() => buildTrainStep(dpoForward(tinyDecoder(5), { loss: 'sigmoid', beta: 0.1 }), { lora: { ...lora, dropout: 0.1 } })).toThrow(/dropout/);
  });

  it('trains in ONNX Runtime until rewards/accuracies is 1 and the loss falls', async () => {
    const run = await TinyRun.create({
      pairs, dpo: { loss: 'sigmoid', beta: 0.1 }, lora, batchSize: 4,
      schedule: { kind: 'cosine', lr: 0.05, warmupSteps: 2, totalSteps: 30 }, optimizer: { weightDecay: 0 },
    });
    const state = run.initialState(1);
    const history = [];
    for (let i = 0; i < 30; i++) history.push(await run.next(state));
    await run.release();
    // Step 0: lr 0 and B = 0, so the policy is the reference: logits 0, loss ln 2, rewards 0.
    expect(history[0].loss).toBeCloseTo(Math.LN2, 6);
    expect(history[0].metrics['rewards/margins']).toBeCloseTo(0, 6);
    expect(history[0].gradNorm).toBeGreaterThan(0);
    const last = history[history.length - 1];
    expect(last.metrics['rewards/accuracies']).toBe(1);
    expect(last.metrics['rewards/margins']).toBeGreaterThan(1);
    expect(last.loss).toBeLessThan(0.5 * Math.LN2);
    expect(state.step).toBe(30);
  });
});
