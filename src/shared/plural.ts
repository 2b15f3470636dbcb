// Counts as people read them, the same in the screens, the CLI and the reports: "1 round", "2 rounds".

/** `n` and the noun in the number it takes ("1 pair", "0 pairs", "3 pairs"); `plural` for nouns that take more than an s. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
