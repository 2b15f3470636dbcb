// How the studio answers while it computes: `isr-studio serve` on a `small` fixture runs a round,
// and from the moment it starts training (reference log-probs, then DPO updates) a trivial API call
// (listJobs) is sent every 100 ms for 60 s, each timed from send to answer. ISR_BENCH_BEFORE=<dir>
// first runs the same against another checkout's `isr-studio` (e.g. one from before the engine
// process, 327020a), for a before/after table from one machine and hour.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gitCommit } from '../src/main/report/machine';
import type { JobSnapshot } from '../src/shared/jobs';

const here = fileURLToPath(new URL('..', import.meta.url));
const cliOf = (root: string) => (args: string[]) => spawn(process.execPath, [join(root, 'bin/isr-studio.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
const settings = { samples: 2, maxNewTokens: 16, contextTokens: 24, frames: 4, tieBand: [0.5, 0.5], train: { epochs: 4, batchSize: 2 } };
const [intervalMs, durationMs] = [100, 60_000];

async function runCli(cli: ReturnType<typeof cliOf>, args: string[]): Promise<void> {
  const child = cli(args);
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`isr-studio ${args.join(' ')} exited with ${code}`);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];

interface Latencies {
  calls: number;
  p50: number;
  p99: number;
  max: number;
  /** Calls answered per phase of the run. */
  during: string;
}

async function measure(root: string): Promise<Latencies> {
  const cli = cliOf(root);
  const dir = mkdtempSync(join(tmpdir(), 'isr-bench-responsive-'));
  const server = cli(['serve', '--db', join(dir, 'studio.db'), '--port', '0']);
  try {
    await runCli(cli, ['demo-data', '--out', join(dir, 'demo'), '--videos', '8', '--seed', '5']);
    await runCli(cli, ['fixture', '--arch', 'llava-onevision', '--size', 'small', '--out', join(dir, 'model'), '--seed', '5']);
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings));
    const url = await new Promise<URL>((found) => {
      let out = '';
      server.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /serving at (\S+)/.exec(out);
        if (m) found(new URL(m[1]));
      });
    });
    const call = async <T>(method: string, input: unknown = {}): Promise<T> => {
      const response = await fetch(`${url.origin}/api/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${url.searchParams.get('token')}` },
        body: JSON.stringify(input),
      });
      const body = (await response.json()) as { ok: boolean; value: T; error?: { message: string } };
      if (!body.ok) throw new Error(`${method}: ${body.error!.message}`);
      return body.value;
    };
    const job = async (id: string) => (await call<JobSnapshot[]>('listJobs')).find((j) => j.id === id)!;

    const { jobId: importJob } = await call<{ jobId: string }>('importDataset', { path: join(dir, 'demo', 'train.jsonl') });
    while ((await job(importJob)).state === 'running') await sleep(200);
    const datasetId = ((await job(importJob)).result as { datasetId: number }).datasetId;
    const { jobId } = await call<{ jobId: string }>('startRun', { model: join(dir, 'model'), datasetId, evalDatasetId: null, rounds: 1, mode: 'isr', settings });
    for (let j = await job(jobId); !/reference|training/.test(j.phase); j = await job(jobId)) {
      if (j.state !== 'running') throw new Error(`the run ended (${j.state}: ${j.error?.message}) before it trained`);
      await sleep(200);
    }

    // Sent on a fixed clock, not after the previous answer, so a blocked server shows as a queue of late answers.
    const latencies: number[] = [];
    const phases = new Map<string, number>();
    const pending: Promise<void>[] = [];
    const start = performance.now();
    for (let k = 0; k * intervalMs < durationMs; k++) {
      await sleep(Math.max(0, start + k * intervalMs - performance.now()));
      const sent = performance.now();
      pending.push(call<JobSnapshot[]>('listJobs').then((jobs) => {
        latencies.push(performance.now() - sent);
        const phase = jobs.find((j) => j.id === jobId)!;
        const name = phase.state === 'running' ? phase.phase.replace(/^round \d+: /, '') : phase.state;
        phases.set(name, (phases.get(name) ?? 0) + 1);
      }));
    }
    await Promise.all(pending);
    const sorted = [...latencies].sort((a, b) => a - b);
    const [p50, p99, max] = [quantile(sorted, 0.5), quantile(sorted, 0.99), sorted.at(-1)!];
    const during = [...phases].map(([name, n]) => `${name} ${n}`).join(', ');
    console.log(`${root}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${latencies.length} calls (${during})`);
    return { calls: latencies.length, p50, p99, max, during };
  } finally {
    server.kill('SIGTERM');
    await new Promise((done) => server.on('close', done));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function responsivenessSection(machine: string): Promise<string> {
  const before = process.env.ISR_BENCH_BEFORE;
  const runs: [string, Latencies][] = [];
  if (before !== undefined) runs.push([`before: ${gitCommit(resolve(before))?.commit.slice(0, 7) ?? resolve(before)} (engine in serve's process)`, await measure(resolve(before))]);
  runs.push(['this tree (engine process)', await measure(here)]);
  const rows = runs.map(([what, l]) => `| ${what} | ${l.calls} | ${l.p50.toFixed(1)} | ${l.p99.toFixed(1)} | ${l.max.toFixed(1)} | ${l.during} |`);
  return `
## Responsiveness: API calls while a round trains (\`isr-studio serve\`, \`small\` fixture)

${machine}
Command: \`ISR_BENCH_BEFORE=<checkout> npm run bench -- responsiveness\` (bench/responsiveness.ts; without the variable, this tree
alone). \`serve\` on a LLaVA-OneVision \`small\` fixture, 8 demo videos (${settings.samples} samples per prompt, DPO
${settings.train.epochs} epochs, batch ${settings.train.batchSize}); from the first reference/training progress, a \`listJobs\` call every
${intervalMs} ms for ${durationMs / 1000} s, sent on a fixed clock and timed from send to answer. Target: p99 under 50 ms, max under 200 ms.

| studio | calls | p50 ms | p99 ms | max ms | answered during (phase: calls) |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
}
