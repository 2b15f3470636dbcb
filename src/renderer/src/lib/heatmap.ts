// Attention heatmaps: values to colours on one fixed scale, and the per-frame views the review
// screen draws over the frames the judge saw.

/** Stops of the colour scale (dark purple -> red -> yellow), evenly spaced over [0, 1]. */
export const scaleStops: readonly [number, number, number][] = [
  [13, 8, 135],
  [126, 3, 168],
  [204, 71, 120],
  [248, 149, 64],
  [240, 249, 33],
];

/** The colour of `t` in [0, 1] (clamped), interpolated between the scale's stops. */
export function heatColour(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (scaleStops.length - 1);
  const i = Math.min(scaleStops.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [scaleStops[i], scaleStops[i + 1]];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as [number, number, number];
}

export interface AttentionGrid {
  frames: number;
  rows: number;
  cols: number;
  values: readonly number[];
}

/** One rows x cols map per frame, and each frame's share of the attention. */
export function splitFrames(a: AttentionGrid): { maps: number[][]; totals: number[] } {
  const cells = a.rows * a.cols;
  if (a.values.length !== a.frames * cells) throw new Error(`attention has ${a.values.length} values, expected ${a.frames} x ${a.rows} x ${a.cols}`);
  const maps = Array.from({ length: a.frames }, (_, f) => a.values.slice(f * cells, (f + 1) * cells));
  return { maps, totals: maps.map((m) => m.reduce((s, v) => s + v, 0)) };
}

/** RGBA pixels (rows x cols) of one frame's map on a scale whose top is `max` (the largest cell of
 *  all frames, so frames compare), with the given opacity. */
export function heatmapPixels(map: readonly number[], max: number, opacity: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(map.length * 4));
  map.forEach((v, i) => {
    const [r, g, b] = heatColour(max > 0 ? v / max : 0);
    out.set([r, g, b, Math.round(255 * opacity)], i * 4);
  });
  return out;
}

/** Words of `text` that the other response does not contain: what the pair view highlights. */
export function wordsOnlyIn(text: string, other: string): { word: string; unique: boolean }[] {
  const theirs = new Set(other.toLowerCase().split(/\s+/).filter(Boolean));
  return text.split(/(\s+)/).filter((w) => w !== '').map((word) => ({ word, unique: word.trim() !== '' && !theirs.has(word.toLowerCase()) }));
}
