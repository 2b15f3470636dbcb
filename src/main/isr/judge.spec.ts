import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFixture } from '../engine/model/fixture';
import { VideoLanguageModel } from '../engine/model/vlm';
import { bothOrders, judge, judgeBothOrders, judgeMessages, type ShownFirst, type Verdict } from './judge';
import { loadTemplates, templateNames } from './templates';

const templates = loadTemplates();
const base = { question: 'What colour is the square?', first: 'Red.', second: 'A long story about a blue square.' };

describe("the judge's prompt in each mode", () => {
  it('holds the video and the context only when the mode shows them', () => {
    const isr = judgeMessages(templates, { ...base, context: 'A red square moves left.' }, true);
    const noContext = judgeMessages(templates, { ...base, context: null }, true);
    const textJudge = judgeMessages(templates, { ...base, context: null }, false);
    const parts = (m: ReturnType<typeof judgeMessages>) => (typeof m[0].content === 'string' ? [{ type: 'text', text: m[0].content }] : m[0].content);
    const text = (m: ReturnType<typeof judgeMessages>) => parts(m).map((p) => ('text' in p ? p.text : `<${p.type}>`)).join('');
    expect(parts(isr)[0]).toEqual({ type: 'video' });
    expect(text(isr)).toContain('A red square moves left.');
    expect(parts(noContext)[0]).toEqual({ type: 'video' });
    expect(text(noContext)).not.toContain('Description of the video');
    expect(typeof textJudge[0].content).toBe('string');
    expect(text(textJudge)).not.toContain('<video>');
    expect(text(textJudge)).not.toContain('Description of the video');
    for (const m of [isr, noContext, textJudge]) {
      expect(text(m)).toContain('Response A: Red.');
      expect(text(m)).toContain('Response B: A long story about a blue square.');
    }
  });

  it('names a placeholder a template uses but the step does not provide', () => {
    expect(() => judgeMessages({ ...templates, judge: '{question} {verdict}' }, { ...base, context: null }, false)).toThrow('prompt template "judge" uses {verdict}');
  });
});

describe('judging a pair in both orders', () => {
  it('judges A first then B first, averages them, and judges no order it is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-judge-'));
    writeFixture(dir, { arch: 'idefics3', size: 'tiny', seed: 2, corpus: [...templateNames.map((n) => templates[n]), base.question, base.first, base.second] });
    const vlm = await VideoLanguageModel.load(dir);
    try {
      const input = { ...base, context: null, features: null, video: { frames: 0 } };
      const shown = await judge(vlm, templates, input);
      const swapped = await judge(vlm, templates, { ...input, first: base.second, second: base.first });
      expect(shown.pFirst).not.toBe(swapped.pFirst);
      const made: [ShownFirst, number][] = [];
      const both = await judgeBothOrders(vlm, templates, input, { onVerdict: (order, v) => made.push([order, v.pFirst]) });
      // Both orders go on from their shared prefix, run once: the same verdicts to float32 rounding.
      expect(made.map(([order]) => order)).toEqual(['a', 'b']);
      expect(made[0][1]).toBeCloseTo(shown.pFirst, 6);
      expect(made[1][1]).toBeCloseTo(swapped.pFirst, 6);
      expect(both.pFirst).toEqual({ a: made[0][1], b: made[1][1] });
      expect(both.pA).toBe(bothOrders(made[0][1], made[1][1]));
      // A resumed round: the order already stored is taken as given, only the other is judged, and
      // exactly as the uninterrupted call judged it.
      const uninterrupted = made[1][1];
      made.length = 0;
      const resumed = await judgeBothOrders(vlm, templates, input, { known: { a: 0.9 }, onVerdict: (order, v) => made.push([order, v.pFirst]) });
      expect(made).toEqual([['b', uninterrupted]]);
      expect(resumed.pA).toBeCloseTo((0.9 + 1 - uninterrupted) / 2, 12);
    } finally {
      await vlm.release();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('judges a video in both orders from their shared prefix as it judges each order alone, attention maps included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-judge-'));
    const context = 'A red square moves left, then a blue circle appears.';
    writeFixture(dir, { arch: 'llava-onevision', size: 'tiny', seed: 3, corpus: [...templateNames.map((n) => templates[n]), base.question, base.first, base.second, context] });
    const vlm = await VideoLanguageModel.load(dir);
    try {
      const { width, height } = vlm.frameSize;
      const frames = Array.from({ length: 2 }, (_, f) => Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 31 + f * 97) % 256));
      const input = { ...base, context, features: await vlm.visualFeatures(frames), video: { frames: 2 } };
      const alone = [await judge(vlm, templates, input), await judge(vlm, templates, { ...input, first: base.second, second: base.first })];
      const verdicts: Verdict[] = [];
      await judgeBothOrders(vlm, templates, input, { onVerdict: (_order, v) => verdicts.push(v) });
      expect(verdicts).toHaveLength(2);
      verdicts.forEach((v, k) => {
        expect(v.pFirst).toBeCloseTo(alone[k].pFirst, 6);
        const [got, want] = [v.attention!, alone[k].attention!];
        expect(got.visualShare).toBeCloseTo(want.visualShare, 6);
        expect(got.maps).toHaveLength(2);
        got.maps.forEach((map, f) => map.forEach((x, i) => expect(x, `order ${k}, frame ${f}, cell ${i}`).toBeCloseTo(want.maps[f][i], 6)));
      });
      // The two orders differ, so the check is not of one verdict against itself.
      expect(Math.abs(alone[0].pFirst - alone[1].pFirst)).toBeGreaterThan(1e-4);
    } finally {
      await vlm.release();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
