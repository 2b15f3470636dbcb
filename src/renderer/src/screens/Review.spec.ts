import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Input } from '../../../shared/contract';
import type { Agreement, PairDetail, PairSummary, PersonVerdict, RunSummary } from '../../../shared/types';
import type { Client } from '../lib/client';
import Review from './Review.svelte';

const doneRun: RunSummary = {
  id: 1, mode: 'isr', status: 'done', reviewRound: null, error: null, model: '/m', datasetId: 1, evalDatasetId: null, roundsPlanned: 2, roundsDone: 2, createdAt: '',
};
const reviewRun: RunSummary = { ...doneRun, id: 2, status: 'review', reviewRound: 1, roundsDone: 0 };

const pairsOf = (n: number): PairSummary[] =>
  Array.from({ length: n }, (_, i) => ({
    id: i + 1, round: 1 + (i % 2), question: `Question ${i + 1}?`, pA: 0.5 + (i % 50) / 100, judgeChoice: 'a', override: null,
    disagreement: 0.1, ordersDisagree: i === 0, lengthDiff: 3,
  }));

function detailOf(p: PairSummary): PairDetail {
  return {
    ...p,
    frames: ['frame/1/2/0', 'frame/1/2/1'],
    frameTimesS: [0.25, 0.75],
    video: 'video/1',
    reference: 'It is red.',
    responses: { a: { text: 'The square is red', tokens: 4 }, b: { text: 'The square is blue and moves left', tokens: 7 } },
    verdicts: [
      { shownFirst: 'a', pFirst: 0.8, visualShare: 0.25, attention: { frames: 2, rows: 2, cols: 2, values: [0.1, 0, 0, 0.05, 0.02, 0.03, 0, 0] } },
      { shownFirst: 'b', pFirst: 0.4, visualShare: 0.2, attention: { frames: 2, rows: 2, cols: 2, values: [0, 0.2, 0, 0, 0, 0, 0.01, 0] } },
    ],
    contexts: ['A red square.', 'A red square moving left.'],
  };
}

const agreement: Agreement = {
  n: 4, agreed: 3, percent: 0.75, kappa: 0.5,
  confusion: { a: { a: 2, b: 1, tie: 0, 'both-bad': 0 }, b: { a: 0, b: 1, tie: 0, 'both-bad': 0 }, tie: { a: 0, b: 0, tie: 0, 'both-bad': 0 } },
  byConfidence: [{ from: 0, to: 0.25, n: 3, agreed: 2 }, { from: 0.25, to: 0.5, n: 1, agreed: 1 }],
};

// A test double of the API at this unit level; the real queries are checked in src/main (store and service specs).
function fakeClient(options: { runs?: RunSummary[]; pairs?: number } = {}) {
  const calls: [string, unknown][] = [];
  const queries: Input<'listPairs'>[] = [];
  const rows = pairsOf(options.pairs ?? 10_000);
  const client = {
    api: {
      listRuns: async () => options.runs ?? [doneRun],
      listPairs: async (q: Input<'listPairs'>) => {
        queries.push(q);
        return { total: rows.length, pairs: rows.slice(q.offset, q.offset! + q.limit!) };
      },
      getPair: async ({ pairId }: { pairId: number }) => {
        calls.push(['getPair', pairId]);
        return detailOf(rows[pairId - 1]);
      },
      setOverride: async ({ pairId, choice }: { pairId: number; choice: PersonVerdict | 'cleared' }) => {
        calls.push(['setOverride', { pairId, choice }]);
        rows[pairId - 1] = { ...rows[pairId - 1], override: choice === 'cleared' ? null : choice };
        return rows[pairId - 1];
      },
      setOverrides: async (input: Input<'setOverrides'>) => {
        calls.push(['setOverrides', input]);
        return { updated: input.pairIds.length };
      },
      getAgreement: async (input: Input<'getAgreement'>) => {
        calls.push(['getAgreement', input]);
        return { agreement };
      },
      getReviewProgress: async () => ({ reviewed: 3, total: 40, budget: 20 }),
      setReviewBudget: async (input: Input<'setReviewBudget'>) => {
        calls.push(['setReviewBudget', input]);
        return { reviewed: 3, total: 40, budget: input.budget };
      },
      resumeRun: async (input: Input<'resumeRun'>) => {
        calls.push(['resumeRun', input]);
        return { jobId: 'j1' };
      },
    },
    onEvent: () => () => {},
    mediaUrl: (key: string) => `media://${key}`,
  } as unknown as Client;
  const overrides = () => calls.filter(([m]) => m === 'setOverride').map(([, a]) => a);
  return { client, calls, queries, rows, overrides };
}

