import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../generate/sampling';
import { TinyRun, type Preference } from '../testing/tiny-decoder';
import { defaultLoraConfig } from './lora';
import { loadState, newTrainState, nextBatch, saveState, STATE_FILE, type TrainState } from './state';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'state-spec-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// Six pairs in batches of four: every other step crosses an epoch and reshuffles.
const pairs: Preference[] = Array.from({ length: 6 }, (_, i) => ({
  prompt: [1 + (i % 2), 2], chosen: [3 + (i % 5), 4, 5], rejected: [7 + (i % 3), 7 + (i % 3)],
}));
const options = {
  pairs, dpo: { loss: 'sigmoid' as const, beta: 0.1 }, lora: { ...defaultLoraConfig, r: 2, alpha: 4 }, batchSize: 4,
  schedule: { kind: 'cosine' as const, lr: 0.02, warmupSteps: 1, totalSteps: 4 },
};

describe('training state', () => {
  it('orders data by epochs: each epoch a permutation, a short last batch, reproducible from the seed', () => {
    const state = newTrainState({}, 6, new Rng(3));
    const batches = Array.from({ length: 6 }, () => nextBatch(state, 4));
    expect(batches.map((b) => b.length)).toEqual([4, 2, 4, 2, 4, 2]);
    for (let e = 0; e < 3; e++) expect([...batches[2 * e], ...batches[2 * e + 1]].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batches[0]).not.toEqual(batches[2]);
    expect(state.epoch).toBe(2);
    const again = newTrainState({}, 6, new Rng(3));
    expect(Array.from({ length: 6 }, () => nextBatch(again, 4))).toEqual(batches);
  });

  it('resumes exactly: 2 steps, save, load in a fresh run, 2 more equal 4 uninterrupted steps, bit for bit', async () => {
    const straight = await TinyRun.create(options);
    const a = straight.initialState(11);
    const lossesA: number[] = [];
    for (let i = 0; i < 4; i++) lossesA.push((await straight.next(a)).loss);
    await straight.release();

    const first = await TinyRun.create(options);
    const b0 = first.initialState(11);
    const lossesB: number[] = [];
    for (let i = 0; i < 2; i++) lossesB.push((await first.next(b0)).loss);
    await first.release();
    const dir = path.join(root, 'run');
    saveState(dir, b0);

    const resumed = await TinyRun.create(options);
    const b = loadState(dir);
    expect(b).not.toBe(b0);
    for (let i = 0; i < 2; i++) lossesB.push((await resumed.next(b)).loss);
    await resumed.release();

    expect(lossesB).toEqual(lossesA);
    const plain = (s: TrainState) => ({ ...s, params: tensors(s.params), m: tensors(s.m), v: tensors(s.v) });
    expect(plain(b)).toEqual(plain(a));
    expect(b.step).toBe(4);
    expect(Object.values(a.params).some((t) => t.data.some((x) => x !== 0))).toBe(true);
  });

  it('saves atomically: the JSON names one tensors file, older ones are removed, nothing temporary stays', () => {
    const state = newTrainState({ w: { dims: [2, 2], data: Float32Array.of(1, -2, 3.5, 1e-30) } }, 3, new Rng(1));
    const dir = path.join(root, 'atomic');
    saveState(dir, state);
    state.step = 7;
    state.m.w.data[0] = 0.25;
    saveState(dir, state);
    expect(fs.readdirSync(dir).sort()).toEqual(['train_state-00000007.safetensors', STATE_FILE]);
    const back = loadState(dir);
    expect(back.params.w).toEqual({ dims: [2, 2], data: Float32Array.of(1, -2, 3.5, 1e-30) });
    expect(back.m.w.data[0]).toBe(0.25);
    expect(back.step).toBe(7);
    fs.writeFileSync(path.join(dir, STATE_FILE), '{"format":"isr-studio-train-state","version":1}');
    expect(() => loadState(dir)).toThrow(/train_state\.json: tensors/);
  });
});

function tensors(r: Record<string, { dims: readonly number[]; data: Float32Array }>) {
  return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, { dims: [...t.dims], data: Array.from(t.data) }]));
}
