import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { PairDetail, PairSummary, RunSummary } from '../../../shared/types';
import type { Client } from '../lib/client';
import Review from './Review.svelte';

const run: RunSummary = { id: 1, mode: 'isr', status: 'done', error: null, datasetId: 1, evalDatasetId: null, roundsPlanned: 2, roundsDone: 2, createdAt: '' };
const pairs: PairSummary[] = Array.from({ length: 10_000 }, (_, i) => ({
  id: i + 1, round: 1 + (i % 2), question: `Question ${i + 1}?`, pA: 0.5 + (i % 50) / 100, judgeChoice: 'a', override: null, disagreement: 0.1, lengthDiff: 3,
}));

function detailOf(p: PairSummary): PairDetail {
  return {
    ...p,
    frames: ['frame/1/2/0', 'frame/1/2/1'],
    responses: { a: { text: 'The square is red', tokens: 4 }, b: { text: 'The square is blue and moves left', tokens: 7 } },
    verdicts: [
      { shownFirst: 'a', pFirst: 0.8, visualShare: 0.25, attention: { frames: 2, rows: 2, cols: 2, values: [0.1, 0, 0, 0.05, 0.02, 0.03, 0, 0] } },
      { shownFirst: 'b', pFirst: 0.4, visualShare: 0.2, attention: null },
    ],
    contexts: ['A red square.', 'A red square moving left.'],
  };
}

// A test double of the API at this unit level; the real queries are checked in src/main (store and service specs).
function fakeClient() {
  const calls: [string, unknown][] = [];
  const rows = pairs.map((p) => ({ ...p }));
  const client = {
    api: {
      listRuns: async () => [run],
      listPairs: async (q: { offset: number; limit: number }) => ({ total: rows.length, pairs: rows.slice(q.offset, q.offset + q.limit) }),
      getPair: async ({ pairId }: { pairId: number }) => {
        calls.push(['getPair', pairId]);
        return detailOf(rows[pairId - 1]);
      },
      setOverride: async ({ pairId, choice }: { pairId: number; choice: string }) => {
        calls.push(['setOverride', { pairId, choice }]);
        rows[pairId - 1] = { ...rows[pairId - 1], override: choice === 'cleared' ? null : (choice as PairSummary['override']) };
        return rows[pairId - 1];
      },
    },
    onEvent: () => () => {},
    mediaUrl: (key: string) => `media://${key}`,
  } as unknown as Client;
  return { client, calls };
}

afterEach(() => cleanup());

describe('Review screen', () => {
  it('shows a pair: frames with the heatmap and legend, contexts, responses with differences marked, both verdicts', async () => {
    const { client } = fakeClient();
    render(Review, { client });
    await screen.findByText('Question 1?', { selector: 'h2' });
    const frames = screen.getAllByRole('img');
    expect(frames.map((f) => f.getAttribute('src'))).toEqual(['media://frame/1/2/0', 'media://frame/1/2/1']);
    expect(screen.getAllByTestId('heatmap')).toHaveLength(2);
    expect(screen.getByLabelText('Colour scale from low to high attention')).toBeTruthy();
    expect(screen.getByTestId('visual-share').textContent).toContain('25.0%');
    expect(screen.getByRole('list', { name: 'Contexts, earliest first' }).textContent).toContain('c1 A red square moving left.');
    expect([...screen.getByTestId('response-a').querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['red']);
    expect(screen.getByTestId('response-b').textContent).toContain('7 tokens');
    expect(screen.getByTestId('verdicts').textContent).toContain('asked A first: 80.0% for A');
    expect(screen.getByTestId('verdicts').textContent).toContain('asked B first: 60.0% for A');
    await fireEvent.click(screen.getByLabelText('Attention heatmap'));
    expect(screen.queryAllByTestId('heatmap')).toHaveLength(0);
  });

  it('overrides, undoes and steps with the keyboard, saving each override at once', async () => {
    const { client, calls } = fakeClient();
    render(Review, { client });
    await screen.findByText('Question 1?', { selector: 'h2' });
    await fireEvent.keyDown(window, { key: 'b' });
    await waitFor(() => expect(screen.getByTestId('override').textContent).toBe('Overridden: prefers B.'));
    expect(calls).toContainEqual(['setOverride', { pairId: 1, choice: 'b' }]);
    await fireEvent.keyDown(window, { key: 'u' });
    await waitFor(() => expect(screen.getByTestId('override').textContent).toBe('No override.'));
    await fireEvent.keyDown(window, { key: 'j' });
    await screen.findByText('Question 2?', { selector: 'h2' });
    await fireEvent.keyDown(window, { key: 't' });
    await waitFor(() => expect(screen.getByTestId('override').textContent).toBe('Overridden: tie.'));
    await fireEvent.keyDown(window, { key: 'k' });
    await screen.findByText('Question 1?', { selector: 'h2' });
    expect(calls.filter(([m]) => m === 'setOverride').map(([, a]) => a)).toEqual([{ pairId: 1, choice: 'b' }, { pairId: 1, choice: 'cleared' }, { pairId: 2, choice: 'tie' }]);
  });

  it('draws only a window of a 10,000-pair queue', async () => {
    const { client } = fakeClient();
    render(Review, { client });
    await waitFor(() => expect(screen.getByText('10000 pairs')).toBeTruthy());
    await waitFor(() => expect(screen.getAllByRole('option', { hidden: true }).filter((o) => o.classList.contains('row')).length).toBeGreaterThan(0));
    const drawn = screen.getAllByRole('option', { hidden: true }).filter((o) => o.classList.contains('row'));
    expect(drawn.length).toBeLessThan(30);
  });
});
