// The review queue as the screen reads it: loaded a page at a time as it is looked at, and the
// verdicts people can take back. Both are state (a .svelte.ts module), so what draws them redraws.
import type { PairsPage, PairSummary, PersonVerdict } from '../../../shared/types';

/**
 * A queue of `total` pairs of which only the pages someone looked near are loaded: the screen asks
 * for the rows it draws (`ensure`), and each missing page is fetched once. Its rows and total are
 * state, so what shows a row redraws when that row's page arrives or the pair changes.
 */
export class PagedQueue {
  /** Unknown (null) until the first page arrives. */
  total: number | null = $state(null);
  // Replaced whole on each change (a copy of 10,000 references is microseconds): rows drawn from
  // it redraw only where a row object changed.
  private rows: readonly (PairSummary | undefined)[] = $state.raw([]);
  // Bookkeeping nothing draws, so plain rather than reactive.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly indexById = new Map<number, number>();
  private readonly pages: (Promise<void> | undefined)[] = [];

  constructor(
    private readonly fetchPage: (offset: number, limit: number) => Promise<PairsPage>,
    readonly pageSize = 500,
  ) {}

  row(index: number): PairSummary | undefined {
    return this.rows[index];
  }

  /** Where a loaded pair is in the queue, or -1. */
  indexOf(pairId: number): number {
    return this.indexById.get(pairId) ?? -1;
  }

  /** Loads the pages that hold rows `from` to `to` (clamped to the queue); the first page comes
   *  first, since until it answers nobody knows how many there are. */
  async ensure(from: number, to: number): Promise<void> {
    if (this.total === null) await this.page(0);
    const last = Math.min(to, this.total! - 1);
    const loading: Promise<void>[] = [];
    for (let p = Math.floor(Math.max(0, from) / this.pageSize); p * this.pageSize <= last; p++) loading.push(this.page(p));
    await Promise.all(loading);
  }

  /** A pair's new state (a verdict given), wherever it is loaded. */
  update(row: PairSummary): void {
    const index = this.indexOf(row.id);
    if (index < 0) return;
    const rows = this.rows.slice();
    rows[index] = row;
    this.rows = rows;
  }

  private page(p: number): Promise<void> {
    let loading = this.pages[p];
    if (!loading) {
      loading = this.fetchPage(p * this.pageSize, this.pageSize).then((page) => {
        const rows = this.rows.slice();
        page.pairs.forEach((row, i) => {
          rows[p * this.pageSize + i] = row;
          this.indexById.set(row.id, p * this.pageSize + i);
        });
        this.rows = rows;
        this.total = page.total;
      });
      // A page that failed is asked again next time rather than remembered as loaded.
      loading.catch(() => (this.pages[p] = undefined));
      this.pages[p] = loading;
    }
    return loading;
  }
}

/** A verdict given, with what was in force before it: what undo puts back. */
export interface UndoEntry {
  pairId: number;
  before: PersonVerdict | null;
}

/** Verdicts given, last on top; its size is state, so an Undo button knows when there is none. */
export class UndoStack {
  private entries: readonly UndoEntry[] = $state.raw([]);

  push(entry: UndoEntry): void {
    this.entries = [...this.entries, entry];
  }

  pop(): UndoEntry | undefined {
    const last = this.entries.at(-1);
    this.entries = this.entries.slice(0, -1);
    return last;
  }

  get size(): number {
    return this.entries.length;
  }
}
