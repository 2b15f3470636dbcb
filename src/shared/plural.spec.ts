import { describe, expect, it } from 'vitest';
import { count } from './plural';

describe('count', () => {
  it('puts the noun in the singular for one and only for one', () => {
    expect(count(1, 'round')).toBe('1 round');
    expect(count(0, 'round')).toBe('0 rounds');
    expect(count(2, 'pair')).toBe('2 pairs');
    expect(count(1, 'reading step')).toBe('1 reading step');
  });

  it('takes the plural of a noun that needs more than an s', () => {
    expect(count(3, 'match', 'matches')).toBe('3 matches');
    expect(count(1, 'match', 'matches')).toBe('1 match');
  });
});
