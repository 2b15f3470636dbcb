import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFixture } from '../engine/model/fixture';
import { VideoLanguageModel } from '../engine/model/vlm';
import { bothOrders, judge, judgeBothOrders, judgeMessages, type ShownFirst } from './judge';
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
      expect(made).toEqual([['a', shown.pFirst], ['b', swapped.pFirst]]);
      expect(both).toEqual({ pFirst: { a: shown.pFirst, b: swapped.pFirst }, pA: bothOrders(shown.pFirst, swapped.pFirst) });
      // A resumed round: the order already stored is taken as given, only the other is judged.
      made.length = 0;
      const resumed = await judgeBothOrders(vlm, templates, input, { known: { a: 0.9 }, onVerdict: (order, v) => made.push([order, v.pFirst]) });
      expect(made).toEqual([['b', swapped.pFirst]]);
      expect(resumed.pA).toBeCloseTo((0.9 + 1 - swapped.pFirst) / 2, 12);
    } finally {
      await vlm.release();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
