import { describe, expect, it } from 'vitest';
import { validateRow } from './dataset-row';

const at = (line: number) => ({ line, place: `line ${line}` });

describe('validateRow', () => {
  it('accepts string and number ids and an optional or null answer', () => {
    expect(validateRow({ id: 5, video: 'a.mp4', question: 'Why?' }, at(1))).toEqual({
      row: { rowId: '5', video: 'a.mp4', question: 'Why?', answer: null },
    });
    expect(validateRow({ id: 'x', video: 'a.mp4', question: 'Q', answer: 'red', extra: 1 }, at(1))).toEqual({
      row: { rowId: 'x', video: 'a.mp4', question: 'Q', answer: 'red' },
    });
    expect(validateRow({ id: 'x', video: 'a.mp4', question: 'Q', answer: null }, at(1))).toMatchObject({ row: { answer: null } });
  });

  it.each([
    [{ id: 1, video: 'a.mp4' }, 'question', 'line 3: question is missing', '1'],
    [{ id: 1, video: 'a.mp4', question: '   ' }, 'question', 'line 3: question is empty', '1'],
    [{ id: 1, video: 'a.mp4', question: 42 }, 'question', 'line 3: question must be a string', '1'],
    [{ video: 'a.mp4', question: 'q' }, 'id', 'line 3: id is missing', null],
    [{ id: true, video: 'a.mp4', question: 'q' }, 'id', 'line 3: id must be a string or a number', null],
    [{ id: '', video: 'a.mp4', question: 'q' }, 'id', 'line 3: id is empty', ''],
    [{ id: 'r', question: 'q' }, 'video', 'line 3: video is missing', 'r'],
    [{ id: 'r', video: '', question: 'q' }, 'video', 'line 3: video is empty', 'r'],
    [{ id: 'r', video: 'v', question: 'q', answer: 3 }, 'answer', 'line 3: answer must be a string', 'r'],
  ])('rejects %j naming the field', (value, field, message, rowId) => {
    expect(validateRow(value, at(3))).toEqual({ issue: { line: 3, rowId, field, message } });
  });

  it('rejects a row that is not an object', () => {
    for (const value of [[1, 2], 'text', 7, null]) {
      expect(validateRow(value, at(9))).toEqual({ issue: { line: 9, rowId: null, field: null, message: 'line 9 is not a JSON object' } });
    }
  });
});
