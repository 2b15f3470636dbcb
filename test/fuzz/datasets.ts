// Malformed dataset files (issue 23), each with what importing it must give: the rows stored (by
// line, with their content) and the rows rejected (by line and field), or, when no row is good,
// the import failing as a whole. JSON Lines and JSON arrays; bad JSON, wrong types, missing fields,
// bytes that are not UTF-8, a BOM, several rows on a line, duplicate ids, huge strings, deep nesting,
// NUL bytes, blank lines, CRLF, and whole files that are no dataset at all.
import type { FuzzRng } from './rng';

/** A row the import must store, as the database holds it. */
export interface GoodRow {
  line: number;
  lineIndex: number;
  rowId: string;
  question: string;
  answer: string | null;
  /** The video as the row names it (relative to the dataset's folder, or absolute). */
  video: string;
}

/** A row the import must reject: its line, the field named (null: the row as a whole) and its id where one is read. */
export interface BadRow {
  line: number;
  field: string | null;
  rowId?: string | null;
}

export interface DatasetCase {
  description: string;
  bytes: Buffer;
  good: GoodRow[];
  bad: BadRow[];
}

/** Files the rows point at, beside the dataset (the suite makes them). */
export interface DatasetVideos {
  /** Good clips, by the name a row gives. */
  good: readonly string[];
  /** Names whose stat alone rejects them: missing, a folder, 0 bytes. */
  rejected: readonly string[];
}

type Value = unknown;
/** A row's text and what the importer makes of it, before its line is known. */
interface RowDraft {
  text: Buffer;
  kind: 'good' | 'bad';
  field: string | null;
  /** The id as the importer reads it, when the row passes the schema (what duplicates are checked on). */
  id?: string;
  rowId?: string | null;
  row?: Omit<GoodRow, 'line' | 'lineIndex' | 'rowId'>;
  /** Whether the row passes the schema (its id then counts for duplicates), whatever its video. */
  valid: boolean;
  /** A row's bytes may not sit inside a JSON array (unbalanced brackets or quotes would end it). */
  arraySafe: boolean;
  describe: string;
}

const wrongTypes: readonly [string, Value][] = [
  ['true', true], ['null', null], ['a list', [1, 2]], ['an object', { a: 1 }], ['a number', 7], ['an empty string', ''],
];

function deep(depth: number, open: string, close: string): string {
  return open.repeat(depth) + close.repeat(depth);
}

function hugeText(rng: FuzzRng): string {
  const unit = rng.pick(['ab', 'é', '字', '😀', ' the cat ', '\\"']);
  const text = unit.repeat(Math.ceil(rng.int(50_000, 400_000) / unit.length));
  return text;
}

function goodQuestion(rng: FuzzRng): string {
  const r = rng.next();
  if (r < 0.04) return hugeText(rng);
  if (r < 0.1) return `What is\u0000 here?${'\u0000'.repeat(rng.int(1, 3))}`;
  if (r < 0.16) return 'Line one\nline two\r\n\ttabbed';
  if (r < 0.22) return 'Qu\u00e9 color tiene el cuadrado? 视频里是什么? 😀';
  if (r < 0.26) return '  padded question  ';
  return rng.pick(['What colour is the square?', 'Which way does it move?', 'How many shapes?', 'Describe the video.']);
}

function goodAnswer(rng: FuzzRng): string | null | undefined {
  const r = rng.next();
  if (r < 0.3) return undefined;
  if (r < 0.45) return null;
  if (r < 0.48) return hugeText(rng);
  if (r < 0.52) return '';
  return rng.pick(['red', 'left', 'two', 'nul\u0000byte']);
}

/** An id as written in the file: a value, and the text the importer stores for it. */
function freshId(rng: FuzzRng, n: number): [Value, string] {
  const r = rng.next();
  if (r < 0.35) return [n, String(n)];
  if (r < 0.4) return [n + 0.5, String(n + 0.5)];
  if (r < 0.43) return [-n, String(-n)];
  if (r < 0.46) {
    const long = `long-${'x'.repeat(rng.int(1000, 20_000))}-${n}`;
    return [long, long];
  }
  if (r < 0.5) return [`id\u0000${n}`, `id\u0000${n}`];
  if (r < 0.54) return [`línea ${n} 字`, `línea ${n} 字`];
  return [`r${n}`, `r${n}`];
}

