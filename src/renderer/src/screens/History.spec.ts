import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../shared/errors';
import type { Agreement, OutsideWork, RoundSummary, RunHistory, RunSummary } from '../../../shared/types';
import type { Client } from '../lib/client';
import History from './History.svelte';

const agreement = (n: number, agreed: number, kappa: number | null): Agreement => ({
  n, agreed, percent: agreed / n, kappa, byConfidence: [],
  confusion: { a: { a: agreed, b: n - agreed, tie: 0, 'both-bad': 0 }, b: { a: 0, b: 0, tie: 0, 'both-bad': 0 }, tie: { a: 0, b: 0, tie: 0, 'both-bad': 0 } },
});
const round = (r: number, accuracy: number, meanTokens: number, patch: Partial<RoundSummary> = {}): RoundSummary => ({
  round: r, pairs: 10, ties: 2, dropped: r === 0 ? 0 : 1, steps: 5, accuracy, meanTokens, meanWords: meanTokens * 0.8,
  agreement: null, visualShare: r === 0 ? null : 0.2 + r / 10, outside: [], ...patch,
});
const outside = (step: OutsideWork['step'], source: string): OutsideWork => ({ step, source, importedAt: '2026-03-01T10:15:30.000Z' });
const summary = (id: number, mode: RunSummary['mode'], patch: Partial<RunSummary> = {}): RunSummary => ({
  id, mode, status: 'done', reviewRound: null, error: null, model: '/models/tiny', datasetId: 1, evalDatasetId: 2, roundsPlanned: 2, roundsDone: 2, createdAt: '', ...patch,
});
const step = (r: number, s: number) => ({ round: r, step: s, metrics: { loss: 0.7 - s / 10, 'rewards/margins': s / 10, 'rewards/accuracies': 0.5 + s / 10 } });
const history: RunHistory[] = [
  {
    // Reviewed: people gave verdicts on rounds 1 and 2, and round 3 awaits review.
    run: summary(1, 'isr', { status: 'review', reviewRound: 3, roundsPlanned: 3 }),
    rounds: [round(0, 0.3, 8), round(1, 0.4, 9, { agreement: agreement(10, 7, 0.4) }), round(2, 0.5, 9, { agreement: agreement(20, 16, null) })],
    steps: [step(1, 1), step(1, 2), step(1, 3), step(2, 1), step(2, 2)],
  },
  {
    // Round 1 sampled with vLLM and trained with TRL on other machines; round 2 trained there only.
    run: summary(2, 'text-judge'),
    rounds: [
      round(0, 0.3, 8),
      round(1, 0.3, 14, { outside: [outside('responses', '/jobs/r1-vllm/responses.jsonl'), outside('training', '/jobs/r1-trl/output')] }),
      round(2, 0.25, 22, { outside: [outside('training', '/jobs/r2-trl/output')] }),
    ],
    steps: [],
  },
];

