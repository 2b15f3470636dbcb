// Small display helpers shared by the screens, and the links between screens.
import type { KnownModel, RunSummary } from '../../../shared/types';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

export function formatEta(seconds: number | null): string {
  return seconds === null ? 'estimating…' : `about ${formatDuration(seconds)} left`;
}

/** A fraction as a percentage, '–' where there is none. */
export function formatPercent(fraction: number | null, digits = 0): string {
  return fraction === null ? '–' : `${(100 * fraction).toFixed(digits)}%`;
}

/** Where a model folder came from, then the folder: "round 2 of run 3 · /runs/run-3/round-2". */
export function modelLabel(model: KnownModel): string {
  const origin = model.origin.kind === 'round' ? `round ${model.origin.round} of run ${model.origin.runId}` : `${model.family} start`;
  return `${origin} · ${model.path}`;
}

/**
 * A link to a screen with what it should show (`#review?run=3`). The screens read their part back
 * with hashParams; the shell goes by the part before the '?'.
 */
export function screenHref(screen: string, params: Record<string, string | number> = {}): string {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return `#${screen}${query ? `?${query}` : ''}`;
}

/** The screen and the parameters of a location's hash ('#review?run=3': review, run=3). */
export function parseHash(hash: string): { screen: string; params: URLSearchParams } {
  const [screen, query = ''] = hash.replace(/^#/, '').split('?', 2);
  return { screen, params: new URLSearchParams(query) };
}

/** What a failed call says to people: an ApiError's sentence, or whatever else was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A run's status as people read it: a run stopped for review says which round waits. */
export function runStatusText(run: RunSummary): string {
  return run.status === 'review' ? `awaits review of round ${run.reviewRound}` : run.status;
}
