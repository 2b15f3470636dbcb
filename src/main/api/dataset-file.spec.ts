import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { readDatasetFile } from './dataset-file';

const dir = mkdtempSync(join(tmpdir(), 'isr-dsfile-'));
let n = 0;
function file(content: string | Buffer): string {
  const path = join(dir, `d${n++}.jsonl`);
  writeFileSync(path, content);
  return path;
}

async function fileError(path: string): Promise<ApiError> {
  const err = await readDatasetFile(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).code).toBe('bad_input');
  expect((err as ApiError).message).toContain(path);
  return err as ApiError;
}

/** A row alone on its line. */
const at = (line: number) => ({ line, lineIndex: 0, place: `line ${line}` });

describe('readDatasetFile', () => {
  it('reads JSONL with line numbers, skipping blank lines and accepting CRLF and a BOM', async () => {
    const rows = await readDatasetFile(file('\ufeff{"id":1}\r\n\n  \n{"id":2}\n{"id":3}'));
    expect(rows).toEqual([
      { ...at(1), value: { id: 1 } },
      { ...at(4), value: { id: 2 } },
      { ...at(5), value: { id: 3 } },
    ]);
  });

  it('reads a JSON array, giving each element the line it starts on', async () => {
    const text = '[\n  {"id": 1, "q": "a ] , { tricky \\" string"},\n\n  {"id": 2,\n   "nested": [1, {"x": [2]}]},\n  {"id": 3}\n]\n';
    const rows = await readDatasetFile(file(text));
    expect(rows).toEqual([
      { ...at(2), value: { id: 1, q: 'a ] , { tricky " string' } },
      { ...at(4), value: { id: 2, nested: [1, { x: [2] }] } },
      { ...at(6), value: { id: 3 } },
    ]);
  });

  it('turns invalid JSON on line 7 into an issue for line 7 and keeps the other lines', async () => {
    const lines = Array.from({ length: 9 }, (_, i) => (i === 6 ? '{"id": 7, "video": ' : `{"id": ${i + 1}}`));
    const rows = await readDatasetFile(file(lines.join('\n')));
    expect(rows).toHaveLength(9);
    const bad = rows[6];
    expect('issue' in bad && bad.issue).toMatchObject({ line: 7, field: null });
    expect('issue' in bad && bad.issue.message).toMatch(/^line 7 is not valid JSON/);
    expect(rows.filter((r) => 'value' in r)).toHaveLength(8);
  });

  it('names the field holding bytes that are not UTF-8, and only that line fails', async () => {
    const latin1Path = Buffer.concat([Buffer.from('{"id":"b","video":"vid'), Buffer.from([0xe9]), Buffer.from('o.mp4","question":"q"}')]);
    const bytes = Buffer.concat([Buffer.from('{"id":"a"}\n'), latin1Path, Buffer.from('\n{"id":"c"}\n')]);
    const rows = await readDatasetFile(file(bytes));
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3]);
    expect(rows[1]).toEqual({
      ...at(2),
      issue: {
        line: 2,
        rowId: 'b',
        field: 'video',
        message: 'field "video" on line 2 has bytes that are not valid UTF-8 (save the file as UTF-8)',
      },
    });
    expect(rows[2]).toEqual({ ...at(3), value: { id: 'c' } });
  });

  it("places rows sharing a line by their order on it (Python's json.dump writes an array on one line)", async () => {
    const rows = await readDatasetFile(file('[{"id": 1}, {"id": 2}, {"id": 3}]\n'));
    expect(rows.map(({ line, lineIndex, place }) => ({ line, lineIndex, place }))).toEqual([
      { line: 1, lineIndex: 0, place: 'line 1 (row 1 of 3 on it)' },
      { line: 1, lineIndex: 1, place: 'line 1 (row 2 of 3 on it)' },
      { line: 1, lineIndex: 2, place: 'line 1 (row 3 of 3 on it)' },
    ]);
    const mixed = await readDatasetFile(file('[{"id": 1},\n {"id": 2}, {"id": 3},\n {"id": 4}]'));
    expect(mixed.map((r) => r.place)).toEqual(['line 1', 'line 2 (row 1 of 2 on it)', 'line 2 (row 2 of 2 on it)', 'line 3']);
  });

  it('says why a row is not JSON without quoting the text, and refuses a file with no JSON at all without echoing it', async () => {
    const rows = await readDatasetFile(file('{"id": 1}\nsecret-token-abc123 more words\n'));
    const bad = rows[1];
    expect('issue' in bad && bad.issue.message).toBe('line 2 is not valid JSON: unexpected character');
    const path = file('root:x:0:0:root:/root:/bin/bash\n');
    const err = await fileError(path);
    expect(err.message).not.toContain('root:x');
    expect(err.message).toMatch(/is not a dataset file: none of its 1 line or elements is JSON/);
  });

  it('quotes no text of a row whose fault lies far into it (V8 writes ..."excerpt" there)', async () => {
    const rows = await readDatasetFile(file('{"id": 1}\n{"id": "r1", "video": "a.mp4", "question": NaN, "token": "secret-abc123"}\n'));
    const bad = rows[1];
    expect('issue' in bad && bad.issue.message).toBe('line 2 is not valid JSON: unexpected character');
  });

  it('gives a bad element of an array its own issue', async () => {
    const rows = await readDatasetFile(file('[{"id": 1},\n {"id": 2,, },\n {"id": 3}]'));
    expect(rows.map((r) => ('issue' in r ? `issue@${r.line}` : r.line))).toEqual([1, 'issue@2', 3]);
  });

  it('names the file when it is missing, empty, blank, or an array that never closes', async () => {
    expect((await fileError(join(dir, 'missing.jsonl'))).message).toMatch(/not found/);
    expect((await fileError(file(''))).message).toMatch(/empty \(0 bytes\)/);
    expect((await fileError(file('\n  \n'))).message).toMatch(/no rows/);
    expect((await fileError(file('[{"id": 1},\n{"id": 2}'))).message).toMatch(/ends before its JSON array is closed/);
    expect((await fileError(file('[]'))).message).toMatch(/no rows/);
    expect((await fileError(dir)).message).toMatch(/not a file/);
  });
});
