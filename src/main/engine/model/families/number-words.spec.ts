import { describe, expect, it } from 'vitest';
import { cardinalWords } from './number-words';

describe('cardinalWords', () => {
  it("writes what num2words writes in English (its documented outputs)", () => {
    const expected: [number, string][] = [
      [0, 'zero'], [1, 'one'], [8, 'eight'], [13, 'thirteen'], [20, 'twenty'], [21, 'twenty-one'], [64, 'sixty-four'],
      [100, 'one hundred'], [101, 'one hundred and one'], [342, 'three hundred and forty-two'],
      [1000, 'one thousand'], [1001, 'one thousand and one'], [1234, 'one thousand, two hundred and thirty-four'],
    ];
    for (const [n, words] of expected) expect(cardinalWords(n)).toBe(words);
  });

  it('refuses what it cannot write', () => {
    expect(() => cardinalWords(1.5)).toThrow(/cannot write 1.5 in words/);
    expect(() => cardinalWords(-1)).toThrow(/cannot write -1/);
  });
});
