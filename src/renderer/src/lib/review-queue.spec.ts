import { describe, expect, it } from 'vitest';
import { defaultFilters, FetchCache, pairQuery } from './review-queue';

describe('pairQuery', () => {
  it('asks for the run sorted for review, and nothing else, when no filter is set', () => {
    expect(pairQuery(3, defaultFilters())).toEqual({ runId: 3, sort: 'review' });
  });

  it('passes each filter in use', () => {
    const query = pairQuery(3, {
      round: 2, sort: 'confidence', judgeChoice: 'tie', pALow: 0.2, pAHigh: 0.7, overridden: 'no', ordersDisagree: 'yes', text: '  red square ',
    });
    expect(query).toEqual({ runId: 3, round: 2, sort: 'confidence', judgeChoice: 'tie', pA: [0.2, 0.7], overridden: false, ordersDisagree: true, text: 'red square' });
  });

  it('reads one p(A) bound as the range to the end, clamps to [0, 1], and orders bounds typed backwards', () => {
    expect(pairQuery(1, { ...defaultFilters(), pALow: 0.6 }).pA).toEqual([0.6, 1]);
    expect(pairQuery(1, { ...defaultFilters(), pAHigh: 0.3 }).pA).toEqual([0, 0.3]);
    expect(pairQuery(1, { ...defaultFilters(), pALow: -1, pAHigh: 4 }).pA).toEqual([0, 1]);
    expect(pairQuery(1, { ...defaultFilters(), pALow: 0.8, pAHigh: 0.1 }).pA).toEqual([0.1, 0.8]);
    expect(pairQuery(1, { ...defaultFilters(), pALow: Number.NaN }).pA).toBeUndefined();
    expect(pairQuery(1, { ...defaultFilters(), overridden: 'yes', ordersDisagree: 'no' })).toMatchObject({ overridden: true, ordersDisagree: false });
  });
});

describe('FetchCache', () => {
  it('fetches a key once while it is kept, dropping the least recently used', async () => {
    const fetched: number[] = [];
    const cache = new FetchCache(async (k) => (fetched.push(k), `v${k}`), 2);
    expect(await cache.get(1)).toBe('v1');
    await cache.get(2);
    await cache.get(1);
    await cache.get(3); // drops 2, the least recently used
    await cache.get(1);
    await cache.get(2);
    expect(fetched).toEqual([1, 2, 3, 2]);
  });

  it('forgets a failed fetch', async () => {
    let calls = 0;
    const cache = new FetchCache(async () => {
      calls++;
      if (calls === 1) throw new Error('no');
      return 'ok';
    });
    await expect(cache.get(1)).rejects.toThrow('no');
    expect(await cache.get(1)).toBe('ok');
  });
});
