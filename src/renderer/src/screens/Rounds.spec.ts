import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { contract, type StudioEvent } from '../../../shared/contract';
import { ApiError } from '../../../shared/errors';
import { describeIssues, fieldIssues } from '../../../shared/field-issues';
import type { JobSnapshot } from '../../../shared/jobs';
import { runSettingFields } from '../../../shared/run-settings';
import type { DatasetSummary, KnownModel, RoundSummary, RunSummary } from '../../../shared/types';
import type { Client } from '../lib/client';
import { createJobStore, type JobStore } from '../lib/jobs';
import Rounds from './Rounds.svelte';

const dataset: DatasetSummary = { id: 4, name: 'demo-train', sourcePath: '/d/train.jsonl', status: 'ready', rowCount: 66, errorCount: 0, createdAt: '' };
const runSummary = (id: number, patch: Partial<RunSummary> = {}): RunSummary => ({
  id, mode: 'isr', status: 'done', reviewRound: null, error: null, model: '/models/tiny', datasetId: 4, evalDatasetId: null, roundsPlanned: 3, roundsDone: 1, createdAt: '', ...patch,
});
const stoppedRun = runSummary(2, { mode: 'no-context', status: 'stopped' });
const running: JobSnapshot = {
  id: 'r1', kind: 'run', runId: 3, title: 'ISR-DPO run 3', state: 'running', phase: 'round 1: judging', done: 5, total: 66,
  etaSeconds: 40, startedAt: '2026-01-01T00:00:00Z', finishedAt: null, result: null, error: null,
};
const models: KnownModel[] = [
  { path: '/runs/3/round-2/model', family: 'idefics3', origin: { kind: 'round', runId: 3, round: 2 }, createdAt: '' },
  { path: '/models/tiny', family: 'idefics3', origin: { kind: 'start' }, createdAt: '' },
];