/** Extra fields the importer must ignore. */
function extras(rng: FuzzRng): Record<string, Value> {
  const out: Record<string, Value> = {};
  const r = rng.next();
  if (r < 0.05) out.nested = `__DEEP${rng.int(1000, 50_000)}__`;
  else if (r < 0.1) out.meta = { tags: ['a', 'b'], score: 1.5, none: null };
  else if (r < 0.13) out.__proto__x = 'not special';
  return out;
}

/** The row's text, a `__DEEPn__` placeholder written as n nested arrays (made as text: a value
 *  that deep would take its whole depth on the stack to stringify). */
function rowText(value: Record<string, Value>): string {
  return JSON.stringify(value).replace(/"__DEEP(\d+)__"/, (_, n: string) => deep(Number(n), '[', ']'));
}

export class DatasetGenerator {
  private next = 1;
  /** Ids the importer has seen pass the schema, in this file: a repeat is a duplicate. */
  private seen: string[] = [];

  constructor(
    private readonly rng: FuzzRng,
    private readonly videos: DatasetVideos,
  ) {}

  private goodRow(): RowDraft {
    const { rng } = this;
    const [idValue, idText] = freshId(rng, this.next++);
    const question = goodQuestion(rng);
    const answer = goodAnswer(rng);
    const video = rng.pick(this.videos.good);
    const value: Record<string, Value> = { id: idValue, video, question, ...(answer === undefined ? {} : { answer }), ...extras(rng) };
    // A BOM opening a row is dropped as one opening the file is (TextDecoder's default).
    const bom = rng.chance(0.05) ? '\ufeff' : '';
    return {
      text: Buffer.from(bom + rowText(rng.chance(0.5) ? value : this.reorder(value))),
      kind: 'good', field: null, valid: true, id: idText, arraySafe: true,
      // The schema trims the question (zod's trim), nothing else.
      row: { question: question.trim(), answer: answer ?? null, video },
      describe: 'good',
    };
  }

  private reorder(value: Record<string, Value>): Record<string, Value> {
    return Object.fromEntries(this.rng.shuffle(Object.entries(value)));
  }

  /** A row whose schema is fine but whose id repeats an earlier one. */
  private duplicate(): RowDraft | null {
    if (this.seen.length === 0) return null;
    const id = this.rng.pick(this.seen);
    // The same id as a number where it reads as one: 3 and "3" are one id.
    const asNumber = /^-?\d+(\.\d+)?$/.test(id) && String(Number(id)) === id && this.rng.chance(0.5);
    const value = { id: asNumber ? Number(id) : id, video: this.rng.pick(this.videos.good), question: 'Again?' };
    return { text: Buffer.from(JSON.stringify(value)), kind: 'bad', field: 'id', rowId: id, valid: false, arraySafe: true, describe: `duplicate id ${JSON.stringify(id.slice(0, 20))}` };
  }

