// The whole step in ONNX Runtime: forward, backward, clipping and AdamW in one graph, driven by a
// schedule over a tiny synthetic preference set until the policy prefers every chosen answer.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder';
import { serialize } from '../graph/onnx';
import { runReference, tensor64 } from '../graph/reference';
import { Session } from '../graph/session';
import { GRAD_NORM, updatedName } from './adamw';
import { dpoForward, tinyDecoder, TinyRun, type Preference } from '../testing/tiny-decoder';
import { defaultLoraConfig, loraInputNames } from './lora';
import { trlMetrics } from './losses';
import { buildTrainStep, DROPOUT_SEED, hashDropout, LOSS, LR_INPUT, momentNames, STEP_INPUT } from './train-step';

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
    expect(() => buildTrainStep(dpoForward(tinyDecoder(5), { loss: 'sigmoid', beta: 0.1 }), { lora: { ...lora, dropout: 1 } })).toThrow('LoRA dropout must be in [0, 1), got 1');
    expect(ts.dataInputs).not.toContain(DROPOUT_SEED);
    const dropped = buildTrainStep(dpoForward(tinyDecoder(5), { loss: 'sigmoid', beta: 0.1 }), { lora: { ...lora, dropout: 0.1 } });
    expect(dropped.dataInputs).toContain(DROPOUT_SEED);
    expect(dropped.graph.nodes.some((n) => n.name.includes('/lora/dropout/'))).toBe(true);
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

describe('hashDropout', () => {
  const dims = [4, 16, 32];
  function maskGraph(p: number, salt: number) {
    const b = new GraphBuilder('dropout');
    const x = b.input('x', 'float32', dims);
    b.output(hashDropout(b, x, b.input(DROPOUT_SEED, 'int64', []), salt, p), 'y');
    return b.build();
  }
  const ones = new Float32Array(4 * 16 * 32).fill(1);
  async function masks(p: number, salt: number, seeds: number[]): Promise<Float32Array[]> {
    const session = await Session.create(serialize(maskGraph(p, salt)), { graphName: 'dropout' });
    try {
      const out: Float32Array[] = [];
      for (const seed of seeds) {
        const y = await session.run({ x: new ort.Tensor('float32', ones, dims), [DROPOUT_SEED]: new ort.Tensor('int64', BigInt64Array.of(BigInt(seed)), []) });
        out.push(y.y.data as Float32Array);
      }
      return out;
    } finally {
      await session.release();
    }
  }

  it('keeps 1 - p of the elements, scaled by 1 / (1 - p), the same for a seed and fresh for another or another module', async () => {
    const p = 0.25;
    const [a, again, other] = await masks(p, 3, [11, 11, 12]);
    const [salted] = await masks(p, 4, [11]);
    const kept = a.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / (1 - p))]));
    expect(kept.length / a.length).toBeGreaterThan(0.72);
    expect(kept.length / a.length).toBeLessThan(0.78);
    expect(again).toEqual(a);
    // Independent masks disagree on about 2 p (1 - p) = 37.5% of the elements.
    for (const m of [other, salted]) {
      const differ = m.filter((v, i) => (v === 0) !== (a[i] === 0)).length / a.length;
      expect(differ).toBeGreaterThan(0.32);
      expect(differ).toBeLessThan(0.43);
    }
  });

  it('draws in ONNX Runtime exactly the mask the float64 reference interpreter draws', async () => {
    const [ort32] = await masks(0.1, 7, [123456789]);
    const ref = runReference(maskGraph(0.1, 7), { x: tensor64('float32', dims, Array.from(ones)), [DROPOUT_SEED]: tensor64('int64', [], [123456789]) }, ['y']).y;
    expect(Array.from(ort32, (v) => v !== 0)).toEqual(Array.from(ref.data, (v) => v !== 0));
  });
});
