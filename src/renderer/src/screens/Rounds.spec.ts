import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { contract, type StudioEvent } from '../../../shared/contract';
import { ApiError } from '../../../shared/errors';
import { describeIssues, fieldIssues } from '../../../shared/field-issues';
import type { JobSnapshot } from '../../../shared/jobs';
import { runSettingFields } from '../../../shared/run-settings';
import type { DatasetSummary, RunSummary } from '../../../shared/types';
import type { Client } from '../lib/client';
import { createJobStore, type JobStore } from '../lib/jobs';
import Rounds from './Rounds.svelte';

const dataset: DatasetSummary = { id: 4, name: 'demo-train', sourcePath: '/d/train.jsonl', status: 'ready', rowCount: 66, errorCount: 0, createdAt: '' };
const stoppedRun: RunSummary = { id: 2, mode: 'no-context', status: 'stopped', error: null, datasetId: 4, evalDatasetId: null, roundsPlanned: 3, roundsDone: 1, createdAt: '' };
const running: JobSnapshot = {
  id: 'r1', kind: 'run', title: 'ISR-DPO run 3', state: 'running', phase: 'round 1: judging', done: 5, total: 66,
  etaSeconds: 40, startedAt: '2026-01-01T00:00:00Z', finishedAt: null, result: null, error: null,
};

// A test double of the API at this unit level; the real service runs rounds in src/main/api/service.spec.ts.
function fakeClient(startRun: (input: Record<string, unknown>) => Promise<unknown>) {
  const listeners = new Set<(e: StudioEvent) => void>();
  const calls: [string, unknown][] = [];
  const client = {
    api: {
      listDatasets: async () => [dataset],
      listRuns: async () => [stoppedRun],
      listJobs: async () => [],
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
  return { client, calls, emit: (job: JobSnapshot) => listeners.forEach((l) => l({ type: 'job', job })) };
}

let jobs: JobStore | undefined;
afterEach(() => {
  cleanup();
  jobs?.stop();
});

describe('Rounds screen', () => {
  it('checks the form before asking, then launches with every setting and shows the run progressing, with cancel', async () => {
    const { client, calls, emit } = fakeClient(async () => ({ jobId: 'r1', runId: 3 }));
    jobs = createJobStore(client);
    render(Rounds, { client, jobs });
    await waitFor(() => expect(screen.getAllByRole('option', { name: 'demo-train (66 rows)', hidden: true })).toHaveLength(2));

    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    expect(screen.getByText('the model folder is required')).toBeTruthy();
    expect(screen.getByText('choose the training prompts')).toBeTruthy();
    expect(calls).toEqual([]);

    await fireEvent.input(screen.getByLabelText('Model folder'), { target: { value: '/models/tiny' } });
    await fireEvent.change(screen.getByLabelText('Training prompts'), { target: { value: '4' } });
    await fireEvent.change(screen.getByLabelText('Preset'), { target: { value: '1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0][1]).toMatchObject({
      model: '/models/tiny', datasetId: 4, evalDatasetId: null, mode: 'isr', rounds: 1,
      settings: { samples: 2, temperature: 0.7, topP: 0.9, tieBand: [0.45, 0.55], frames: 4, train: { loss: 'sigmoid', beta: 0.1, epochs: 1, loraR: 4, loraAlpha: 8 } },
    });

    emit(running);
    const progress = await screen.findByTestId('run-progress');
    expect(progress.textContent).toContain('round 1: judging 5/66');
    emit({ ...running, phase: 'round 1: training', done: 3, total: 9, detail: 'loss 0.6500, rewards/accuracies 0.75, rewards/margins 0.0300' });
    expect((await screen.findByTestId('job-detail')).textContent).toBe('loss 0.6500, rewards/accuracies 0.75, rewards/margins 0.0300');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls.at(-1)).toEqual(['cancelJob', { jobId: 'r1' }]);
  });

  it("puts the run's own validation messages beside their fields", async () => {
    // What dispatch answers for a request the schema rejects, built by the same schema and helper.
    const { client } = fakeClient(async (input) => {
      const parsed = contract.startRun.input.safeParse({ ...input, settings: { train: { beta: 0 } } });
      const issues = fieldIssues(parsed.error!, '(input)');
      throw new ApiError('invalid_argument', `startRun: ${describeIssues(issues)}`, issues);
    });
    jobs = createJobStore(client);
    render(Rounds, { client, jobs });
    await waitFor(() => expect(screen.getAllByRole('option', { name: 'demo-train (66 rows)', hidden: true })).toHaveLength(2));
    await fireEvent.input(screen.getByLabelText('Model folder'), { target: { value: '/models/tiny' } });
    await fireEvent.change(screen.getByLabelText('Training prompts'), { target: { value: '4' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    expect((await screen.findByText('Too small: expected number to be >0')).className).toContain('field-error');
  });

  it('draws every setting from its declaration: label, default, bounds and help', async () => {
    const { client } = fakeClient(async () => ({ jobId: 'r1', runId: 3 }));
    jobs = createJobStore(client);
    render(Rounds, { client, jobs });
    const numbers = runSettingFields.filter((f) => f.control.kind === 'number');
    expect(numbers.length).toBeGreaterThan(10);
    for (const field of numbers) {
      const { min, max } = field.control as { min?: number; max?: number };
      const input = screen.getByLabelText(field.label) as HTMLInputElement;
      expect([field.key, Number(input.value), input.min, input.max]).toEqual([field.key, field.default, String(min ?? ''), String(max ?? '')]);
      expect(document.getElementById(input.getAttribute('aria-describedby')!)?.textContent).toContain(field.help);
    }
    expect((screen.getByLabelText('Loss') as HTMLSelectElement).value).toBe('sigmoid');
    expect((screen.getByLabelText('LoRA targets') as HTMLInputElement).value).toBe('q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj');
    expect([(screen.getByLabelText('Tie band from') as HTMLInputElement).value, (screen.getByLabelText('to') as HTMLInputElement).value]).toEqual(['0.45', '0.55']);
    expect((screen.getByLabelText('Train the projector') as HTMLInputElement).checked).toBe(false);
  });

  it('checks the settings with the schema before asking, beside each field', async () => {
    const { client, calls } = fakeClient(async () => ({ jobId: 'r1', runId: 3 }));
    jobs = createJobStore(client);
    render(Rounds, { client, jobs });
    await waitFor(() => expect(screen.getAllByRole('option', { name: 'demo-train (66 rows)', hidden: true })).toHaveLength(2));
    await fireEvent.input(screen.getByLabelText('Model folder'), { target: { value: '/models/tiny' } });
    await fireEvent.change(screen.getByLabelText('Training prompts'), { target: { value: '4' } });
    await fireEvent.input(screen.getByLabelText('Samples per prompt'), { target: { value: '3' } });
    await fireEvent.input(screen.getByLabelText('Tie band from'), { target: { value: '0.6' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Launch run' }));
    expect(screen.getByText('must be even: samples are judged in pairs').className).toContain('field-error');
    expect(screen.getByText('low must not exceed high').className).toContain('field-error');
    expect(calls).toEqual([]);
  });

  it('resumes a stopped run', async () => {
    const { client, calls } = fakeClient(async () => ({ jobId: 'r1', runId: 3 }));
    jobs = createJobStore(client);
    render(Rounds, { client, jobs });
    await fireEvent.click(await screen.findByRole('button', { name: 'Resume run 2' }));
    expect(calls).toEqual([['resumeRun', { runId: 2 }]]);
  });
});