const question = () => screen.getByTestId('pair-question').textContent;
const position = () => screen.getByTestId('pair-position').textContent;
const press = (key: string) => fireEvent.keyDown(window, { key });

async function opened(options?: Parameters<typeof fakeClient>[0]) {
  const fake = fakeClient(options);
  render(Review, { client: fake.client });
  await waitFor(() => expect(question()).toBe('Question 1?'));
  return fake;
}

// jsdom draws no canvas; the heatmaps' pixels are checked in lib/heatmap.spec.ts.
beforeAll(() => vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null));
afterEach(() => cleanup());

describe('Review screen', () => {
  it('shows a pair: video, frames with the heatmap of either order and a legend with numbers, question, reference, contexts, responses, verdicts', async () => {
    await opened();
    expect(position()).toBe('Pair 1 of 10000');
    expect(screen.getByLabelText("The pair's video").getAttribute('src')).toBe('media://video/1');
    const strip = screen.getByTestId('frame-strip');
    expect(within(strip).getAllByRole('img').map((f) => f.getAttribute('src'))).toEqual(['media://frame/1/2/0', 'media://frame/1/2/1']);
    expect(within(strip).getAllByTestId('heatmap')).toHaveLength(2);
    expect(strip.textContent).toContain('0.3 s');
    const legend = screen.getByRole('list', { name: 'Colour scale from low to high attention' });
    expect([...legend.querySelectorAll('li')].map((li) => li.textContent?.trim())).toEqual(['0', '25%', '50%', '75%', '100%']);
    expect(screen.getByTestId('legend-max').textContent).toBe("100% = 10.00% of the verdict's attention");
    // The other order's map has its own top.
    await fireEvent.click(screen.getByRole('radio', { name: /B first/ }));
    expect(screen.getByTestId('legend-max').textContent).toBe("100% = 20.00% of the verdict's attention");
    expect(screen.getByTestId('visual-share').textContent).toContain('20.0%');
    expect(screen.getByText('It is red.')).toBeTruthy();
    expect(screen.getByRole('list', { name: 'Contexts, earliest first' }).textContent).toContain('c1 A red square moving left.');
    expect([...screen.getByTestId('response-a').querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['red']);
    expect(screen.getByTestId('response-b').textContent).toContain('7 tokens');
    expect(screen.getByTestId('verdicts').textContent).toContain('asked A first: 80.0% for A');
    expect(screen.getByTestId('verdicts').textContent).toContain('asked B first: 60.0% for A');
    expect(screen.getByTestId('position-bias').textContent).toContain('Position bias');
    await fireEvent.click(screen.getByLabelText('Attention heatmap'));
    expect(screen.queryAllByTestId('heatmap')).toHaveLength(0);
  });

  it('gives each verdict with its key, saving it at once and moving to the next pair', async () => {
    const { overrides } = await opened();
    const keys: [string, PersonVerdict][] = [['a', 'a'], ['b', 'b'], ['t', 'tie'], ['x', 'both-bad']];
    for (const [n, [key, choice]] of keys.entries()) {
      await press(key);
      await waitFor(() => expect(question()).toBe(`Question ${n + 2}?`));
      expect(overrides().at(-1)).toEqual({ pairId: n + 1, choice });
    }
    expect(position()).toBe('Pair 5 of 10000');
    // The buttons do the same, and say their key.
    await fireEvent.click(screen.getByRole('button', { name: /Both bad x/ }));
    await waitFor(() => expect(question()).toBe('Question 6?'));
    expect(overrides().at(-1)).toEqual({ pairId: 5, choice: 'both-bad' });
    expect(screen.queryByTestId('position-bias')).toBeNull();
  });

  it('skips without a verdict, and steps with j, k and the arrows', async () => {
    const { overrides } = await opened();
    await press('s');
    await waitFor(() => expect(question()).toBe('Question 2?'));
    await press('j');
    await waitFor(() => expect(question()).toBe('Question 3?'));
    await press('ArrowDown');
    await waitFor(() => expect(question()).toBe('Question 4?'));
    await press('k');
    await waitFor(() => expect(question()).toBe('Question 3?'));
    await press('ArrowUp');
    await waitFor(() => expect(question()).toBe('Question 2?'));
    expect(overrides()).toEqual([]);
    expect(screen.getByRole('option', { name: /Question 2\?/ }).getAttribute('aria-selected')).toBe('true');
  });

  it('undoes a verdict by putting back the one it replaced, and shows that pair again', async () => {
    const fake = fakeClient();
    fake.rows[0] = { ...fake.rows[0], override: 'tie' };
    render(Review, { client: fake.client });
    await waitFor(() => expect(question()).toBe('Question 1?'));
    expect(screen.getByTestId('override').textContent).toBe('Overridden: tie.');
    await press('b');
    await waitFor(() => expect(question()).toBe('Question 2?'));
    await press('a');
    await waitFor(() => expect(question()).toBe('Question 3?'));
    await press('u');
    await waitFor(() => expect(question()).toBe('Question 2?'));
    expect(screen.getByTestId('override').textContent).toBe('No override.');
    await press('u');
    await waitFor(() => expect(question()).toBe('Question 1?'));
    expect(screen.getByTestId('override').textContent).toBe('Overridden: tie.');
    expect(fake.overrides()).toEqual([
      { pairId: 1, choice: 'b' }, { pairId: 2, choice: 'a' }, { pairId: 2, choice: 'cleared' }, { pairId: 1, choice: 'tie' },
    ]);
    // Nothing left to undo.
    expect((screen.getByRole('button', { name: /Undo u/ }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('in blind mode hides the judge until the person has decided on the pair', async () => {
    await opened();
    await fireEvent.click(screen.getByLabelText(/Blind/));
    expect(screen.getByTestId('verdicts').textContent).toContain('hidden');
    expect(screen.getByTestId('verdicts').textContent).not.toContain('%');
    expect(screen.getByTestId('frame-strip').textContent).not.toContain('p(A)');
    expect(screen.getByRole('option', { name: /Question 1\?/ }).textContent).not.toContain('%');
    await press('a');
    await waitFor(() => expect(question()).toBe('Question 2?'));
    expect(screen.getByTestId('verdicts').textContent).toContain('hidden');
    await press('k');
    await waitFor(() => expect(question()).toBe('Question 1?'));
    expect(screen.getByTestId('verdicts').textContent).toContain('asked A first: 80.0% for A');
    expect(screen.getByTestId('frame-strip').textContent).toContain('p(A)');
  });

  it('opens the keys with ?, closes them with Esc, and leaves keys alone while typing', async () => {
    const { overrides } = await opened();
    await fireEvent.keyDown(window, { key: '?', shiftKey: true });
    const help = screen.getByRole('dialog', { name: 'Keyboard shortcuts' });
    for (const label of ['Prefer A', 'Both bad (dropped)', 'Skip (no verdict)', 'Undo the last verdict']) expect(help.textContent).toContain(label);
    // A verdict key does nothing while the help is open.
    await press('a');
    await press('Escape');
    expect(screen.queryByRole('dialog')).toBeNull();
    await fireEvent.keyDown(screen.getByRole('searchbox'), { key: 'a' });
    await new Promise((r) => setTimeout(r, 20));
    expect(overrides()).toEqual([]);
    expect(question()).toBe('Question 1?');
  });

  it('enlarges a frame with its heatmap, steps frames with the arrows and closes with Esc', async () => {
    await opened();
    await fireEvent.click(screen.getByRole('button', { name: 'Enlarge frame 2 at 0.8 s' }));
    const box = screen.getByRole('dialog', { name: 'Frame 2 of 2, enlarged' });
    expect(within(box).getByRole('img').getAttribute('src')).toBe('media://frame/1/2/1');
    expect(within(box).getAllByTestId('heatmap')).toHaveLength(1);
    await press('ArrowRight');
    expect(screen.getByRole('dialog', { name: 'Frame 1 of 2, enlarged' })).toBeTruthy();
    // j steps frames' pairs only when no dialog is open.
    await press('j');
    expect(question()).toBe('Question 1?');
    await press('Escape');
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('passes the filters to listPairs', async () => {
    const { queries } = await opened();
    expect(queries[0]).toEqual({ runId: 1, sort: 'review', offset: 0, limit: 500 });
    await fireEvent.change(screen.getByLabelText('Round'), { target: { value: '2' } });
    await fireEvent.change(screen.getByLabelText('Judge chose'), { target: { value: 'tie' } });
    const low = screen.getByLabelText('p(A) from');
    await fireEvent.input(low, { target: { value: '0.2' } });
    await fireEvent.change(low);
    const high = screen.getByLabelText('p(A) to');
    await fireEvent.input(high, { target: { value: '0.6' } });
    await fireEvent.change(high);
    await fireEvent.change(screen.getByLabelText('Your verdict'), { target: { value: 'no' } });
    await fireEvent.change(screen.getByLabelText("Judge's orders"), { target: { value: 'yes' } });
    await fireEvent.change(screen.getByLabelText('Sort'), { target: { value: 'length' } });
    await fireEvent.input(screen.getByRole('searchbox'), { target: { value: 'red' } });
    await new Promise((r) => setTimeout(r, 60));
    await fireEvent.input(screen.getByRole('searchbox'), { target: { value: 'red square' } });
    await waitFor(() => expect(queries.at(-1)?.text).toBe('red square'));
    expect(queries.at(-1)).toEqual({
      runId: 1, round: 2, sort: 'length', judgeChoice: 'tie', pA: [0.2, 0.6], overridden: false, ordersDisagree: true, text: 'red square', offset: 0, limit: 500,
    });
    // Typing is searched once it pauses, not on every key.
    expect(queries.filter((q) => q.text === 'red')).toEqual([]);
  });

  it('loads the queue lazily: one page and one pair to open, more pages as the list scrolls, a window of rows drawn', async () => {
    const { queries, calls } = await opened();
    await new Promise((r) => setTimeout(r, 20));
    expect(queries.map((q) => [q.offset, q.limit])).toEqual([[0, 500]]);
    // The pair shown and the next one, fetched ahead.
    expect(calls.filter(([m]) => m === 'getPair').map(([, id]) => id)).toEqual([1, 2]);
    const list = screen.getByRole('listbox', { name: 'Pairs' });
    expect(within(list).getAllByRole('option').length).toBeLessThan(40);
    Object.defineProperty(list, 'scrollTop', { value: 700 * 32, writable: true, configurable: true });
    await fireEvent.scroll(list);
    await waitFor(() => expect(queries.map((q) => q.offset)).toEqual([0, 500]));
    await waitFor(() => expect(within(list).getByRole('option', { name: /Question 701\?/ })).toBeTruthy());
    expect(within(list).getAllByRole('option').length).toBeLessThan(40);
    // A row clicked opens its pair.
    await fireEvent.click(within(list).getByRole('option', { name: /Question 701\?/ }));
    await waitFor(() => expect(question()).toBe('Question 701?'));
    expect(position()).toBe('Pair 701 of 10000');
  });

  it('in bulk view ticks rows (shift-click for a range, the header for the page) and sets verdicts or accepts the judge', async () => {
    const { calls } = await opened();
    await fireEvent.click(screen.getByRole('button', { name: 'Bulk' }));
    const table = await screen.findByRole('table', { name: 'Pairs, page 1 of 100' });
    await waitFor(() => expect(within(table).getAllByRole('checkbox')).toHaveLength(101));
    await fireEvent.click(within(table).getByRole('checkbox', { name: 'Select pair 2' }));
    await fireEvent.click(within(table).getByRole('checkbox', { name: 'Select pair 5' }), { shiftKey: true });
    expect(screen.getByTestId('bulk-selected').textContent).toBe('4 selected');
    await fireEvent.click(screen.getByRole('button', { name: 'Accept judge on 4' }));
    await waitFor(() => expect(calls).toContainEqual(['setOverrides', { pairIds: [2, 3, 4, 5], choice: 'judge' }]));
    await waitFor(() => expect(screen.getByTestId('bulk-selected').textContent).toBe('0 selected'));
    expect(within(table).getAllByRole('row')[3].textContent).toContain('A');
    await fireEvent.click(within(table).getByRole('checkbox', { name: 'Select all on this page' }));
    expect(screen.getByTestId('bulk-selected').textContent).toBe('100 selected');
    await fireEvent.change(screen.getByLabelText('Set verdict'), { target: { value: 'both-bad' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Set verdict on 100' }));
    await waitFor(() => expect(calls.filter(([m]) => m === 'setOverrides').at(-1)?.[1]).toEqual({ pairIds: Array.from({ length: 100 }, (_, i) => i + 1), choice: 'both-bad' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Next page' }));
    expect(screen.getByRole('table', { name: 'Pairs, page 2 of 100' })).toBeTruthy();
  });

  it('opens a run awaiting review on its round, least sure first, and trains the round on request', async () => {
    const { client, calls, queries } = fakeClient({ runs: [doneRun, reviewRun] });
    render(Review, { client });
    await waitFor(() => expect(question()).toBe('Question 1?'));
    expect(queries[0]).toMatchObject({ runId: 2, round: 1, sort: 'review' });
    expect(screen.getByRole('region', { name: 'Review awaited' }).textContent).toContain('Round 1 awaits review.');
    await fireEvent.click(screen.getByRole('button', { name: 'Train round 1' }));
    await waitFor(() => expect(calls).toContainEqual(['resumeRun', { runId: 2 }]));
    expect((await screen.findByRole('status')).textContent).toContain('Training round 1');
  });

  it("shows agreement for the round and the run, refreshed after verdicts, and the round's review budget", async () => {
    const { client, calls } = fakeClient({ runs: [reviewRun] });
    render(Review, { client });
    await waitFor(() => expect(question()).toBe('Question 1?'));
    await waitFor(() => expect(screen.getAllByTestId('agreement').map((a) => a.textContent)).toEqual(['Round 1: 75% agree, κ 0.50, n = 4', 'Run 2: 75% agree, κ 0.50, n = 4']));
    const matrix = screen.getByRole('table', { name: /Confusion matrix, Round 1/ });
    expect([...matrix.querySelectorAll('tbody tr')].map((r) => r.textContent)).toEqual(['A2100', 'B0100', 'Tie0000']);
    expect(screen.getByRole('table', { name: /by the judge's confidence/ }).textContent).toContain('67%');
    const asked = () => calls.filter(([m]) => m === 'getAgreement').length;
    const before = asked();
    await press('a');
    await waitFor(() => expect(asked()).toBe(before + 2));
    expect(screen.getByTestId('review-progress').textContent).toBe('3 reviewed of 40 (budget 20)');
    const budget = screen.getByLabelText('Budget');
    await fireEvent.input(budget, { target: { value: '30' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Set' }));
    await waitFor(() => expect(calls).toContainEqual(['setReviewBudget', { runId: 2, round: 1, budget: 30 }]));
    await waitFor(() => expect(screen.getByTestId('review-progress').textContent).toBe('3 reviewed of 40 (budget 30)'));
  });
});