// A test double of the API at this unit level; the real figures come from src/main (service spec).
function fakeClient() {
  const calls: unknown[] = [];
  const client = {
    api: {
      getHistory: async () => history,
      // Run 1 over all its rounds: the 30 verdicts of rounds 1 and 2.
      getAgreement: async (input: { runId: number }) => ({ agreement: input.runId === 1 ? agreement(30, 23, 0.35) : null }),
      exportPairs: async (input: { runId: number; round: number }) => {
        calls.push(input);
        // What the service answers when every pair of the round is a tie or both bad.
        if (input.runId === 2) throw new ApiError('bad_input', 'round 2 of run 2 has no pair to train on: every pair is a tie or both bad (or none was made yet)');
        return { fileName: `run-${input.runId}-round-${input.round}-pairs.jsonl`, jsonl: '{}\n', rows: 1 };
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
afterEach(() => {
  cleanup();
  window.location.hash = '';
});

const chart = (title: string) => screen.getAllByTestId('chart').find((c) => c.querySelector('figcaption')!.textContent!.includes(title))!;

describe('History screen', () => {
  it('tabulates every round of every run, with dropped pairs, agreement over n verdicts and kappa', async () => {
    const { client } = fakeClient();
    render(History, { client });
    const table = await screen.findByRole('table', { name: 'Runs and rounds' });
    const rows = [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(rows).toHaveLength(6);
    const headers = [...table.querySelectorAll('th')].map((th) => th.textContent);
    const column = (name: string) => rows.map((row) => row[headers.indexOf(name)]);
    expect(column('Dropped')).toEqual(['0', '1', '1', '0', '1', '1']);
    expect(column('Agreement (n)')).toEqual(['–', '70.0% (10)', '80.0% (20)', '–', '–', '–']);
    expect(column('Kappa')).toEqual(['–', '0.40', '–', '–', '–', '–']);
    expect(column('Status').slice(0, 3)).toEqual(Array(3).fill('awaits review of round 3'));
  });

  it('marks the rounds whose responses or training came from outside the studio, saying from where', async () => {
    const { client } = fakeClient();
    render(History, { client });
    const table = await screen.findByRole('table', { name: 'Runs and rounds' });
    const headers = [...table.querySelectorAll('th')].map((th) => th.textContent);
    const cells = [...table.querySelectorAll('tbody tr')].map((tr) => tr.querySelectorAll('td')[headers.indexOf('Outside')]);
    expect(cells.map((td) => [...td.querySelectorAll('.outside')].map((b) => b.textContent))).toEqual([[], [], [], [], ['sampled', 'trained'], ['trained']]);
    expect(cells.map((td) => td.textContent!.trim())).toEqual(['–', '–', '–', '–', 'sampledtrained', 'trained']);
    expect(cells[5].querySelector('.outside')!.getAttribute('title')).toBe('Training run outside the studio, imported 2026-03-01 10:15 from /jobs/r2-trl/output');
    expect(cells[4].querySelector('.outside')!.getAttribute('title')).toBe('Responses sampled outside the studio, imported 2026-03-01 10:15 from /jobs/r1-vllm/responses.jsonl');
  });

  it('draws each chart with one line a run', async () => {
    const { client } = fakeClient();
    render(History, { client });
    await screen.findByRole('table', { name: 'Runs and rounds' });
    expect(screen.getAllByTestId('chart').map((c) => c.querySelector('figcaption')!.textContent)).toEqual([
      'Held-out accuracy Save PNG', 'Mean answer length (tokens) Save PNG', 'Judge visual-attention share Save PNG', 'Judge agreement with people Save PNG',
      'DPO loss Save PNG', 'Reward margins Save PNG', 'Reward accuracy Save PNG',
    ]);
    const lines = (title: string) => [...chart(title).querySelectorAll('path')].map((p) => p.getAttribute('data-series'));
    expect(lines('Mean answer length')).toEqual(['run 1 (isr)', 'run 2 (text-judge)']);
    // Only run 1 trained in this history: the step charts have its line alone.
    expect(lines('DPO loss')).toEqual(['run 1 (isr)']);
  });

  it('says the values under the pointer: x, and the series and y of the nearest point', async () => {
    const { client } = fakeClient();
    render(History, { client });
    await screen.findByRole('table', { name: 'Runs and rounds' });
    const tooltip = (inChart: HTMLElement) => {
      const tip = within(inChart).queryByTestId('chart-tooltip');
      return tip && [tip.querySelector('strong')!.textContent, ...[...tip.querySelectorAll('span')].map((s) => s.textContent)];
    };
    const pointAt = (svg: Element, circle: Element, dx = 0, dy = 0) =>
      fireEvent.pointerMove(svg, { clientX: Number(circle.getAttribute('cx')) + dx, clientY: Number(circle.getAttribute('cy')) + dy });

    const accuracy = chart('Held-out accuracy');
    const svg = within(accuracy).getByRole('img', { name: 'Held-out accuracy' });
    expect(tooltip(accuracy)).toBeNull();
    // Run 2's last point (round 2, 25%) is the lowest; the pointer a few pixels off it.
    const circles = [...svg.querySelectorAll('circle')];
    const lowest = circles.reduce((a, c) => (Number(c.getAttribute('cy')) > Number(a.getAttribute('cy')) ? c : a));
    await pointAt(svg, lowest, -3, 2);
    expect(tooltip(accuracy)).toEqual(['round 2', 'run 2 (text-judge): 25%']);
    // Both runs start at 30%: one spot, both named.
    await pointAt(svg, circles[0]);
    expect(tooltip(accuracy)).toEqual(['round 0', 'run 1 (isr): 30%', 'run 2 (text-judge): 30%']);
    await fireEvent.pointerLeave(svg);
    expect(tooltip(accuracy)).toBeNull();

    // Agreement says how many verdicts it is over, on the chart and under the pointer.
    const agreementChart = chart('Judge agreement with people');
    expect([...agreementChart.querySelectorAll('text[data-note]')].map((t) => t.textContent)).toEqual(['n = 10', 'n = 20']);
    await pointAt(within(agreementChart).getByRole('img'), agreementChart.querySelector('circle')!);
    expect(tooltip(agreementChart)).toEqual(['round 1', 'run 1 (isr): 70% (n = 10)']);
  });

  it("draws a line where a run's round changes on the step charts", async () => {
    const { client } = fakeClient();
    render(History, { client });
    await screen.findByRole('table', { name: 'Runs and rounds' });
    for (const title of ['DPO loss', 'Reward margins', 'Reward accuracy']) {
      const boundaries = [...chart(title).querySelectorAll('line[data-boundary]')];
      expect(boundaries.map((b) => b.getAttribute('data-boundary'))).toEqual(['round 2']);
      // Between step 3 (round 1's last) and step 4 (round 2's first).
      const xs = [...chart(title).querySelectorAll('circle')].map((c) => Number(c.getAttribute('cx')));
      expect(Number(boundaries[0].getAttribute('x1'))).toBeCloseTo((xs[2] + xs[3]) / 2, 5);
    }
    expect(chart('Held-out accuracy').querySelectorAll('line[data-boundary]')).toHaveLength(0);
  });

  it("exports the newest run's latest round by default, and says why an empty round is refused", async () => {
    const { client, calls } = fakeClient();
    render(History, { client });
    const form = await screen.findByRole('form', { name: 'Export pairs' });
    expect([(within(form).getByLabelText('Run') as HTMLSelectElement).value, (within(form).getByLabelText('Round') as HTMLSelectElement).value]).toEqual(['2', '2']);
    await fireEvent.click(within(form).getByRole('button', { name: 'Export pairs (TRL DPO JSONL)' }));
    expect((await within(form).findByRole('alert')).textContent).toBe('round 2 of run 2 has no pair to train on: every pair is a tie or both bad (or none was made yet)');
    expect(calls).toEqual([{ runId: 2, round: 2 }]);

    // Run 1's latest round is the one awaiting review: its pairs export with people's verdicts.
    await fireEvent.change(within(form).getByLabelText('Run'), { target: { value: '1' } });
    const rounds = within(form).getByLabelText('Round') as HTMLSelectElement;
    expect([[...rounds.options].map((o) => o.value), rounds.value]).toEqual([['1', '2', '3'], '3']);
    expect(within(form).queryByRole('alert')).toBeNull();
    await fireEvent.click(within(form).getByRole('button', { name: 'Export pairs (TRL DPO JSONL)' }));
    await waitFor(() => expect(within(form).getByRole('status').textContent).toBe('1 pair saved as run-1-round-3-pairs.jsonl.'));
    expect(calls.at(-1)).toEqual({ runId: 1, round: 3 });
  });

  it('marks the run the address names and picks it for the export', async () => {
    window.location.hash = '#history?run=1';
    const { client } = fakeClient();
    render(History, { client });
    const table = await screen.findByRole('table', { name: 'Runs and rounds' });
    expect([...table.querySelectorAll('tbody tr')].map((tr) => tr.classList.contains('named'))).toEqual([true, true, true, false, false, false]);
    expect((screen.getByLabelText('Run') as HTMLSelectElement).value).toBe('1');
    window.location.hash = '#history?run=2';
    await waitFor(() => expect((screen.getByLabelText('Run') as HTMLSelectElement).value).toBe('2'));
  });

  it('shows the judge against people for the chosen run: over all its rounds and each round, with the confusion matrix', async () => {
    window.location.hash = '#history?run=1';
    render(History, { client: fakeClient().client });
    const scopes = await screen.findAllByTestId('agreement');
    await waitFor(() => expect(scopes[0].textContent).toContain('Run 1, all rounds: 77% agree, κ 0.35, n = 30'));
    expect(scopes.slice(1).map((s) => s.textContent!.replace(/\s+/g, ' ').trim())).toEqual(['Round 1: 70% agree, κ 0.40, n = 10', 'Round 2: 80% agree, κ n/a, n = 20']);
    expect(screen.getByRole('table', { name: /Confusion matrix, Run 1, all rounds/ })).toBeTruthy();
  });
});
