// The fuzz suite of issue 23: bad input of every class a user can hand the studio, generated from a
// seed (ISR_FUZZ_SEED, 23 unless set; every failure names it and its case). For every case: a
// refusal is an error value (or a non-zero exit) with a one-line message naming the file and the
// row, field, key or tensor, no stack trace and no raw errno text; it comes within a bound; and the
// database keeps every row it held before, passing integrity_check and foreign_key_check.
//
// The classes: malformed datasets (fuzz/datasets.ts), bad videos (fuzz/videos.ts), hostile model
// folders (fuzz/model-folders.ts), pair files for `isr-studio train` (fuzz/pairs.ts) and run
// settings (fuzz/run-settings.ts), mostly in process through the code paths the studio's screens
// and commands use, and a few through the real CLI. A bad row in an otherwise good dataset is an
// import issue naming its line (and field), not an error. The one message of more than one line is
// `isr-studio train`'s list of bad pair rows (preference-training.ts): a first line naming the file
// and the count, then one line per row, each held to the one-line rules.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readDatasetFile } from '../src/main/api/dataset-file';
import { readRunSettings } from '../src/main/cli/run';
import { fixtureArchs, writeFixture } from '../src/main/engine/model/fixture';
import { defaultTrainConfig } from '../src/main/engine/train/train-config';
import { preferenceRows, trainOnPreferences } from '../src/main/isr/preference-training';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { flatClip } from '../src/main/video/testing/clips';
import { ApiError, oneLine } from '../src/shared/errors';
import type { ImportResult } from '../src/shared/types';
import { runCli } from './cli';
import { jsonArrayCase, jsonLinesCase, wholeFileCases, type DatasetCase } from './fuzz/datasets';
import { expectMessage, FuzzStudio, where } from './fuzz/harness';
import { hostileFolder, ModelChecker, modelMutations } from './fuzz/model-folders';
import { within } from './fuzz/oracle';
import { pairCase } from './fuzz/pairs';
import { FuzzRng, fuzzSeed } from './fuzz/rng';
import { settingsCase, settingsFileCases } from './fuzz/run-settings';
import { makeVideo, videoKinds, type VideoOutcome } from './fuzz/videos';

/** Cases per class: a few hundred in all, within the suite's share of CI's time on two cores. */
const counts = { jsonLines: 70, jsonArrays: 40, videos: 51, models: 189, pairs: 50, settings: 50 };
/** How long one case may take, end to end, before it counts as a hang. */
const boundMs = { import: 20_000, check: 10_000, pairs: 10_000, train: 60_000, cli: 90_000 };

let root: string;
let ffmpeg: string;
let fuzz: FuzzStudio;
/** The tiny fixture of each family, written once; every model case breaks a copy. */
const fixtures = new Map<string, string>();
const checker = new ModelChecker();
const videos = { good: ['a.mp4', 'b.mp4'], rejected: ['missing.mp4', 'folder.mp4', 'empty.mp4'] };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'isr-fuzz-'));
  ffmpeg = (await resolveFfmpeg()).path;
  const data = join(root, 'datasets');
  mkdirSync(join(data, 'folder.mp4'), { recursive: true });
  writeFileSync(join(data, 'empty.mp4'), '');
  await flatClip(ffmpeg, join(data, 'a.mp4'), Array(4).fill([200, 30, 30]), { width: 32, height: 24, fps: 4 });
  await flatClip(ffmpeg, join(data, 'b.mp4'), Array(8).fill([30, 30, 200]), { width: 32, height: 32, fps: 8 });
  for (const arch of fixtureArchs) {
    const dir = join(root, 'models', arch);
    writeFixture(dir, { arch, size: 'tiny', seed: 5, corpus: ['What colour is the square?', 'Describe the video.'] });
    fixtures.set(arch, dir);
  }
  fuzz = new FuzzStudio(join(root, 'studio.db'));
  // The good data every case must leave as it is.
  const good = join(data, 'good.jsonl');
  writeFileSync(good, ['{"id": 1, "video": "a.mp4", "question": "What colour?", "answer": "red"}', '{"id": 2, "video": "b.mp4", "question": "And this one?"}'].join('\n'));
  const job = await fuzz.importFile(good, 'the good dataset');
  expect(job.state).toBe('done');
  fuzz.expectKept('the good dataset', ['datasets', 'prompts', 'videos']);
}, 120_000);