  /** A row with one or more wrong fields: rejected naming the first in the schema's order. */
  private wrongFields(): RowDraft {
    const { rng } = this;
    const [idValue, idText] = freshId(rng, this.next++);
    const value: Record<string, Value> = { id: idValue, video: rng.pick(this.videos.good), question: 'What is it?', answer: 'it' };
    const order = ['id', 'video', 'question', 'answer'];
    const broken = rng.shuffle(order).slice(0, rng.chance(0.8) ? 1 : rng.int(2, 4));
    const notes: string[] = [];
    for (const field of broken) {
      const how = rng.next();
      if (how < 0.3) {
        delete value[field];
        notes.push(`${field} missing`);
        if (field === 'answer') continue; // answer is optional: leaving it out is fine
      } else {
        let [label, wrong] = rng.pick(wrongTypes);
        if (field === 'answer' && (wrong === null || wrong === '')) [label, wrong] = ['a number', 3];
        if (field === 'id' && typeof wrong === 'number') [label, wrong] = ['Infinity (1e999)', Infinity];
        if (field === 'question' && rng.chance(0.3)) [label, wrong] = ['blank', ' \t '];
        if (field === 'question' && rng.chance(0.1)) [label, wrong] = ['deeply nested', '__DEEPQ__'];
        value[field] = wrong;
        notes.push(`${field} ${label}`);
      }
    }
    const first = order.find((f) => broken.includes(f) && !(f === 'answer' && !('answer' in value)));
    let text = JSON.stringify(value, (_, v: Value) => (v === Infinity ? '__INF__' : v)).replace('"__INF__"', '1e999');
    text = text.replace('"__DEEPQ__"', () => deep(rng.int(1000, 50_000), '{"a":', '}').replace(/\{"a":\}/, '{"a":1}'));
    const rowId = typeof value.id === 'string' || typeof value.id === 'number' ? String(value.id) : null;
    if (first === undefined) {
      // Only the answer was left out: a good row.
      return { text: Buffer.from(text), kind: 'good', field: null, valid: true, id: idText, arraySafe: true, row: { question: 'What is it?', answer: null, video: value.video as string }, describe: 'good (answer left out)' };
    }
    return { text: Buffer.from(text), kind: 'bad', field: first, rowId, valid: false, arraySafe: true, describe: notes.join(', ') };
  }

  /** A row whose video stat alone rejects: its schema passes, so its id counts. */
  private rejectedVideo(): RowDraft {
    const [idValue, idText] = freshId(this.rng, this.next++);
    const value = { id: idValue, video: this.rng.pick(this.videos.rejected), question: 'Where is it?' };
    return { text: Buffer.from(JSON.stringify(value)), kind: 'bad', field: 'video', rowId: idText, valid: true, id: idText, arraySafe: true, describe: `video ${value.video}` };
  }

