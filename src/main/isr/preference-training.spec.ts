import { describe, expect, it } from 'vitest';
import { preferenceRows } from './preference-training';

describe('preferenceRows', () => {
  it('lists every bad row on a line of its own, a key holding a newline shown escaped', () => {
    const at = (line: number) => ({ line, lineIndex: 0, place: `line ${line}` });
    const rows = [
      { ...at(1), value: { prompt: 'p', chosen: 'a', rejected: 'b' } },
      // What api/dataset-file.ts makes of a value with bytes that are not UTF-8 under a key "odd\nkey".
      { ...at(2), issue: { line: 2, rowId: null, field: 'odd\nkey', message: 'field "odd\nkey" on line 2 has bytes that are not valid UTF-8 (save the file as UTF-8)' } },
      { ...at(3), value: { prompt: '', chosen: 'a', rejected: 'b' } },
      // An empty response is one: the end-of-turn token alone.
      { ...at(4), value: { prompt: 'p', chosen: '', rejected: '' } },
    ];
    expect(() => preferenceRows('/data/pairs.jsonl', rows, true)).toThrow(
      '/data/pairs.jsonl: 2 bad rows:\n  field "odd\\nkey" on line 2 has bytes that are not valid UTF-8 (save the file as UTF-8)\n  line 3: prompt is empty',
    );
  });
});
