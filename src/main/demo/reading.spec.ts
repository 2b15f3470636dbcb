import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/prng';
import { readingItems } from './reading';
import { loadTemplates } from '../isr/templates';

const templates = loadTemplates();
const instruction = templates.judge.split('\n').at(-1)!;

/** Every "The <colour> <kind> moves <dir>." of a response is one of the caption's shapes. */
const truthful = (response: string, caption: string) =>
  [...response.matchAll(/The (\w+) (\w+) moves (\w+)\./g)].every(([, colour, kind, direction]) => caption.includes(`${colour} ${kind} moving ${direction}`));

describe('reading items', () => {
  it('labels the truthful response better, in either position, with no length cue', () => {
    const items = readingItems(400, 'full', templates, mulberry32(3));
    expect(items).toHaveLength(400);
    let [firstBetter, betterPadded, worsePadded, worseFalse] = [0, 0, 0, 0];
    for (const { text, target } of items) {
      if (text === null) throw new Error('the judge template has no lookup items');
      const [better, worse] = target === 'A' ? [text.first, text.second] : [text.second, text.first];
      expect(truthful(better, text.context!)).toBe(true);
      // The worse one is either another answer or the same answer with an invented shape.
      const sameAnswer = better.split('.')[0] === worse.split('.')[0];
      expect(sameAnswer && truthful(worse, text.context!)).toBe(false);
      if (!truthful(worse, text.context!)) worseFalse++;
      if (target === 'A') firstBetter++;
      if (better.includes(' ')) betterPadded++;
      if (worse.includes(' ')) worsePadded++;
    }
    expect(firstBetter / items.length).toBeGreaterThan(0.4);
    expect(firstBetter / items.length).toBeLessThan(0.6);
    expect(Math.abs(betterPadded - worsePadded) / items.length).toBeLessThan(0.1);
    expect(worseFalse).toBeGreaterThan(items.length / 5);
  });

  it('draws fresh scenes, and shows the judge template, or a lookup before each short-prompt item, text only', () => {
    const full = readingItems(60, 'full', templates, mulberry32(3));
    const short = readingItems(120, 'short', templates, mulberry32(3));
    const lookups = short.filter((_, k) => k % 2 === 0);
    const judged = short.filter((_, k) => k % 2 === 1);
    // The same seed draws the same judge items; only the prompt differs.
    expect(judged.map((i) => i.text)).toEqual(full.map((i) => i.text));
    expect(new Set(full.map((i) => i.text!.context)).size).toBeGreaterThan(15);
    for (const [k, item] of full.entries()) {
      const prompt = JSON.stringify(item.messages);
      expect(prompt).toContain(instruction);
      expect(prompt).toContain(JSON.stringify(item.text!.context).slice(1, -1));
      expect(JSON.stringify(judged[k].messages)).not.toContain(instruction);
      expect(JSON.stringify(judged[k].messages)).toContain(`A: ${item.text!.first}\\nB: ${item.text!.second}\\nA or B?`);
      // The lookup before it asks the same question of the same description, answered by the better response's answer.
      expect(lookups[k].text).toBeNull();
      expect(JSON.stringify(lookups[k].messages)).toContain(JSON.stringify(`Description: ${item.text!.context}\nQuestion: ${item.text!.question}\nAnswer:`).slice(1, -1));
      const better = item.target === 'A' ? item.text!.first : item.text!.second;
      expect(better.split('.')[0]).toBe(lookups[k].target);
      for (const m of [...item.messages, ...judged[k].messages, ...lookups[k].messages]) expect(JSON.stringify(m.content)).not.toContain('"video"');
    }
  });
});