  /** Text that is not one JSON value. */
  private badJson(): RowDraft {
    const { rng } = this;
    const good = JSON.stringify({ id: `j${this.next++}`, video: rng.pick(this.videos.good), question: 'q?' });
    const forms: [string, Buffer, boolean][] = [
      ['cut short', Buffer.from(good.slice(0, rng.int(1, good.length - 1))), false],
      ['trailing comma', Buffer.from(good.replace(/}$/, ',}')), true],
      ['single quotes', Buffer.from(good.replaceAll('"', "'")), true],
      ['unquoted keys', Buffer.from(good.replace(/"(\w+)":/g, '$1:')), true],
      ['two rows on one line', Buffer.from(`${good} ${good.replace(/"j\d+"/, `"j${this.next++}"`)}`), false],
      ['trailing garbage', Buffer.from(`${good} // note`), false],
      ['a raw NUL byte in a string', Buffer.from(good.replace('q?', 'q\u0000?')), true],
      ['a raw tab in a string', Buffer.from(good.replace('q?', 'q\t?')), true],
      ['a byte-order mark between tokens', Buffer.from(good.replace(':', ':\ufeff')), true],
      ['a NUL byte outside strings', Buffer.from(good.replace(':', ':\u0000')), true],
      ['NaN', Buffer.from(good.replace('"q?"', 'NaN')), true],
    ];
    const [describe, text, arraySafe] = rng.pick(forms);
    return { text, kind: 'bad', field: null, rowId: null, valid: false, arraySafe, describe: `bad JSON: ${describe}` };
  }

  private notObject(): RowDraft {
    const text = this.rng.pick(['42', '"a row"', '[1, 2, 3]', 'null', 'true', '[{"id": 1, "video": "a.mp4", "question": "q"}]']);
    return { text: Buffer.from(text), kind: 'bad', field: null, rowId: null, valid: false, arraySafe: true, describe: `not an object: ${text.slice(0, 12)}` };
  }

  /** Bytes that are not UTF-8: in one field's value (named), or in a key or between tokens (the row). */
  private notUtf8(): RowDraft {
    const { rng } = this;
    const bad = rng.pick([[0xe9], [0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
    const where = rng.pick(['question', 'video', 'answer', 'key', 'between'] as const);
    const id = `u${this.next++}`;
    const parts = (q: Buffer, v: Buffer, a: Buffer, key: Buffer, between: Buffer) =>
      Buffer.concat([Buffer.from(`{"id": "${id}", "video": "`), v, Buffer.from('", '), key, Buffer.from('"question": "'), q, Buffer.from('"'), between, Buffer.from(', "answer": "'), a, Buffer.from('"}')]);
    const b = Buffer.from(bad);
    const none = Buffer.alloc(0);
    const video = Buffer.from(rng.pick(this.videos.good));
    const text =
      where === 'question' ? parts(Buffer.concat([Buffer.from('caf'), b]), video, none, none, none)
        : where === 'video' ? parts(Buffer.from('q?'), Buffer.concat([Buffer.from('caf'), b, Buffer.from('.mp4')]), none, none, none)
          : where === 'answer' ? parts(Buffer.from('q?'), video, Buffer.concat([b, Buffer.from('x')]), none, none)
            : where === 'key' ? parts(Buffer.from('q?'), video, none, Buffer.concat([Buffer.from('"k'), b, Buffer.from('": 1, ')]), none)
              : parts(Buffer.from('q?'), video, none, none, b);
    const field = where === 'key' || where === 'between' ? null : where;
    return { text, kind: 'bad', field, rowId: where === 'between' ? null : id, valid: false, arraySafe: true, describe: `not UTF-8 in ${where}` };
  }

  private draw(): RowDraft {
    const r = this.rng.next();
    if (r < 0.38) return this.goodRow();
    if (r < 0.48) return this.duplicate() ?? this.goodRow();
    if (r < 0.66) return this.wrongFields();
    if (r < 0.72) return this.rejectedVideo();
    if (r < 0.84) return this.badJson();
    if (r < 0.9) return this.notObject();
    return this.notUtf8();
  }

  /** One row, drawn from every kind until `fits` takes it. */
  row(fits: (d: RowDraft) => boolean = () => true): RowDraft {
    let draft = this.draw();
    while (!fits(draft)) draft = this.draw();
    // What the importer will see: an id that passed the schema before is a duplicate now.
    if (draft.valid && draft.id !== undefined) {
      if (this.seen.includes(draft.id)) return { ...draft, kind: 'bad', field: 'id', rowId: draft.id, valid: false, describe: `${draft.describe}, its id repeated` };
      this.seen.push(draft.id);
    }
    return draft;
  }
}

const eol = (rng: FuzzRng) => (rng.chance(0.2) ? '\r\n' : '\n');

/** A JSON Lines file of `n` drafted rows with blank lines, CRLF and a BOM here and there. */
export function jsonLinesCase(rng: FuzzRng, videos: DatasetVideos, n: number): DatasetCase {
  const gen = new DatasetGenerator(rng, videos);
  const chunks: Buffer[] = [];
  const good: GoodRow[] = [];
  const bad: BadRow[] = [];
  const notes: string[] = [];
  let line = 1;
  const bom = rng.chance(0.15);
  if (bom) chunks.push(Buffer.from([0xef, 0xbb, 0xbf]));
  for (let i = 0; i < n; i++) {
    while (rng.chance(0.15)) {
      chunks.push(Buffer.from(`${rng.pick(['', '   ', '\t', ' \r'])}${eol(rng)}`));
      line++;
    }
    // The file's first row decides its format ('[': an array): no array-like row there.
    const first = i === 0;
    const draft = gen.row((d) => !first || !/^[\s]*\[/.test(d.text.toString('latin1')));
    notes.push(draft.describe);
    chunks.push(draft.text, Buffer.from(i === n - 1 && rng.chance(0.3) ? '' : eol(rng)));
    if (draft.kind === 'good') good.push({ line, lineIndex: 0, rowId: draft.id!, ...draft.row! });
    else bad.push({ line, field: draft.field, rowId: draft.rowId });
    line++;
  }
  return { description: `JSON Lines${bom ? ' with a BOM' : ''}, ${n} row(s): ${notes.join('; ')}`, bytes: Buffer.concat(chunks), good, bad };
}

/** A JSON array: pretty (a row a line or more) or several rows on one line, as json.dump writes. */
export function jsonArrayCase(rng: FuzzRng, videos: DatasetVideos, n: number): DatasetCase {
  const gen = new DatasetGenerator(rng, videos);
  const drafts: RowDraft[] = [];
  while (drafts.length < n) drafts.push(gen.row((d) => d.arraySafe));
  const layout = rng.pick(['one line', 'a row a line', 'mixed'] as const);
  const chunks: Buffer[] = [];
  let line = 1;
  const push = (s: string | Buffer) => {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    for (const byte of b) if (byte === 0x0a) line++;
    chunks.push(b);
  };
  if (rng.chance(0.15)) chunks.push(Buffer.from([0xef, 0xbb, 0xbf]));
  if (rng.chance(0.2)) push('\n  ');
  push('[');
  const starts: number[] = [];
  for (const [i, d] of drafts.entries()) {
    if (i > 0) push(',');
    const breakBefore = layout === 'a row a line' || (layout === 'mixed' && rng.chance(0.5));
    if (breakBefore) push(rng.chance(0.2) ? '\r\n\n  ' : '\n  ');
    else if (layout === 'one line' || rng.chance(0.5)) push(' ');
    starts.push(line);
    push(d.text);
  }
  push(rng.chance(0.5) ? '\n]\n' : ']');
  const good: GoodRow[] = [];
  const bad: BadRow[] = [];
  for (const [i, d] of drafts.entries()) {
    const line = starts[i];
    const lineIndex = starts.slice(0, i).filter((l) => l === line).length;
    if (d.kind === 'good') good.push({ line, lineIndex, rowId: d.id!, ...d.row! });
    else bad.push({ line, field: d.field, rowId: d.rowId });
  }
  return { description: `JSON array (${layout}), ${n} row(s): ${drafts.map((d) => d.describe).join('; ')}`, bytes: Buffer.concat(chunks), good, bad };
}

/** Files that are no dataset at all, or no rows: the import fails as a whole, naming the file. */
export function wholeFileCases(rng: FuzzRng): { description: string; bytes: Buffer }[] {
  const row = JSON.stringify({ id: 1, video: 'a.mp4', question: 'q' });
  return [
    { description: 'an empty file', bytes: Buffer.alloc(0) },
    { description: 'blank lines only', bytes: Buffer.from('\n\r\n   \n\t\n') },
    { description: 'a BOM alone', bytes: Buffer.from([0xef, 0xbb, 0xbf]) },
    { description: 'an empty array', bytes: Buffer.from(' [ \n ] ') },
    { description: 'an array never closed', bytes: Buffer.from(`[${row}, ${row}`) },
    { description: 'text after the array', bytes: Buffer.from(`[${row}] trailing`) },
    { description: 'an INI file', bytes: Buffer.from('[section]\nkey = value\n') },
    { description: 'random binary', bytes: rng.bytes(rng.int(1, 4096)) },
    { description: 'NUL bytes', bytes: Buffer.alloc(rng.int(1, 2048)) },
    { description: 'one pretty-printed object', bytes: Buffer.from(JSON.stringify({ id: 1, video: 'a.mp4', question: 'q' }, null, 2)) },
    { description: 'a CSV file', bytes: Buffer.from('id,video,question\n1,a.mp4,What?\n2,b.mp4,Why?\n') },
    { description: 'a deeply nested array', bytes: Buffer.from(deep(rng.int(10_000, 200_000), '[', ']')) },
    { description: 'a deeply nested object line', bytes: Buffer.from(deep(rng.int(10_000, 100_000), '{"a":', '}').replace(/\{"a":\}/, '{"a":1}')) },
    { description: 'an unterminated string in an array', bytes: Buffer.from(`[${row}, {"id": "x]`) },
  ];
}
