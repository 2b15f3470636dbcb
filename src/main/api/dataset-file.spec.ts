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

describe('readDatasetFile', () => {
  it('reads JSONL with line numbers, skipping blank lines and accepting CRLF and a BOM', async () => {
    const rows = await readDatasetFile(file('\ufeff{"id":1}\r\n\n  \n{"id":2}\n{"id":3}'));
    expect(rows).toEqual([
      { line: 1, value: { id: 1 } },
      { line: 4, value: { id: 2 } },
      { line: 5, value: { id: 3 } },
    ]);
  });

  it('reads a JSON array, giving each element the line it starts on', async () => {
    const text = '[\n  {"id": 1, "q": "a ] , { tricky \\" string"},\n\n  {"id": 2,\n   "nested": [1, {"x": [2]}]},\n  {"id": 3}\n]\n';
    const rows = await readDatasetFile(file(text));
    expect(rows).toEqual([
      { line: 2, value: { id: 1, q: 'a ] , { tricky " string' } },
      { line: 4, value: { id: 2, nested: [1, { x: [2] }] } },
      { line: 6, value: { id: 3 } },
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
      line: 2,
      issue: {
        line: 2,
        rowId: 'b',
        field: 'video',
        message: 'field "video" on line 2 has bytes that are not valid UTF-8 (save the file as UTF-8)',
      },
    });
    expect(rows[2]).toEqual({ line: 3, value: { id: 'c' } });
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
