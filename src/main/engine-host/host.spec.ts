// The host over real processes: the real engine entry for the protocol, and small scripts that
// speak it badly (crash, abort, ignore cancel) for what a broken engine does.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { childProcessEngine, forkEngine } from './child-process';
import { describeExit, EngineHost } from './host';

const dir = mkdtempSync(join(tmpdir(), 'isr-engine-host-'));
/** An engine entry whose reaction to 'start' is `body` (plain Node, ESM). */
function fakeEngine(name: string, body: string): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `process.on('message', (m) => { if (m.type === 'start') { ${body} } else if (m.type === 'exit') process.exit(0); });\n`);
  return file;
}

const context = (progress: (phase: string, done: number, total: number) => void = () => {}) => {
  const abort = new AbortController();
  return { abort, ctx: { signal: abort.signal, progress } };
};

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('resolved'); }, (err: unknown) => err as ApiError);

describe('EngineHost', () => {
  it('runs a task in another process, relays its progress and returns its result', async () => {
    const phases: string[] = [];
    const host = new EngineHost(forkEngine(fakeEngine('works', `
      process.send({ type: 'progress', phase: 'step', done: 1, total: 2 });
      process.send({ type: 'progress', phase: 'step', done: 2, total: 2 });
      process.send({ type: 'done', result: { pid: process.pid, input: m.input, array: new Float32Array([1.5]) } });`)));
    const { ctx } = context((phase, done, total) => phases.push(`${phase} ${done}/${total}`));
    const result = (await host.run('run', { runId: 7 } as never, ctx)) as unknown as { pid: number; input: unknown; array: Float32Array };
    expect(phases).toEqual(['step 1/2', 'step 2/2']);
    expect(result.pid).not.toBe(process.pid);
    expect(result.input).toEqual({ runId: 7 });
    expect(result.array).toEqual(new Float32Array([1.5]));
  });

  it('fails a task whose process ends without an outcome, saying how it ended', async () => {
    const { ctx } = context();
    const exited = await failure(new EngineHost(forkEngine(fakeEngine('exits', 'process.exit(3);'))).run('run', {} as never, ctx, 'run 4'));
    expect(exited).toMatchObject({ code: 'engine_failed', message: 'run 4: the engine process exited with code 3; what it had stored is kept, and resuming continues from there' });
    const aborted = await failure(new EngineHost(forkEngine(fakeEngine('aborts', 'process.abort();'))).run('run', {} as never, ctx));
    expect(aborted.message).toContain('aborted (SIGABRT: a native library failed)');
    const killed = await failure(new EngineHost(forkEngine(fakeEngine('killed', "process.kill(process.pid, 'SIGKILL');"))).run('run', {} as never, ctx));
    expect(killed.message).toContain('was killed (SIGKILL: out of memory, or killed from outside)');
  });

  it('passes the real engine\'s task error through with its code, and relays a cancel as a message', async () => {
    const { ctx } = context();
    const host = childProcessEngine();
    const missing = await failure(host.run('run', { runId: 5, dbPath: join(dir, 'studio.db'), ffmpeg: 'ffmpeg', cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') }, ctx));
    expect(missing).toBeInstanceOf(ApiError);
    expect(missing).toMatchObject({ code: 'not_found', message: 'no run 5' });

    const cancelled = context();
    const stop = new EngineHost(forkEngine(fakeEngine('cancellable', `
      process.on('message', (n) => n.type === 'cancel' && process.send({ type: 'failed', error: { code: 'cancelled', message: 'stopped' } }));
      process.send({ type: 'progress', phase: 'waiting', done: 0, total: 1 });`)));
    const running = stop.run('run', {} as never, { ...cancelled.ctx, progress: () => cancelled.abort.abort() });
    expect(await failure(running)).toMatchObject({ code: 'cancelled', message: 'stopped' });
  });

  it('close() kills an engine that ignores cancel once the grace period is over, and refuses new tasks', async () => {
    const host = new EngineHost(forkEngine(fakeEngine('stubborn', "process.send({ type: 'progress', phase: 'busy', done: 0, total: 1 }); setInterval(() => {}, 1000);")), { stopGraceMs: 200 });
    let started!: () => void;
    const busy = new Promise<void>((resolve) => (started = resolve));
    const running = failure(host.run('run', {} as never, { signal: new AbortController().signal, progress: () => started() }));
    await busy;
    await host.close();
    expect((await running).message).toContain('SIGKILL');
    expect(await failure(host.run('run', {} as never, context().ctx))).toMatchObject({ code: 'cancelled' });
  });

  it('describes exits by signal and by the codes shells give them', () => {
    expect(describeExit({ code: null, signal: 'SIGTERM' })).toBe('was ended by SIGTERM');
    expect(describeExit({ code: 139, signal: null })).toBe('crashed (SIGSEGV in native code)');
    expect(describeExit({ code: 1, signal: null })).toBe('exited with code 1');
  });
});
