// Small display helpers shared by the screens.

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

export function formatEta(seconds: number | null): string {
  return seconds === null ? 'estimating…' : `about ${formatDuration(seconds)} left`;
}