// A failed case is reported once: what it left is what the next case must keep.
afterEach(() => fuzz?.resync());

afterAll(async () => {
  checker.close();
  await fuzz?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Imports a file and checks the outcome against the rows expected stored and rejected. */
async function expectImport(label: string, path: string, c: Pick<DatasetCase, 'good' | 'bad'>, either: Set<number> = new Set(), forbidden: string[] = []): Promise<{ messages: string[] }> {
  const job = await fuzz.importFile(path, label);
  const mustFail = c.good.length === 0 && either.size === 0;
  if (job.state !== 'done') {
    const sureGood = c.good.filter((g) => !either.has(g.line));
    expect(sureGood.length, `${label}: the import failed though rows were good: ${job.error?.message}`).toBe(0);
    expect(job.error?.code, label).toBe('bad_input');
    // A path too long to show whole is named by its first 120 characters.
    expectMessage(job.error?.message, { names: [[oneLine(path), oneLine(path).slice(0, 120)]], forbidden }, label);
    fuzz.expectKept(label);
    return { messages: [job.error!.message] };
  }
  expect(mustFail, `${label}: a file with no good row made a dataset`).toBe(false);
  const result = job.result as ImportResult;
  const stored = fuzz.storedRows(result.datasetId);
  const issues = await fuzz.issues(result.datasetId);
  expect(stored.length, `${label}: a dataset of no rows exists`).toBeGreaterThan(0);
  const storedLines = new Set(stored.map((r) => r.line));
  // Rows whose outcome the case cannot know (a damaged video ffmpeg may read) are one or the other.
  const good = c.good.filter((g) => !either.has(g.line) || storedLines.has(g.line));
  const bad = c.bad.filter((b) => !either.has(b.line) || !storedLines.has(b.line));
  expect(result, label).toEqual({ datasetId: result.datasetId, imported: good.length, skipped: 0, failed: bad.length });
  const dir = resolve(path, '..');
  expect(stored, label).toEqual(good.map((g) => ({ line: g.line, lineIndex: g.lineIndex, rowId: g.rowId, question: g.question, answer: g.answer, video: resolve(dir, g.video) })));
  expect(issues.map((i) => [i.line, i.field]), label).toEqual(bad.map((b) => [b.line, b.field]));
  for (const [k, issue] of issues.entries()) {
    const { rowId } = bad[k];
    if (rowId !== undefined) expect(issue.rowId, `${label}: line ${issue.line}'s row id`).toBe(rowId);
    const names: (string | RegExp)[] = [new RegExp(`\\bline ${issue.line}\\b`)];
    if (issue.field !== null) names.push(issue.field);
    expectMessage(issue.message, { names, forbidden }, `${label}: the issue of line ${issue.line}`);
  }
  // What the case added is its own dataset, its rows and its issues (and videos new to the database).
  const added = fuzz.expectKept(label, ['datasets', 'prompts', 'import_issues', 'videos']);
  expect([added.get('datasets'), added.get('prompts')?.length ?? 0, added.get('import_issues')?.length ?? 0], label).toEqual([[result.datasetId], good.length, bad.length]);
  return { messages: issues.map((i) => i.message) };
}

describe('fuzz: malformed datasets', () => {
  const data = () => join(root, 'datasets');
  for (let i = 0; i < counts.jsonLines; i++) {
    it(`JSON Lines #${i}`, async () => {
      const c = jsonLinesCase(new FuzzRng(fuzzSeed, `jsonl#${i}`), videos, 1 + (i % 9));
      const path = join(data(), `rows-${i}.jsonl`);
      writeFileSync(path, c.bytes);
      await expectImport(where(`JSON Lines #${i}`, c.description), path, c);
    });
  }
  for (let i = 0; i < counts.jsonArrays; i++) {
    it(`JSON array #${i}`, async () => {
      const c = jsonArrayCase(new FuzzRng(fuzzSeed, `array#${i}`), videos, 1 + (i % 7));
      const path = join(data(), `rows-${i}.json`);
      writeFileSync(path, c.bytes);
      await expectImport(where(`JSON array #${i}`, c.description), path, c);
    });
  }
  const whole = wholeFileCases(new FuzzRng(fuzzSeed, 'whole'));
  for (const [i, c] of whole.entries()) {
    it(`no dataset at all #${i}: ${c.description}`, async () => {
      const path = join(data(), `whole-${i}.jsonl`);
      writeFileSync(path, c.bytes);
      await expectImport(where(`whole file #${i}`, c.description), path, { good: [], bad: [] });
    });
  }
  it('a file that is no dataset (/etc/passwd): refused whole, echoing none of it', async () => {
    const secret = readFileSync('/etc/passwd', 'utf8').split('\n').filter((l) => l.length > 3);
    await expectImport(where('passwd', '/etc/passwd as a dataset'), '/etc/passwd', { good: [], bad: [] }, new Set(), secret);
  });
  it.each([
    ['a missing file', 'absent.jsonl'],
    ['a folder', 'folder.mp4'],
    ['a name past 255 bytes', `${'n'.repeat(300)}.jsonl`],
    ['a symlink loop', 'loop.jsonl'],
  ])('a dataset path that is %s', async (what, name) => {
    if (name === 'loop.jsonl' && !existsSync(join(data(), 'loop.jsonl'))) symlinkSync('loop.jsonl', join(data(), 'loop.jsonl'));
    const path = join(data(), name);
    await expectImport(where('dataset path', what), path, { good: [], bad: [] });
  });
});

describe('fuzz: bad videos', () => {
  for (let i = 0; i < counts.videos; i++) {
    const kind = videoKinds[i % videoKinds.length];
    it(`video #${i}: ${kind}`, async () => {
      const rng = new FuzzRng(fuzzSeed, `video#${i}`);
      const dir = join(root, 'videos', `case-${i}`);
      const clip = join(root, 'datasets', rng.pick(['a.mp4', 'b.mp4']));
      const v = await makeVideo(kind, rng, dir, clip, ffmpeg);
      // The bad video's row, with a good row before or after it (or none), and sometimes twice.
      const rows: { video: string; outcome: VideoOutcome | 'good' }[] = [{ video: v.name, outcome: v.outcome }];
      if (rng.chance(0.6)) rows.splice(rng.int(0, 1), 0, { video: clip, outcome: 'good' });
      if (rng.chance(0.25)) rows.push({ video: v.name, outcome: v.outcome });
      const path = join(dir, 'rows.jsonl');
      writeFileSync(path, rows.map((r, k) => JSON.stringify({ id: k, video: r.video, question: 'What is shown?' })).join('\n'));
      const c = { good: [] as DatasetCase['good'], bad: [] as DatasetCase['bad'] };
      const either = new Set<number>();
      for (const [k, r] of rows.entries()) {
        const line = k + 1;
        if (r.outcome !== 'bad') c.good.push({ line, lineIndex: 0, rowId: String(k), question: 'What is shown?', answer: null, video: r.video });
        if (r.outcome !== 'good') c.bad.push({ line, field: 'video', rowId: String(k) });
        if (r.outcome === 'either') either.add(line);
      }
      const label = where(`video #${i}`, `${kind}: ${v.description}; rows: ${rows.map((r) => r.outcome).join(', ')}`);
      const { messages } = await expectImport(label, path, c, either);
      // A rejected video's issue names the file: its path, or as much of it as a message holds.
      const full = resolve(dir, v.name);
      for (const message of messages) expectMessage(message, { names: [[oneLine(full), oneLine(full).slice(0, 120), oneLine(basename(full))]] }, label);
    });
  }
});

describe('fuzz: hostile model folders', () => {
  it('checks the untouched fixtures (and starts the checking process)', async () => {
    for (const dir of fixtures.values()) expect(await checker.check(dir, 60_000)).toMatchObject({ ok: true });
  }, 120_000);

  for (let i = 0; i < counts.models; i++) {
    const kind = modelMutations[i % modelMutations.length];
    const arch = fixtureArchs[Math.floor(i / modelMutations.length) % fixtureArchs.length];
    it(`model folder #${i}: ${arch}, ${kind}`, async () => {
      const rng = new FuzzRng(fuzzSeed, `model#${i}`);
      const dir = join(root, 'models', `case-${i}`);
      const c = hostileFolder(kind, rng, fixtures.get(arch)!, dir, arch);
      const label = where(`model folder #${i}`, `${arch}, ${kind}: ${c.description}`);
      const outcome = await checker.check(dir, boundMs.check, true);
      if ('hang' in outcome) throw new Error(`${label}: ${outcome.hang}`);
      // A change the studio does not read, or reads as harmless, is no refusal; a refusal must be one.
      // A folder the check accepts must then load and answer: a run would have been started on it.
      if (!outcome.ok) {
        expect(outcome.stage, `${label}: accepted by the check, then failed in use: ${outcome.name}: ${outcome.message}`).toBe('check');
        expect({ apiError: outcome.apiError, code: outcome.code }, `${label}: ${outcome.name}: ${outcome.message}`).toEqual({ apiError: true, code: 'bad_input' });
        expectMessage(outcome.message, { names: [dir, ...c.names] }, label);
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }
});

describe('fuzz: pair files for isr-studio train', () => {
  const dir = () => join(root, 'pairs');
  beforeAll(() => mkdirSync(dir(), { recursive: true }));

  for (let i = 0; i < counts.pairs; i++) {
    it(`pair file #${i}`, async () => {
      const c = pairCase(new FuzzRng(fuzzSeed, `pairs#${i}`), ['a.mp4']);
      const path = join(dir(), `pairs-${i}.jsonl`);
      writeFileSync(path, c.bytes);
      const label = where(`pair file #${i}`, c.description);
      // The check `isr-studio train` makes before it loads the model: the file's every row, or every bad one named.
      const outcome = await within(boundMs.pairs, label, async () => {
        try {
          return { rows: preferenceRows(path, await readDatasetFile(path), c.needRejected) };
        } catch (err) {
          return { err };
        }
      });
      if (c.bad.length === 0) {
        expect('rows' in outcome ? outcome.rows : (outcome.err as Error).message, label).toEqual(c.good.map(({ line, ...row }) => ({ ...row, place: `line ${line}` })));
        return;
      }
      expect('err' in outcome && outcome.err instanceof ApiError && outcome.err.code, `${label}: ${'rows' in outcome ? 'accepted' : String(outcome.err)}`).toBe('bad_input');
      const { message } = (outcome as { err: ApiError }).err;
      if (c.noJson) {
        expectMessage(message, { names: [path] }, label);
        return;
      }
      const [first, ...rest] = message.split('\n');
      // The one documented list: the file and the count, then a line per bad row, each a message of its own.
      expect(first, label).toBe(`${path}: ${c.bad.length} bad ${c.bad.length === 1 ? 'row' : 'rows'}:`);
      expect(rest.length, `${label}: one line per bad row`).toBe(c.bad.length);
      for (const [k, b] of c.bad.entries()) {
        expect(rest[k].startsWith('  '), label).toBe(true);
        expectMessage(rest[k].slice(2), { names: [new RegExp(`\\bline ${b.line}\\b`), ...(b.field === null ? [] : [b.field])] }, `${label}: line ${b.line}`);
      }
    });
  }
});

describe('fuzz: pair rows isr-studio train meets with the model loaded', () => {
  const settings = { ...defaultTrainConfig, epochs: 1, batchSize: 1, lora: { ...defaultTrainConfig.lora, r: 2, alpha: 4 }, maxLength: 96 };
  const train = (name: string, rows: object[], extra: Partial<typeof settings> = {}) => {
    const dir = join(root, 'train', name);
    mkdirSync(dir, { recursive: true });
    const pairs = join(dir, 'pairs.jsonl');
    writeFileSync(pairs, rows.map((r) => JSON.stringify(r)).join('\n'));
    return { dir, pairs, run: (onCut?: (m: string) => void) => trainOnPreferences({ model: fixtures.get('idefics3')!, pairs, rows: [], out: join(dir, 'out'), settings: { ...settings, ...extra }, frames: 1, cacheDir: join(root, 'cache'), onCut }) };
  };

  it.each([
    ['missing', () => 'gone.mp4'],
    ['a folder', () => 'folder.mp4'],
    ['a symlink loop', () => 'loop.mp4'],
    ['past 255 bytes', () => `${'v'.repeat(300)}.mp4`],
    ['named with a newline', () => 'new\nline.mp4'],
  ])('a row whose video is %s: refused naming the file, the row and the video, before any training', async (what, video) => {
    const t = train(`video-${what.replaceAll(' ', '-')}`, []);
    mkdirSync(join(t.dir, 'folder.mp4'), { recursive: true });
    if (!existsSync(join(t.dir, 'loop.mp4'))) symlinkSync('loop.mp4', join(t.dir, 'loop.mp4'));
    const rows = [{ prompt: 'What colour?', chosen: 'red', rejected: 'blue' }, { prompt: 'And now?', chosen: 'red', rejected: 'blue', video: video() }];
    writeFileSync(t.pairs, rows.map((r) => JSON.stringify(r)).join('\n'));
    const label = where('train video', what);
    const checked = preferenceRows(t.pairs, await readDatasetFile(t.pairs), true);
    const err = await within(boundMs.train, label, () => trainOnPreferences({ model: fixtures.get('idefics3')!, pairs: t.pairs, rows: checked, out: join(t.dir, 'out'), settings, frames: 1, cacheDir: join(root, 'cache') }).then(() => null, (e: unknown) => e));
    expect(err, label).toBeInstanceOf(ApiError);
    expect((err as ApiError).code, label).toBe('bad_input');
    const full = resolve(t.dir, video());
    expectMessage((err as ApiError).message, { names: [oneLine(t.pairs), /\bline 2\b/, [oneLine(full), oneLine(full).slice(0, 120)]] }, label);
  });

  it('cuts responses too long for max_length and trains, saying what it cut by row', async () => {
    const long = 'the square moves slowly to the left and then it stops '.repeat(400);
    const t = train('long', []);
    const rows = [{ prompt: 'What happens?', chosen: long, rejected: `${long} again` }, { prompt: 'Colour?', chosen: 'red', rejected: long }];
    writeFileSync(t.pairs, rows.map((r) => JSON.stringify(r)).join('\n'));
    const label = where('train long', 'two rows whose responses are thousands of tokens, max_length 96');
    const cuts: string[] = [];
    const checked = preferenceRows(t.pairs, await readDatasetFile(t.pairs), true);
    const result = await within(boundMs.train, label, () => trainOnPreferences({ model: fixtures.get('idefics3')!, pairs: t.pairs, rows: checked, out: join(t.dir, 'out'), settings, frames: 1, cacheDir: join(root, 'cache'), onCut: (m) => cuts.push(m) }));
    expect(result, label).toMatchObject({ examples: 2, steps: 2 });
    expect(cuts.map((c) => /^line (\d): (chosen|rejected) cut from [\d,]+ to \d+ tokens \(max_length 96\b/.exec(c)?.slice(1).join(' ') ?? c), label).toEqual(['1 chosen', '1 rejected', '2 rejected']);
    for (const cut of cuts) expectMessage(cut, { names: [/^line [12]\b/] }, label);
  }, 120_000);
});

describe('fuzz: run settings', () => {
  const dir = () => join(root, 'settings');
  let datasetId: number;
  beforeAll(async () => {
    mkdirSync(dir(), { recursive: true });
    const listed = await fuzz.call<{ id: number; name: string }[]>('listDatasets', {});
    datasetId = (listed.ok ? listed.value : []).find((d) => d.name === 'good')!.id;
  });

  /** Starts a run through the API as the Rounds screen does: refused, keeping the database as it was, or stored. */
  async function startRun(label: string, model: string, settings: unknown, refused: boolean | 'maybe', names: Parameters<typeof expectMessage>[1]['names']): Promise<boolean> {
    const r = await within(boundMs.check, label, () => fuzz.call<{ runId: number }>('startRun', { model, datasetId, rounds: 1, settings }));
    if (r.ok) {
      expect(refused, `${label}: the run was started`).not.toBe(true);
      const added = fuzz.expectKept(label, ['runs', 'models']);
      expect(added.get('runs'), label).toEqual([r.value.runId]);
      return true;
    }
    expect(refused, `${label}: refused: ${r.message}`).not.toBe(false);
    expect(['invalid_argument', 'bad_input'], `${label}: ${r.code}: ${r.message}`).toContain(r.code);
    expectMessage(r.message, { names }, label);
    fuzz.expectKept(label);
    return false;
  }

  for (let i = 0; i < counts.settings; i++) {
    it(`run settings #${i}`, async () => {
      const c = settingsCase(new FuzzRng(fuzzSeed, `settings#${i}`));
      const label = where(`run settings #${i}`, c.description);
      // As a --config file, through the reader isr-studio run and experiment use: a refusal names the file and the field.
      const file = join(dir(), `settings-${i}.json`);
      writeFileSync(file, c.text);
      let fileRefused = false;
      try {
        readRunSettings(file);
      } catch (err) {
        fileRefused = true;
        expect(err, label).toBeInstanceOf(ApiError);
        expectMessage((err as ApiError).message, { names: [file, ...c.names] }, `${label} (as a file)`);
      }
      // As the object the API is sent: the same refusal, or the model's (LoRA targets, frames against max_length).
      const started = await startRun(label, fixtures.get('idefics3')!, c.value, c.refused, c.names);
      if (fileRefused) expect(started, `${label}: the file was refused but the API started the run`).toBe(false);
    });
  }

  for (const [i, c] of settingsFileCases().entries()) {
    it(`a --config file: ${c.description}`, () => {
      const file = join(dir(), `file-${i}.json`);
      writeFileSync(file, c.text);
      const label = where(`settings file #${i}`, c.description);
      let err: unknown = null;
      try {
        readRunSettings(file);
      } catch (e) {
        err = e;
      }
      expect(err !== null, `${label}: ${String(err)}`).toBe(c.refused);
      if (err === null) return;
      expect(err, label).toBeInstanceOf(ApiError);
      expectMessage((err as ApiError).message, { names: [file, ...c.names], forbidden: ['root:x', 'hunter2', 'secret'] }, label);
    });
  }

  it.each([
    ['a folder that does not exist', () => join(root, 'no-model')],
    ['a file', () => join(fixtures.get('idefics3')!, 'config.json')],
    ['a folder whose chat template loops 10^8 times', () => {
      const d = join(root, 'models', 'looping');
      hostileFolder('chat template', new FuzzRng(fuzzSeed, 'looping'), fixtures.get('llava-onevision')!, d);
      writeFileSync(join(d, 'chat_template.jinja'), "{% for m in messages %}{{ m['content'][0]['type'] }}{% for i in range(100000000) %}.{% endfor %}{% endfor %}");
      return d;
    }],
  ])('a run whose model is %s: refused, the database as it was', async (what, model) => {
    const path = model();
    await startRun(where('run model', what), path, { frames: 2 }, true, [[path, 'chat_template.jinja']]);
  });
});

// A few cases through the command itself: a non-zero exit and `isr-studio: <one line>` on stderr,
// nothing else there, no stack. Two at a time: each starts a process (tsx) of its own.
describe.concurrent('fuzz: through the isr-studio command', () => {
  const cli = async (label: string, args: string[], rules: Parameters<typeof expectMessage>[1] = {}) => {
    const result = await within(boundMs.cli, label, () => runCli(args));
    expect(result.code, `${label}\n${result.stderr}`).not.toBe(0);
    expect(result.stderr.startsWith('isr-studio: '), `${label}: ${result.stderr}`).toBe(true);
    expect(result.stderr.endsWith('\n'), label).toBe(true);
    expectMessage(result.stderr.slice('isr-studio: '.length, -1), rules, label);
    expect(result.stdout, label).not.toMatch(/^\s+at |node:internal/m);
    return result;
  };
  const dir = (name: string) => {
    const d = join(root, 'cli', name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const datasets = (db: string) => {
    const peek = new Database(db, { readonly: true });
    try {
      return peek.prepare('SELECT COUNT(*) FROM datasets').pluck().get() as number;
    } finally {
      peek.close();
    }
  };

  it('import --data /etc/passwd: refused whole, echoing none of it', async () => {
    const secret = readFileSync('/etc/passwd', 'utf8').split('\n').filter((l) => l.length > 3);
    const db = join(dir('passwd'), 'studio.db');
    await cli(where('cli passwd', 'import /etc/passwd'), ['import', '--db', db, '--data', '/etc/passwd'], { names: ['/etc/passwd'], forbidden: secret });
    expect(datasets(db)).toBe(0);
  });

  it('import of a file whose every row is bad, one naming a video with a newline', async () => {
    const d = dir('all-bad');
    const data = join(d, 'rows.jsonl');
    writeFileSync(data, [JSON.stringify({ id: 1, video: 'new\nline.mp4', question: 'q' }), '{"id": 2,', JSON.stringify({ id: 3, video: 'a.mp4' })].join('\n'));
    const db = join(d, 'studio.db');
    await cli(where('cli all bad', 'three bad rows'), ['import', '--db', db, '--data', data], { names: [data, /line 1\b/, /line 3: question is missing/] });
    expect(datasets(db)).toBe(0);
  });

  it('import into a file that is no database: refused, the file untouched', async () => {
    const d = dir('not-a-db');
    const db = join(d, 'studio.db');
    const garbage = new FuzzRng(fuzzSeed, 'not-a-db').bytes(5000);
    writeFileSync(db, garbage);
    await cli(where('cli not a db', 'random bytes as the database'), ['import', '--db', db, '--data', join(root, 'datasets', 'good.jsonl')], { names: [db] });
    expect(readFileSync(db).equals(garbage)).toBe(true);
  });

  it('run --config with a BOM and an unknown key: refused naming the file and the key, before any import', async () => {
    const d = dir('run-config');
    const config = join(d, 'settings.json');
    writeFileSync(config, `\ufeff${JSON.stringify({ frames: 2, train: { learningRate: 0.1 } })}`);
    const db = join(d, 'studio.db');
    await cli(where('cli run config', 'BOM, train.learningRate'), ['run', '--db', db, '--model', fixtures.get('idefics3')!, '--data', join(root, 'datasets', 'good.jsonl'), '--rounds', '1', '--config', config], { names: [config, 'learningRate'] });
    expect(datasets(db)).toBe(0);
  });

  it('run --model whose chat template would loop 3.6 * 10^9 times: refused within the bound, naming the template', async () => {
    const model = join(dir('looping-model'), 'model');
    hostileFolder('chat template', new FuzzRng(fuzzSeed, 'cli-looping'), fixtures.get('smolvlm')!, model);
    writeFileSync(join(model, 'chat_template.jinja'), "{% for m in messages %}{% for i in range(60000) %}{% for j in range(60000) %}.{% endfor %}{% endfor %}{% endfor %}");
    await cli(where('cli looping model', 'nested loops of 60000'), ['run', '--db', join(dir('looping-model'), 'studio.db'), '--model', model, '--data', join(root, 'datasets', 'good.jsonl'), '--rounds', '1'], { names: [join(model, 'chat_template.jinja')] });
  });

  it('generate --model whose weights are cut short: refused naming the file', async () => {
    const model = join(dir('cut-weights'), 'model');
    hostileFolder('model.safetensors', new FuzzRng(fuzzSeed, 'cli-cut'), fixtures.get('llava-onevision')!, model);
    const bytes = readFileSync(join(model, 'model.safetensors'));
    writeFileSync(join(model, 'model.safetensors'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await cli(where('cli cut weights', '60% of model.safetensors'), ['generate', '--model', model, '--video', join(root, 'datasets', 'a.mp4'), '--prompt', 'What?', '--frames', '1', '--cache', join(root, 'cache')], { names: [join(model, 'model.safetensors')] });
  });

  it('train --pairs with bad rows: the one documented list, a line per row', async () => {
    const d = dir('train-bad');
    const pairs = join(d, 'pairs.jsonl');
    writeFileSync(pairs, [JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b' }), JSON.stringify({ prompt: 'p', chosen: 7, rejected: 'b' }), '{"prompt": ', JSON.stringify({ prompt: 'p', chosen: 'a' })].join('\n'));
    await cli(where('cli train rows', 'chosen a number, bad JSON, rejected missing'), ['train', '--model', fixtures.get('idefics3')!, '--pairs', pairs, '--out', join(d, 'out')], {
      multiline: true, names: [`${pairs}: 3 bad rows:\n  line 2: chosen must be a string\n  line 3 is not valid JSON`, '\n  line 4: rejected is missing'],
    });
  });

  it('train --pairs whose row names a folder as its video: refused naming the file, the row and the video', async () => {
    const d = dir('train-folder');
    mkdirSync(join(d, 'clips.mp4'), { recursive: true });
    const pairs = join(d, 'pairs.jsonl');
    writeFileSync(pairs, JSON.stringify({ prompt: 'What colour?', chosen: 'red', rejected: 'blue', video: 'clips.mp4' }));
    await cli(where('cli train folder', 'video a folder'), ['train', '--model', fixtures.get('idefics3')!, '--pairs', pairs, '--out', join(d, 'out'), '--frames', '1', '--cache', join(root, 'cache')], { names: [`${pairs} line 1: video file is a folder, not a file: ${join(d, 'clips.mp4')}`] });
  });
});
