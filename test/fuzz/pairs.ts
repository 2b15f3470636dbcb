// Pair files for `isr-studio train` (issue 23): TRL-style rows {prompt, chosen, rejected, video}
// with fields missing, of the wrong type or empty, lines that are no JSON object or not UTF-8, huge
// responses (which training cuts, not refuses), keys holding newlines; each with the rows the
// up-front check must refuse (by line and field) or accept.
import type { FuzzRng } from './rng';

export interface PairCase {
  description: string;
  bytes: Buffer;
  /** Whether rejected is required (a DPO loss; SFT needs only chosen). */
  needRejected: boolean;
  good: { line: number; prompt: string; chosen: string; rejected?: string; video?: string }[];
  bad: { line: number; field: string | null }[];
  /** No row is JSON at all: the file is refused whole, as no dataset file (api/dataset-file.ts). */
  noJson: boolean;
}

const fields = ['prompt', 'chosen', 'rejected', 'video'] as const;

function text(rng: FuzzRng, what: string): string {
  const r = rng.next();
  if (r < 0.05) return `${what} ${'long answer '.repeat(rng.int(5_000, 40_000))}`;
  if (r < 0.1) return `${what} with\nnewlines\u0000and NUL`;
  return rng.pick([`${what}: red`, `${what}: it moves left`, `${what} 字 😀`]);
}

export function pairCase(rng: FuzzRng, videos: readonly string[]): PairCase {
  const needRejected = rng.chance(0.75);
  const n = rng.int(1, 8);
  const lines: Buffer[] = [];
  const good: PairCase['good'] = [];
  const bad: PairCase['bad'] = [];
  const notes: string[] = [];
  let notJson = 0;
  for (let i = 0; i < n; i++) {
    const line = i + 1;
    const row: Record<string, unknown> = { prompt: text(rng, 'What happens?'), chosen: text(rng, 'chosen'), rejected: text(rng, 'rejected') };
    if (rng.chance(0.5)) row.video = rng.pick(videos);
    const r = rng.next();
    if (r < 0.45) {
      if (!needRejected && rng.chance(0.4)) delete row.rejected;
      lines.push(Buffer.from(JSON.stringify(row)));
      good.push({ line, ...(row as { prompt: string; chosen: string; rejected?: string; video?: string }) });
      notes.push('good');
      continue;
    }
    if (r < 0.8) {
      // One field wrong (zod names the first in the schema's order; only one is broken here).
      const field = rng.pick(fields);
      const how = rng.pick(['missing', 'null', 'a number', 'a list', 'an object', 'empty', 'true'] as const);
      const value = { missing: undefined, null: null, 'a number': 7, 'a list': ['a'], 'an object': { a: 1 }, empty: '', true: true }[how];
      if (how === 'missing') delete row[field];
      else row[field] = value;
      const fine = (field === 'video' && how === 'missing') || (field === 'rejected' && how === 'missing' && !needRejected) || (how === 'empty' && (field === 'chosen' || field === 'rejected'));
      lines.push(Buffer.from(JSON.stringify(row)));
      if (fine) good.push({ line, ...(row as { prompt: string; chosen: string; rejected?: string; video?: string }) });
      else bad.push({ line, field });
      notes.push(`${field} ${how}${fine ? ' (fine)' : ''}`);
      continue;
    }
    const kind = rng.pick(['bad JSON', 'not an object', 'not UTF-8', 'a key with a newline, not UTF-8'] as const);
    notes.push(kind);
    if (kind === 'bad JSON') {
      lines.push(Buffer.from(JSON.stringify(row).slice(0, -2)));
      notJson++;
    }
    // Not '[' first in the file: that makes it a JSON array.
    else if (kind === 'not an object') lines.push(Buffer.from(rng.pick(i === 0 ? ['42', '"text"', 'null'] : ['42', '"text"', '[1]', 'null'])));
    else if (kind === 'not UTF-8') lines.push(Buffer.concat([Buffer.from('{"prompt": "caf'), Buffer.from([0xe9]), Buffer.from('", "chosen": "a", "rejected": "b"}')]));
    else lines.push(Buffer.concat([Buffer.from('{"prompt": "p", "chosen": "a", "rejected": "b", "not\\nutf8": "caf'), Buffer.from([0xe9]), Buffer.from('"}')]));
    bad.push({ line, field: kind === 'not UTF-8' ? 'prompt' : null });
  }
  return { description: `${needRejected ? 'DPO' : 'SFT'}, ${n} row(s): ${notes.join('; ')}`, bytes: Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])), needRejected, good, bad, noJson: notJson === n };
}
