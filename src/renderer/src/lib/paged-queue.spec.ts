import { describe, expect, it } from 'vitest';
import type { PairSummary } from '../../../shared/types';
import { PagedQueue, UndoStack } from './paged-queue.svelte.js';

const pair = (id: number): PairSummary => ({
  id, round: 1, question: `Q${id}`, pA: 0.5, judgeChoice: 'a', override: null, disagreement: 0, ordersDisagree: false, lengthDiff: 0,
});

function pagedOf(total: number, pageSize: number) {
  const asked: number[] = [];
  const queue = new PagedQueue(async (offset, limit) => {
    asked.push(offset);
    return { total, pairs: Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => pair(offset + i + 1)) };
  }, pageSize);
  return { queue, asked };
}

describe('PagedQueue', () => {
  it('fetches only the pages of the rows asked for, each once', async () => {
    const { queue, asked } = pagedOf(10_000, 500);
    await queue.ensure(0, 20);
    expect(asked).toEqual([0]);
    expect(queue.total).toBe(10_000);
    expect(queue.row(0)?.id).toBe(1);
    expect(queue.row(500)).toBeUndefined();
    await queue.ensure(490, 510);
    await queue.ensure(0, 999);
    expect(asked).toEqual([0, 500]);
    expect(queue.row(999)?.id).toBe(1000);
    expect(queue.indexOf(1000)).toBe(999);
    expect(queue.indexOf(1001)).toBe(-1);
  });

  it('asks concurrent callers for one fetch of a page, and never past the end', async () => {
    const { queue, asked } = pagedOf(700, 500);
    await Promise.all([queue.ensure(0, 10), queue.ensure(0, 10)]);
    await queue.ensure(0, 100_000);
    expect(asked).toEqual([0, 500]);
    const empty = pagedOf(0, 500);
    await empty.queue.ensure(0, 20);
    expect(empty.asked).toEqual([0]);
    expect(empty.queue.total).toBe(0);
  });

  it('asks a failed page again', async () => {
    let fail = true;
    const queue = new PagedQueue(async (offset) => {
      if (fail) throw new Error('offline');
      return { total: 1, pairs: [pair(offset + 1)] };
    });
    await expect(queue.ensure(0, 0)).rejects.toThrow('offline');
    fail = false;
    await queue.ensure(0, 0);
    expect(queue.row(0)?.id).toBe(1);
  });

  it('updates a loaded pair in place, leaving the other rows as they were', async () => {
    const { queue } = pagedOf(10, 500);
    await queue.ensure(0, 9);
    const untouched = queue.row(2);
    queue.update({ ...pair(4), override: 'both-bad' });
    expect(queue.row(3)?.override).toBe('both-bad');
    expect(queue.row(2)).toBe(untouched);
    queue.update(pair(99));
    expect(queue.indexOf(99)).toBe(-1);
  });
});

describe('UndoStack', () => {
  it('gives back verdicts last first', () => {
    const stack = new UndoStack();
    stack.push({ pairId: 1, before: null });
    stack.push({ pairId: 2, before: 'tie' });
    expect(stack.size).toBe(2);
    expect(stack.pop()).toEqual({ pairId: 2, before: 'tie' });
    expect(stack.pop()).toEqual({ pairId: 1, before: null });
    expect(stack.pop()).toBeUndefined();
  });
});
