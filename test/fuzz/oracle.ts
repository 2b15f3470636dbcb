// What every fuzz case must hold (issue 23): an error is one line of words naming the file and the
// row, field or tensor, with no stack trace, no raw errno text and no echo of a stranger file's
// contents; it comes within a time bound; and the database keeps every row it held, intact.
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

/** Something the message must contain: a string, or a pattern; a list is any one of them. */
export type Mention = string | RegExp | readonly (string | RegExp)[];

export interface MessageRules {
  /** Each entry must be mentioned (a list: any one of its alternatives). */
  names?: readonly Mention[];
  /** Text the message must not contain (a stranger file's lines). */
  forbidden?: readonly string[];
  /** A documented list: the first line, then one line per row, each checked as a message of its own. */
  multiline?: boolean;
}

/** A JavaScript failure that leaked into a message: a bug, however well it is framed. */
const leaks: readonly RegExp[] = [
  /^\s+at .*/m, // a stack frame
  /node:internal/,
  /\.(?:ts|js|mjs|cjs):\d+/, // a source position
  /^(?:Type|Range|Reference|Syntax|Internal|Eval|URI)Error\b/,
  /Cannot read propert(?:y|ies) of/,
  /\b[\w$]+\.[\w$.]+ is not a (?:function|constructor)|is not iterable/, // "config.merges.map is not a function"
  /Maximum call stack size exceeded/,
  /Invalid (?:array|string|typed array) length/,
  /\bout of memory\b/i,
  /\b(?:undefined|NaN|\[object Object\])\b/,
  /\bE[A-Z]{3,}: [a-z]/, // fs's raw "ENOENT: no such file or directory, open '…'"
];

const mentions = (text: string, m: string | RegExp) => (typeof m === 'string' ? text.includes(m) : m.test(text));

/** Every way `message` breaks the rules; empty when it keeps them. */
export function messageProblems(message: unknown, rules: MessageRules = {}): string[] {
  if (typeof message !== 'string' || message.trim() === '') return [`the message is not a sentence: ${JSON.stringify(message)}`];
  const problems: string[] = [];
  const lines = message.split('\n');
  if (/\r/.test(message)) problems.push('the message has a carriage return');
  if (lines.length > 1 && !rules.multiline) problems.push(`the message is ${lines.length} lines, not one`);
  if (message.length > 20_000) problems.push(`the message is ${message.length} characters long`);
  for (const leak of leaks) if (leak.test(message)) problems.push(`the message leaks ${leak}`);
  for (const need of rules.names ?? []) {
    const options = typeof need === 'string' || need instanceof RegExp ? [need] : need;
    if (!options.some((m) => mentions(message, m))) problems.push(`the message names none of ${options.map(String).join(' | ')}`);
  }
  for (const secret of rules.forbidden ?? []) if (secret.length > 0 && message.includes(secret)) problems.push(`the message echoes ${JSON.stringify(secret.slice(0, 40))}`);
  return problems;
}

/** `f`'s result, or an error naming `what` when it takes longer than `ms` (the case's bound). */
export async function within<T>(ms: number, what: string, f: () => Promise<T> | T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  try {
    const result = await Promise.race([
      Promise.resolve().then(f),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
      }),
    ]);
    // Synchronous work cannot be raced: measured instead.
    const took = Date.now() - started;
    if (took > ms) throw new Error(`${what}: took ${took} ms, over the bound of ${ms} ms`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Each table's rows by rowid, as a hash of their content. */
export type Snapshot = Map<string, Map<number, string>>;

export function snapshot(db: Database.Database): Snapshot {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  const out: Snapshot = new Map();
  for (const table of tables) {
    const rows = new Map<number, string>();
    for (const row of db.prepare(`SELECT rowid AS __rowid, * FROM "${table}" ORDER BY rowid`).iterate() as Iterable<Record<string, unknown>>) {
      const { __rowid, ...rest } = row;
      rows.set(Number(__rowid), createHash('sha1').update(JSON.stringify(rest, (_, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'bigint' ? String(v) : v))).digest('base64'));
    }
    out.set(table, rows);
  }
  return out;
}

/** Rows of `before` that `after` lost or changed, and the rows it added, per table. */
export function snapshotChanges(before: Snapshot, after: Snapshot): { lost: string[]; added: Map<string, number[]> } {
  const lost: string[] = [];
  const added = new Map<string, number[]>();
  for (const [table, rows] of before) {
    const now = after.get(table);
    if (!now) {
      lost.push(`table ${table} is gone`);
      continue;
    }
    for (const [id, hash] of rows) {
      if (!now.has(id)) lost.push(`${table} row ${id} is gone`);
      else if (now.get(id) !== hash) lost.push(`${table} row ${id} changed`);
    }
  }
  for (const [table, rows] of after) {
    const was = before.get(table) ?? new Map<number, string>();
    const fresh = [...rows.keys()].filter((id) => !was.has(id));
    if (fresh.length > 0) added.set(table, fresh);
  }
  return { lost, added };
}

/** SQLite's own checks of the file: the b-trees and the foreign keys. */
export function integrityProblems(db: Database.Database): string[] {
  const integrity = db.pragma('integrity_check', { simple: true });
  const foreign = db.pragma('foreign_key_check') as unknown[];
  return [...(integrity === 'ok' ? [] : [`integrity_check: ${String(integrity)}`]), ...(foreign.length === 0 ? [] : [`foreign_key_check: ${JSON.stringify(foreign.slice(0, 3))}`])];
}
