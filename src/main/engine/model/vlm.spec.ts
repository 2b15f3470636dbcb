import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax } from '../generate/sampling';
import { float32ToBF16Bits } from '../graph/half-float';
import { openCheckpoint, writeCheckpoint } from '../graph/safetensors';
import { fixtureArchs, writeFixture, type FixtureArch } from './fixture';
import type { ChatMessage } from './tokenizer';
import { VideoLanguageModel } from './vlm';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'Describe the video.'];
const ask: ChatMessage[] = [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'What colour is the square?' }] }];
/** A clip of `n` frames one second apart (SmolVLM2's prompt states their times). */
const clip = (n: number) => ({ frames: n, timesS: Array.from({ length: n }, (_, i) => i), durationS: n });

/** Frames of one flat colour with a bright square whose place depends on `shift`. */
function frames(n: number, size: { width: number; height: number }, shift: number): Uint8Array[] {
  return Array.from({ length: n }, (_, f) => {
    const img = new Uint8Array(size.width * size.height * 3).fill(40);
    const x0 = (f * 3 + shift) % (size.width - 8);
    for (let y = 4; y < 12; y++) for (let x = x0; x < x0 + 8; x++) img.set([250, 200 - shift * 20, 30], (y * size.width + x) * 3);
    return img;
  });
}

describe.each(fixtureArchs)('%s model folder', (arch: FixtureArch) => {
  let dir: string;
  let model: VideoLanguageModel;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isr-vlm-'));
    writeFixture(dir, { arch, size: 'tiny', seed: 4, corpus });
    model = await VideoLanguageModel.load(dir);
  });
  afterAll(async () => {
    await model.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the prompt exactly as many feature rows as it has visual tokens', async () => {
    const features = await model.visualFeatures(frames(3, model.frameSize, 0));
    const prompt = model.prompt(ask, clip(3));
    expect(features.length).toBe(prompt.visualTokens * model.config.text.hiddenSize);
  });

  it('answers greedily as the full forward pass predicts, token by token, and depends on the video', async () => {
    const prompt = model.prompt(ask, clip(2));
    const features = await model.visualFeatures(frames(2, model.frameSize, 0));
    const [answer] = await model.generate([{ prompt, features }], { maxNewTokens: 6, stopTokenIds: [] });
    expect(answer.tokenIds).toHaveLength(6);
    // Independent of the KV cache: append each token and re-run the whole sequence without one.
    const vocab = model.config.text.vocabSize;
    const ids = [...prompt.inputIds];
    for (const token of answer.tokenIds) {
      const logits = await model.logits({ prompt: { ...prompt, inputIds: ids }, features });
      expect(token).toBe(argmax(logits.subarray(logits.length - vocab)));
      ids.push(token);
    }
    const other = await model.visualFeatures(frames(2, model.frameSize, 3));
    const [a, b] = await Promise.all([model.logits({ prompt, features }), model.logits({ prompt, features: other })]);
    const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    expect(diff).toBeGreaterThan(1e-4);
  });

  it('maps the attention of a position onto each frame: non-negative, summing to the visual share', async () => {
    const prompt = model.prompt(ask, clip(3));
    const features = await model.visualFeatures(frames(3, model.frameSize, 1));
    const last = prompt.inputIds.length - 1;
    const att = await model.visualAttention({ prompt, features }, [last]);
    expect(att.maps).toHaveLength(3);
    for (const map of att.maps) {
      expect(map).toHaveLength(att.rows * att.cols);
      expect(Math.min(...map)).toBeGreaterThanOrEqual(0);
    }
    const onFrames = att.maps.reduce((s, m) => s + m.reduce((a, v) => a + v, 0), 0);
    expect(att.visualShare).toBeGreaterThan(0);
    expect(att.visualShare).toBeLessThanOrEqual(1);
    // LLaVA-OneVision's trailing image_newline is a visual token outside every frame's grid.
    const outsideGrids: Record<string, boolean> = { 'llava-onevision': true, idefics3: false };
    if (outsideGrids[arch]) expect(onFrames).toBeLessThanOrEqual(att.visualShare + 1e-6);
    else expect(onFrames).toBeCloseTo(att.visualShare, 5);
    await expect(model.visualAttention({ prompt, features }, [prompt.inputIds.length])).rejects.toThrow(/outside the prompt/);
    // The same pass predicts the next token as the full forward and the cached prefill do.
    const { lastLogits } = await model.attendAndPredict({ prompt, features }, [last]);
    const full = await model.logits({ prompt, features });
    const tail = full.subarray(full.length - model.config.text.vocabSize);
    for (const other of [tail, await model.lastLogits({ prompt, features })]) {
      expect(lastLogits.reduce((m, v, i) => Math.max(m, Math.abs(v - other[i])), 0)).toBeLessThan(1e-4);
    }
  });

  it('refuses a prompt that shows a video without its features', async () => {
    await expect(model.logits({ prompt: model.prompt(ask, clip(2)), features: null })).rejects.toThrow(/no features were given/);
  });
});

describe('loading a model folder', () => {
  it('loads a sharded BF16 checkpoint as published models ship, with the logits of its F32 original', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-vlm-bf16-'));
    writeFixture(dir, { arch: 'idefics3', size: 'tiny', seed: 2, corpus });
    const f32 = await VideoLanguageModel.load(dir);
    const prompt = f32.prompt([{ role: 'user', content: 'What colour is the square?' }], 0);
    const before = await f32.logits({ prompt, features: null });
    const source = openCheckpoint(dir);
    const tensors = Object.fromEntries(source.names().map((n) => [n, { dtype: 'BF16' as const, shape: source.info(n).shape, data: float32ToBF16Bits(source.readAsFloat32(n)) }]));
    source.close();
    await f32.release();
    rmSync(join(dir, 'model.safetensors'));
    writeCheckpoint(dir, tensors, { maxShardBytes: 64 * 1024 });
    expect(readdirSync(dir)).toContain('model.safetensors.index.json');
    expect(readdirSync(dir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    const bf16 = await VideoLanguageModel.load(dir);
    const after = await bf16.logits({ prompt, features: null });
    await bf16.release();
    // BF16 keeps 8 significant bits: logits move by about a percent of their range, no more.
    const range = Math.max(...before) - Math.min(...before);
    const worst = before.reduce((m, v, i) => Math.max(m, Math.abs(v - after[i])), 0);
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.05 * range);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the file when the preprocessor does not fit the vision tower', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-vlm-bad-'));
    writeFixture(dir, { arch: 'llava-onevision', size: 'tiny', seed: 1, corpus });
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ size: { height: 48, width: 48 } }));
    await expect(VideoLanguageModel.load(dir)).rejects.toThrow(`${join(dir, 'preprocessor_config.json')}: frames of 48x48 (its size, or max_image_size) do not fit`);
    rmSync(dir, { recursive: true, force: true });
  });
});
