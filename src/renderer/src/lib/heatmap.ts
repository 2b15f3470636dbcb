// Attention heatmaps: values to colours on one fixed scale, its legend, and the per-frame views the
// review screen draws over the frames the judge saw.
import { contrastRatio, type Rgb } from './contrast';

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

/** What the legend sits on, and the ink that edges a swatch too light to stand out from it. */
export const legendBackground: Rgb = [255, 255, 255];
export const legendInk: Rgb = [29, 35, 48];

/** The edge a swatch of `colour` needs for 3:1 against what touches it (WCAG 1.4.11): none where
 *  the background gives that already, else a border of ink. The light end of the scale (orange,
 *  yellow) is what needs it; changing the scale instead would break its perceptual order. */
export function swatchEdge(colour: Rgb): Rgb | null {
  return contrastRatio(colour, legendBackground) >= 3 ? null : legendInk;
}

/** The legend's swatches: 0, 25, 50, 75 and 100% of the largest cell, each with its edge. */
export function legendSwatches(): { share: number; colour: Rgb; edge: Rgb | null }[] {
  return [0, 0.25, 0.5, 0.75, 1].map((share) => {
    const colour = heatColour(share);
    return { share, colour, edge: swatchEdge(colour) };
  });
}

/** A frame the judge saw, as the page shows it: its image and its time in the clip (where known). */
export interface FrameImage {
  src: string;
  timeS: number | null;
}

/** How heatmaps are drawn: shown or not, how opaque, and which order's verdict (asked A first or B first). */
export interface HeatView {
  show: boolean;
  opacity: number;
  order: 'a' | 'b';
}

export interface AttentionGrid {
  frames: number;
  rows: number;
  cols: number;
  values: readonly number[];
}

/** One rows x cols map per frame, each frame's share of the attention, and the largest cell of
 *  all (the top of the scale, so frames compare). */
export function splitFrames(a: AttentionGrid): { maps: number[][]; totals: number[]; max: number } {
  const cells = a.rows * a.cols;
  if (a.values.length !== a.frames * cells) throw new Error(`attention has ${a.values.length} values, expected ${a.frames} x ${a.rows} x ${a.cols}`);
  const maps = Array.from({ length: a.frames }, (_, f) => a.values.slice(f * cells, (f + 1) * cells));
  return { maps, totals: maps.map((m) => m.reduce((s, v) => s + v, 0)), max: a.values.reduce((m, v) => Math.max(m, v), 0) };
}

/** One frame's map as drawn: its cells, the grid, the top of the scale, how opaque. */
export interface FrameHeat {
  map: readonly number[];
  rows: number;
  cols: number;
  max: number;
  opacity: number;
}

/** Each frame's heat on one scale for all frames (its top the largest cell of all), so frames compare. */
export function frameHeats(a: AttentionGrid, opacity: number): FrameHeat[] {
  const { maps, max } = splitFrames(a);
  return maps.map((map) => ({ map, rows: a.rows, cols: a.cols, max, opacity }));
}

/** RGBA pixels (rows x cols) of one frame's map on a scale whose top is `max`, with the given opacity. */
export function heatmapPixels(map: readonly number[], max: number, opacity: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(map.length * 4));
  map.forEach((v, i) => {
    const [r, g, b] = heatColour(max > 0 ? v / max : 0);
    out.set([r, g, b, Math.round(255 * opacity)], i * 4);
  });
  return out;
}

/** `text` in runs, marking each word the other response does not contain (what the pair view
 *  highlights). Shared words and the spaces between merge into one run, so a 1,500-word answer is
 *  a few hundred nodes, not thousands. */
export function wordsOnlyIn(text: string, other: string): { text: string; unique: boolean }[] {
  const theirs = new Set(other.toLowerCase().split(/\s+/).filter(Boolean));
  const runs: { text: string; unique: boolean }[] = [];
  for (const token of text.split(/(\s+)/)) {
    if (token === '') continue;
    const unique = token.trim() !== '' && !theirs.has(token.toLowerCase());
    const last = runs.at(-1);
    if (last && !last.unique && !unique) last.text += token;
    else runs.push({ text: token, unique });
  }
  return runs;
}
