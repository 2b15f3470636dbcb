import { describe, expect, it } from 'vitest';
import { actionFor, keyOf, shortcuts } from './review-keys';

const press = (key: string, extra: Partial<KeyboardEvent> = {}) => actionFor({ key, ctrlKey: false, metaKey: false, altKey: false, target: document.body, ...extra });

describe('review keys', () => {
  it('maps each key to its action', () => {
    expect(['a', 'b', 't', 'x', 's', 'u', 'j', 'ArrowDown', 'k', 'ArrowUp', '?'].map((k) => press(k))).toEqual([
      'a', 'b', 'tie', 'both-bad', 'skip', 'undo', 'next', 'next', 'previous', 'previous', 'help',
    ]);
    expect(press('q')).toBeNull();
    expect(keyOf('both-bad')).toBe('x');
  });

  it('leaves keys alone while typing, and with a modifier held', () => {
    const input = (type: string) => Object.assign(document.createElement('input'), { type });
    for (const target of [input('text'), input('search'), input('number'), document.createElement('select'), document.createElement('textarea')]) {
      expect(press('a', { target })).toBeNull();
      expect(press('j', { target })).toBeNull();
    }
    expect(press('a', { ctrlKey: true })).toBeNull();
    expect(press('a', { metaKey: true })).toBeNull();
    expect(press('a', { altKey: true })).toBeNull();
    expect(press('a', { target: document.createElement('button') })).toBe('a');
  });

  it('keeps working after a checkbox or radio is clicked, leaving arrows to radios, sliders and videos', () => {
    const input = (type: string) => Object.assign(document.createElement('input'), { type });
    expect(press('j', { target: input('checkbox') })).toBe('next');
    expect(press('ArrowDown', { target: input('checkbox') })).toBe('next');
    expect(press('b', { target: input('radio') })).toBe('b');
    for (const target of [input('radio'), input('range'), document.createElement('video')]) {
      expect(press('ArrowDown', { target })).toBeNull();
      expect(press('k', { target })).toBe('previous');
    }
  });

  it('gives every key to one action only', () => {
    const keys = shortcuts.flatMap((s) => s.keys);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
