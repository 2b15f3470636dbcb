// The review queue's logic apart from any screen: the filters as a listPairs query, and a few
// pairs' details kept (the next one fetched before it is asked for). The queue itself, loaded a
// page at a time, is state: paged-queue.svelte.ts.
import type { Input } from '../../../shared/contract';
import type { PairChoice } from '../../../shared/types';

export type QueueSort = NonNullable<Input<'listPairs'>['sort']>;
type Tristate = 'all' | 'yes' | 'no';

/** The queue's filters as the screen holds them (empty inputs are null or ''). */
export interface QueueFilters {
  round: number | null;
  sort: QueueSort;
  judgeChoice: PairChoice | null;
  pALow: number | null;
  pAHigh: number | null;
  /** Pairs with a person's verdict, without one, or all. */
  overridden: Tristate;
  ordersDisagree: Tristate;
  text: string;
}

export const defaultFilters = (): QueueFilters => ({
  round: null, sort: 'review', judgeChoice: null, pALow: null, pAHigh: null, overridden: 'all', ordersDisagree: 'all', text: '',
});

const tristate = (t: Tristate) => (t === 'all' ? undefined : t === 'yes');
const bound = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : null);

/** The listPairs query of a run's queue under `f`, without the page: only the filters in use. */
export function pairQuery(runId: number, f: QueueFilters): Omit<Input<'listPairs'>, 'offset' | 'limit'> {
  const [low, high] = [bound(f.pALow), bound(f.pAHigh)];
  const text = f.text.trim();
  const query: Omit<Input<'listPairs'>, 'offset' | 'limit'> = { runId, sort: f.sort };
  if (f.round !== null) query.round = f.round;
  if (f.judgeChoice !== null) query.judgeChoice = f.judgeChoice;
  // One bound alone filters from it to the end of [0, 1]; bounds typed the wrong way round still mean the range between them.
  if (low !== null || high !== null) query.pA = [Math.min(low ?? 0, high ?? 1), Math.max(low ?? 0, high ?? 1)];
  if (tristate(f.overridden) !== undefined) query.overridden = tristate(f.overridden);
  if (tristate(f.ordersDisagree) !== undefined) query.ordersDisagree = tristate(f.ordersDisagree);
  if (text !== '') query.text = text;
  return query;
}

/** The last few values fetched by key (least recently used dropped first); a failed fetch is forgotten. */
export class FetchCache<T> {
  private readonly entries = new Map<number, Promise<T>>();

  constructor(
    private readonly fetch: (key: number) => Promise<T>,
    readonly size = 8,
  ) {}

  get(key: number): Promise<T> {
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    else {
      entry = this.fetch(key);
      entry.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    }
    this.entries.set(key, entry);
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }
}
