import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RoundSummary, RunHistory, RunSummary } from '../../../shared/types';
import type { Client } from '../lib/client';
import History from './History.svelte';

const round = (r: number, accuracy: number, meanTokens: number): RoundSummary => ({
  round: r, pairs: 10, ties: 2, steps: 5, accuracy, meanTokens, meanWords: meanTokens * 0.8, judgeAgreement: r === 0 ? null : 0.7, visualShare: r === 0 ? null : 0.2 + r / 10,
});
const summary = (id: number, mode: RunSummary['mode']): RunSummary => ({ id, mode, status: 'done', error: null, datasetId: 1, evalDatasetId: 2, roundsPlanned: 2, roundsDone: 2, createdAt: '' });
const history: RunHistory[] = [
  { run: summary(1, 'isr'), rounds: [round(0, 0.3, 8), round(1, 0.4, 9), round(2, 0.5, 9)], steps: [1, 2, 3].map((step) => ({ round: 1, step, metrics: { loss: 0.7 - step / 10, 'rewards/margins': step / 10, 'rewards/accuracies': 0.5 + step / 10 } })) },
  { run: summary(2, 'text-judge'), rounds: [round(0, 0.3, 8), round(1, 0.3, 14), round(2, 0.25, 22)], steps: [] },
];

// A test double of the API at this unit level; the real figures come from src/main (service spec).
function fakeClient() {
  const calls: unknown[] = [];
  const client = {
    api: {
      getHistory: async () => history,
      exportPairs: async (input: unknown) => {
        calls.push(input);
        return { fileName: 'run-1-round-1-pairs.jsonl', jsonl: '{}\n', rows: 1 };
      },
    },
    onEvent: () => () => {},
    mediaUrl: (key: string) => key,
  } as unknown as Client;
  return { client, calls };
}

// jsdom has no object URLs; the browser's own are used in the e2e spec.
beforeAll(() => {
  URL.createObjectURL = () => 'blob:test';
});
afterEach(() => cleanup());

describe('History screen', () => {
  it('tabulates every round of every run and draws each chart with one line a run', async () => {
    const { client } = fakeClient();
    render(History, { client });
    const table = await screen.findByRole('table', { name: 'Runs and rounds' });
    expect(table.querySelectorAll('tbody tr')).toHaveLength(6);
    const charts = screen.getAllByTestId('chart');
    expect(charts.map((c) => c.querySelector('figcaption')!.textContent)).toEqual(expect.arrayContaining([
      expect.stringContaining('Held-out accuracy'), expect.stringContaining('Mean answer length (tokens)'), expect.stringContaining('Judge visual-attention share'),
      expect.stringContaining('Judge agreement with overrides'), expect.stringContaining('DPO loss'), expect.stringContaining('Reward margins'), expect.stringContaining('Reward accuracy'),
    ]));
    const lines = (title: string) => [...charts.find((c) => c.textContent!.includes(title))!.querySelectorAll('path')].map((p) => p.getAttribute('data-series'));
    expect(lines('Mean answer length')).toEqual(['run 1 (isr)', 'run 2 (text-judge)']);
    // Only run 1 trained in this history: the step charts have its line alone.
    expect(lines('DPO loss')).toEqual(['run 1 (isr)']);
  });

  it("exports a round's pairs as TRL DPO JSONL", async () => {
    const { client, calls } = fakeClient();
    render(History, { client });
    await fireEvent.click(await screen.findByRole('button', { name: 'Export pairs (TRL DPO JSONL)' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('1 pairs saved as run-1-round-1-pairs.jsonl.'));
    expect(calls).toEqual([{ runId: 1, round: 1 }]);
  });
});
