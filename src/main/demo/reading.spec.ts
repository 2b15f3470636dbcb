import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/prng';
import { matchDescription, readingItems } from './reading';
import { loadTemplates } from '../isr/templates';

const templates = loadTemplates();
const instruction = templates.judge.split('\n').at(-1)!;

/** Every "The <colour> <kind> moves <dir>." of a response is one of the caption's shapes. */
const truthful = (response: string, caption: string) =>
  [...response.matchAll(/The (\w+) (\w+) moves (\w+)\./g)].every(([, colour, kind, direction]) => caption.includes(`${colour} ${kind} moving ${direction}`));

describe('reading items', () => {
  it('labels the truthful response better, in both positions of every pair, with no length cue', () => {
    const items = readingItems(400, 0, templates, mulberry32(3));
    expect(items).toHaveLength(400);
    let [betterPadded, worsePadded, worseFalse] = [0, 0, 0];
    for (const [k, { text, target, better: label, task }] of items.entries()) {
      expect(task).toBe('judge');
      expect(target).toBe(` ${label}`);
      const [better, worse] = label === 'A' ? [text.first, text.second] : [text.second, text.first];
      expect(truthful(better, text.context!)).toBe(true);
      // The worse one is either another answer or the same answer with an invented shape.
      const sameAnswer = better.split('.')[0] === worse.split('.')[0];
      expect(sameAnswer && truthful(worse, text.context!)).toBe(false);
      if (!truthful(worse, text.context!)) worseFalse++;
      if (better.includes(' ')) betterPadded++;
      if (worse.includes(' ')) worsePadded++;
      // Each pair comes twice, the second time swapped, with the label following the better response.
      if (k % 2 === 1) {
        const shown = items[k - 1];
        expect([text.first, text.second, label]).toEqual([shown.text.second, shown.text.first, shown.better === 'A' ? 'B' : 'A']);
      }
    }
    expect(Math.abs(betterPadded - worsePadded) / items.length).toBeLessThan(0.1);
    expect(worseFalse).toBeGreaterThan(items.length / 5);
  });

  it('gives the answer as the description of match items, whose responses are that answer and another, bare', () => {
    const items = readingItems(300, 0.5, templates, mulberry32(4));
    const match = items.filter((i) => i.task === 'match');
    expect(match.length / items.length).toBeGreaterThan(0.35);
    expect(match.length / items.length).toBeLessThan(0.65);
    for (const { text, better } of match) {
      const [good, bad] = better === 'A' ? [text.first, text.second] : [text.second, text.first];
      expect(text.context).toBe(matchDescription(good));
      expect(bad).not.toBe(good);
      for (const response of [good, bad]) expect(response).toMatch(/^\w+$/);
    }
  });

  it('draws scenes of many shapes more often with longScenes: four times as often four shapes as one', () => {
    // The share of scenes of each shape count (a scene's items come one after another, with its
    // caption); uniform draws give a quarter each.
    const shares = (longScenes: boolean) => {
      const captions = readingItems(4000, 0, templates, mulberry32(5), longScenes).map((i) => i.text.context!).filter((c, k, all) => k === 0 || c !== all[k - 1]);
      const shapes = captions.map((c) => c.match(/ moving (left|right|up|down)/g)!.length);
      return [1, 2, 3, 4].map((n) => shapes.filter((k) => k === n).length / shapes.length);
    };
    const [uniform, long] = [shares(false), shares(true)];
    for (const share of uniform) expect(Math.abs(share - 0.25)).toBeLessThan(0.05);
    // Kept with a chance of shapes / 4: shares 1:2:3:4 of 10.
    for (const [k, share] of long.entries()) expect(Math.abs(share - (k + 1) / 10)).toBeLessThan(0.05);
  });

  it('draws fresh scenes and shows the judge template, text only', () => {
    const items = readingItems(120, 1 / 3, templates, mulberry32(3));
    expect(new Set(items.filter((i) => i.task === 'judge').map((i) => i.text.context)).size).toBeGreaterThan(10);
    for (const item of items) {
      const prompt = JSON.stringify(item.messages);
      expect(prompt).toContain(instruction);
      expect(prompt).toContain(JSON.stringify(item.text.context).slice(1, -1));
      for (const m of item.messages) expect(JSON.stringify(m.content)).not.toContain('"video"');
    }
  });
});