// A test double of the API at this unit level; the real service runs rounds in src/main/api/service.spec.ts.
function fakeClient(
  startRun: (input: Record<string, unknown>) => Promise<unknown> = async () => ({ jobId: 'r1', runId: 3 }),
  options: { runs?: RunSummary[]; jobs?: JobSnapshot[]; datasets?: DatasetSummary[] } = {},
) {
  const listeners = new Set<(e: StudioEvent) => void>();
  const calls: [string, unknown][] = [];
  const checked: string[] = [];
  const client = {
    api: {
      listDatasets: async () => options.datasets ?? [dataset],
      listRuns: async () => options.runs ?? [stoppedRun],
      listModels: async () => models,
      listJobs: async () => options.jobs ?? [],
      checkModel: async ({ path }: { path: string }) => {
        checked.push(path);
        if (path.includes('bad')) throw new ApiError('bad_input', `${path}: no config.json in the model folder`);
        return { path, family: 'idefics3' };
      },
      startRun: async (input: Record<string, unknown>) => {
        calls.push(['startRun', input]);
        return startRun(input);
      },
      resumeRun: async (input: unknown) => {
        calls.push(['resumeRun', input]);
        return { jobId: 'r2' };
      },
      cancelJob: async (input: unknown) => {
        calls.push(['cancelJob', input]);
        return { cancelled: true };
      },
    },
    onEvent: (l: (e: StudioEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    mediaUrl: (key: string) => key,
  } as unknown as Client;
  return { client, calls, checked, emit: (job: JobSnapshot) => listeners.forEach((l) => l({ type: 'job', job })) };
}

let jobs: JobStore | undefined;
afterEach(() => {
  cleanup();
  jobs?.stop();
});

function renderScreen(client: Client) {
  jobs = createJobStore(client);
  return render(Rounds, { client, jobs });
}

async function fillRequired(model = '/models/tiny') {
  await waitFor(() => expect(screen.getAllByRole('option', { name: 'demo-train (66 rows)', hidden: true })).toHaveLength(2));
  await fireEvent.input(screen.getByLabelText('Model folder'), { target: { value: model } });
  await fireEvent.change(screen.getByLabelText('Training prompts'), { target: { value: '4' } });
}

describe('Rounds screen', () => {
  it('checks the form before asking, then launches with every setting and shows the run progressing, with cancel', async () => {
    const { client, calls, emit } = fakeClient();
    renderScreen(client);
    await waitFor(() => expect(screen.getAllByRole('option', { name: 'demo-train (66 rows)', hidden: true })).toHaveLength(2));

    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    expect(screen.getByText('the model folder is required')).toBeTruthy();
    expect(screen.getByText('choose the training prompts')).toBeTruthy();
    expect(calls).toEqual([]);

    await fillRequired();
    await fireEvent.change(screen.getByLabelText('Preset'), { target: { value: '1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0][1]).toMatchObject({
      model: '/models/tiny', datasetId: 4, evalDatasetId: null, mode: 'isr', rounds: 1,
      settings: { samples: 2, temperature: 0.7, topP: 0.9, tieBand: [0.45, 0.55], review: 'none', frames: 4, train: { loss: 'sigmoid', beta: 0.1, epochs: 1, loraR: 4, loraAlpha: 8 } },
    });

    emit(running);
    const progress = await screen.findByTestId('run-progress');
    expect(progress.textContent).toContain('round 1: judging 5/66');
    emit({ ...running, phase: 'round 1: training', done: 3, total: 9, detail: 'loss 0.6500, rewards/accuracies 0.75, rewards/margins 0.0300' });
    expect((await screen.findByTestId('job-detail')).textContent).toBe('loss 0.6500, rewards/accuracies 0.75, rewards/margins 0.0300');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls.at(-1)).toEqual(['cancelJob', { jobId: 'r1' }]);
  });

  it("shows the whole run's progress beside the phase's: round k of N, the share done and the run's ETA", async () => {
    const { client, emit } = fakeClient();
    renderScreen(client);
    emit({ ...running, phase: 'round 2: judging', overall: { label: 'round 2 of 3: judging', fraction: 0.5, etaSeconds: 125 } });
    const progress = await screen.findByTestId('run-progress');
    expect(progress.textContent).toContain('ISR-DPO run 3: round 2 of 3: judging, 50% of all, about 2m 05s left');
    expect(progress.textContent).toContain('Now: round 2: judging 5/66, about 40s left');
    expect(within(progress).getByRole('progressbar', { name: 'ISR-DPO run 3 overall progress' }).getAttribute('value')).toBe('0.5');
    expect(within(progress).getByRole('progressbar', { name: 'ISR-DPO run 3 phase progress' }).getAttribute('value')).toBe('5');
  });

  it('finds a run that was already running in the studio, and keeps it after the screen comes back', async () => {
    // Run 3 as read a moment before its job wrote that it runs: the job here says it does.
    const runs = [runSummary(3, { status: 'review', reviewRound: 1 }), runSummary(5, { status: 'running' })];
    const { client, calls } = fakeClient(undefined, { runs, jobs: [running] });
    const first = renderScreen(client);
    expect((await screen.findByTestId('run-progress')).textContent).toContain('ISR-DPO run 3: round 1: judging 5/66');
    first.unmount();
    render(Rounds, { client, jobs: jobs! });
    expect((await screen.findByTestId('run-progress')).textContent).toContain('round 1: judging 5/66');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls).toEqual([['cancelJob', { jobId: 'r1' }]]);
    // Run 3's job runs here; run 5 says it runs but nothing here runs it (a killed studio or CLI): it may be resumed.
    const table = screen.getByRole('table', { name: 'Runs' });
    const rowOf = (id: number) => within(table).getAllByRole('row').find((row) => row.querySelector('td')?.textContent === String(id))!;
    expect(within(rowOf(3)).queryByRole('button', { name: /Resume|Train/ })).toBeNull();
    expect(within(rowOf(3)).getAllByRole('cell')[4].textContent).toBe('running');
    expect(rowOf(5).textContent).toContain('running, not in this studio');
    expect(within(rowOf(5)).getByRole('button', { name: 'Resume run 5' })).toBeTruthy();
  });

  it('checks the model folder beside the field and refuses to launch while it fails', async () => {
    const { client, calls, checked } = fakeClient();
    renderScreen(client);
    await fillRequired('/models/bad');
    // Typing is checked once it pauses.
    await waitFor(() => expect(checked).toEqual(['/models/bad']), { timeout: 2000 });
    const message = await screen.findByText('/models/bad: no config.json in the model folder');
    expect(message.className).toContain('field-error');
    expect(screen.getByLabelText('Model folder').getAttribute('aria-invalid')).toBe('true');
    expect(message.closest('#model-check')).toBe(document.getElementById(screen.getByLabelText('Model folder').getAttribute('aria-describedby')!));

    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    await waitFor(() => expect(checked).toHaveLength(2));
    expect(calls).toEqual([]);

    // A model the studio knows: the round's output, named by where it came from.
    const known = screen.getByLabelText('Known models') as HTMLSelectElement;
    expect([...known.options].map((o) => o.textContent)).toEqual(['Choose a model the studio knows', 'round 2 of run 3 · /runs/3/round-2/model', 'idefics3 start · /models/tiny']);
    await fireEvent.change(known, { target: { value: '/runs/3/round-2/model' } });
    expect((screen.getByLabelText('Model folder') as HTMLInputElement).value).toBe('/runs/3/round-2/model');
    await waitFor(() => expect(screen.getByTestId('model-note').textContent).toBe('model family: idefics3'));
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    await waitFor(() => expect(calls).toEqual([['startRun', expect.objectContaining({ model: '/runs/3/round-2/model' })]]));
  });

  it("puts the run's own validation messages beside their fields", async () => {
    // What dispatch answers for a request the schema rejects, built by the same schema and helper.
    const { client } = fakeClient(async (input) => {
      const parsed = contract.startRun.input.safeParse({ ...input, settings: { train: { beta: 0 } } });
      const issues = fieldIssues(parsed.error!, '(input)');
      throw new ApiError('invalid_argument', `startRun: ${describeIssues(issues)}`, issues);
    });
    renderScreen(client);
    await fillRequired();
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    expect((await screen.findByText('Too small: expected number to be >0')).className).toContain('field-error');
  });

  it('draws every setting from its declaration: label, default, bounds and help', async () => {
    const { client } = fakeClient();
    renderScreen(client);
    const numbers = runSettingFields.filter((f) => f.control.kind === 'number');
    expect(numbers.length).toBeGreaterThan(10);
    for (const field of numbers) {
      const { min, max } = field.control as { min?: number; max?: number };
      const input = screen.getByLabelText(field.label) as HTMLInputElement;
      expect([field.key, Number(input.value), input.min, input.max]).toEqual([field.key, field.default, String(min ?? ''), String(max ?? '')]);
      expect(document.getElementById(input.getAttribute('aria-describedby')!)?.textContent).toContain(field.help);
    }
    expect((screen.getByLabelText('Loss') as HTMLSelectElement).value).toBe('sigmoid');
    expect((screen.getByLabelText('Review') as HTMLSelectElement).value).toBe('none');
    expect((screen.getByLabelText('LoRA targets') as HTMLInputElement).value).toBe('q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj');
    expect([(screen.getByLabelText('Tie band from') as HTMLInputElement).value, (screen.getByLabelText('to') as HTMLInputElement).value]).toEqual(['0.45', '0.55']);
    expect((screen.getByLabelText('Train the projector') as HTMLInputElement).checked).toBe(false);
  });

  it('checks the settings with the schema before asking, beside each field', async () => {
    const { client, calls } = fakeClient();
    renderScreen(client);
    await fillRequired();
    await fireEvent.input(screen.getByLabelText('Samples per prompt'), { target: { value: '3' } });
    await fireEvent.input(screen.getByLabelText('Tie band from'), { target: { value: '0.6' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    expect(screen.getByText('must be even: samples are judged in pairs').className).toContain('field-error');
    expect(screen.getByText('low must not exceed high').className).toContain('field-error');
    expect(calls).toEqual([]);
  });

  it('resumes a stopped run, and links each run to Review and History', async () => {
    const { client, calls } = fakeClient();
    renderScreen(client);
    await fireEvent.click(await screen.findByRole('button', { name: 'Resume run 2' }));
    expect(calls).toEqual([['resumeRun', { runId: 2 }]]);
    expect(screen.getByRole('link', { name: 'Review run 2' }).getAttribute('href')).toBe('#review?run=2');
    expect(screen.getByRole('link', { name: 'History of run 2' }).getAttribute('href')).toBe('#history?run=2');
  });

  it('trains a round that awaits review on the verdicts people gave, instead of offering Resume', async () => {
    const { client, calls, emit } = fakeClient(undefined, { runs: [runSummary(6, { status: 'review', reviewRound: 2, roundsDone: 1 })] });
    renderScreen(client);
    const train = await screen.findByRole('button', { name: 'Train round 2 of run 6' });
    expect(train.textContent).toBe('Train round 2');
    expect(screen.getByRole('cell', { name: 'awaits review of round 2' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Resume/ })).toBeNull();
    await fireEvent.click(train);
    expect(calls).toEqual([['resumeRun', { runId: 6 }]]);
    // Its progress shows at the top of the screen, far above the button: the keyboard goes there.
    emit({ ...running, id: 'r2', runId: 6, title: 'ISR-DPO run 6' });
    const progress = await screen.findByRole('region', { name: 'Run progress' });
    expect(progress.textContent).toContain('ISR-DPO run 6');
    expect(document.activeElement).toBe(progress);
  });

  it("shows a failed run's error in the table, not only in a tooltip", async () => {
    const error = 'engine process ended without an outcome (exit code 137): out of memory?';
    const { client } = fakeClient(undefined, { runs: [runSummary(4, { status: 'failed', error })] });
    renderScreen(client);
    const shown = await screen.findByTestId('run-error');
    expect(shown.textContent).toBe(`Run 4 failed: ${error}`);
    expect(shown.className).toContain('error');
    expect(screen.getByRole('button', { name: 'Resume run 4' })).toBeTruthy();
  });

  it('says why a run job failed, at once', async () => {
    const { client, emit } = fakeClient();
    renderScreen(client);
    emit({ ...running, state: 'failed', error: { code: 'bad_input', message: '/models/tiny: tokenizer.json is missing' } });
    expect((await screen.findByRole('alert')).textContent).toBe('ISR-DPO run 3 failed: /models/tiny: tokenizer.json is missing');
  });

  it("sums a finished run up with each count in its number: 1 round, 1 pair, 1 step; 2 rounds, 0 pairs; 1 row", async () => {
    const round = (n: number, pairs: number, steps: number): RoundSummary => ({
      round: n, pairs, ties: 0, dropped: 0, steps, accuracy: 0.5, meanTokens: null, meanWords: null, agreement: null, visualShare: null, outside: [],
    });
    const done = (rounds: RoundSummary[]): JobSnapshot => ({ ...running, state: 'done', finishedAt: '2026-01-01T00:01:00Z', result: { runId: 3, rounds, awaitingReview: null, awaitingOutside: null } });
    const { client, emit } = fakeClient(undefined, { datasets: [{ ...dataset, rowCount: 1 }] });
    renderScreen(client);
    await waitFor(() => expect(screen.getAllByRole('option', { name: 'demo-train (1 row)', hidden: true })).toHaveLength(2));
    emit(done([round(1, 1, 1)]));
    await waitFor(() => expect(screen.getByTestId('run-progress').textContent).toContain('ISR-DPO run 3: 1 round; last: 1 pair, 1 step, held-out accuracy 50.0%.'));
    // A newer run's job: the screen shows how the newest one ended.
    emit({ ...done([round(1, 1, 1), round(2, 0, 0)]), id: 'r4', runId: 4, title: 'ISR-DPO run 4', startedAt: '2026-01-01T00:02:00Z' });
    await waitFor(() => expect(screen.getByTestId('run-progress').textContent).toContain('ISR-DPO run 4: 2 rounds; last: 0 pairs, 0 steps, held-out accuracy 50.0%.'));
  });
});
