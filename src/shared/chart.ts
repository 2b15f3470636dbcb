// Line charts as SVG paths: several series (one per run) on shared axes, so runs and modes compare.

export interface Point {
  x: number;
  y: number | null;
  /** Said with the value, e.g. "n = 12": how many verdicts an agreement is over. */
  note?: string;
}

export interface Series {
  label: string;
  points: Point[];
  /** Labelled vertical lines at these x: where a run's round changes along its DPO steps. */
  boundaries?: { x: number; label: string }[];
}

/** A point in box coordinates, with the values it stands for. */
export interface Marker {
  x: number;
  y: number;
  value: { x: number; y: number };
  note?: string;
}

export interface Plot {
  /** One path per series ('' when it has no points); gaps where y is null. */
  paths: string[];
  /** Each series' points in box coordinates: markers, so a single round still shows. */
  markers: Marker[][];
  /** The boundaries in box coordinates, one for all the series that have it at the same place. */
  boundaries: { at: number; label: string; series: number[] }[];
  xTicks: { value: number; at: number }[];
  yTicks: { value: number; at: number }[];
}

/** How a chart writes its values: plain numbers, or fractions as percentages. */
export type ValueFormat = 'number' | 'percent';

export function formatValue(value: number, format: ValueFormat = 'number'): string {
  return format === 'percent' ? `${Number((100 * value).toPrecision(3))}%` : String(Number(value.toPrecision(3)));
}

/** Labels of an axis' ticks, with as many decimals as their spacing needs, so neighbours never read
 *  alike (0.6931 and 0.6932, not 0.693 twice). */
export function tickLabels(values: readonly number[], format: ValueFormat = 'number'): string[] {
  const scale = format === 'percent' ? 100 : 1;
  const step = values.length < 2 ? Math.abs(values[0] ?? 1) : Math.min(...values.slice(1).map((v, i) => Math.abs(v - values[i])));
  const decimals = step > 0 ? Math.min(10, Math.max(0, -Math.floor(Math.log10(step * scale) + 1e-9))) : 0;
  return values.map((v) => `${(v * scale).toFixed(decimals)}${format === 'percent' ? '%' : ''}`);
}

/** A few round numbers spanning [lo, hi]; only whole ones when `whole` (rounds and steps have no halves). */
function ticks(lo: number, hi: number, whole: boolean, count = 4): number[] {
  if (lo === hi) return [lo];
  const step = 10 ** Math.floor(Math.log10((hi - lo) / count));
  let nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= count) ?? 10 * step;
  if (whole) nice = Math.max(1, nice);
  // Whole multiples of the step, so 0 is 0 and not the sum of steps that miss it by 1e-18.
  const out: number[] = [];
  for (let k = Math.ceil(lo / nice - 1e-9); k * nice <= hi + 1e-12; k++) out.push(Number((k * nice).toPrecision(12)));
  return out;
}

const drawable = (p: Point): p is Point & { y: number } => p.y !== null && Number.isFinite(p.y);

/** Scales every series into a width x height box with `pad` pixels for the axes (`left` on the left, where the y labels go). */
export function plot(series: readonly Series[], width: number, height: number, pad = 32, left = pad): Plot {
  const all = series.flatMap((s) => s.points.filter(drawable));
  if (all.length === 0) return { paths: series.map(() => ''), markers: series.map(() => []), boundaries: [], xTicks: [], yTicks: [] };
  const [x0, x1] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  let [y0, y1] = [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const sx = (x: number) => left + (x1 === x0 ? (width - left - pad) / 2 : ((x - x0) / (x1 - x0)) * (width - left - pad));
  const sy = (y: number) => height - pad - ((y - y0) / (y1 - y0)) * (height - 2 * pad);
  const paths = series.map((s) => {
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (!drawable(p)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
      pen = true;
    }
    return d;
  });
  const markers = series.map((s) =>
    s.points.filter(drawable).map((p): Marker => ({ x: sx(p.x), y: sy(p.y), value: { x: p.x, y: p.y }, ...(p.note === undefined ? {} : { note: p.note }) })),
  );
  // Runs with as many steps a round change rounds at the same step: one line, not a stack of them.
  const boundaries: Plot['boundaries'] = [];
  series.forEach((s, i) => {
    for (const b of (s.boundaries ?? []).filter((b) => b.x >= x0 && b.x <= x1)) {
      const same = boundaries.find((o) => o.label === b.label && o.at === sx(b.x));
      if (same) same.series.push(i);
      else boundaries.push({ at: sx(b.x), label: b.label, series: [i] });
    }
  });
  boundaries.sort((a, b) => a.at - b.at);
  return {
    paths,
    markers,
    boundaries,
    xTicks: ticks(x0, x1, all.every((p) => Number.isInteger(p.x))).map((value) => ({ value, at: sx(value) })),
    yTicks: ticks(y0, y1, false).map((value) => ({ value, at: sy(value) })),
  };
}

/**
 * The markers nearest (px, py), both in box coordinates: what a pointer hovering there points at.
 * Every series drawn on that very spot is named, since runs often share a value.
 */
export function nearest(markers: readonly Marker[][], px: number, py: number): { series: number; marker: Marker }[] {
  const all = markers.flatMap((list, series) => list.map((marker) => ({ series, marker })));
  const distance = (m: Marker) => Math.hypot(m.x - px, m.y - py);
  const best = all.reduce<(typeof all)[number] | null>((a, hit) => (a === null || distance(hit.marker) < distance(a.marker) ? hit : a), null);
  return best === null ? [] : all.filter(({ marker }) => Math.abs(marker.x - best.marker.x) < 0.5 && Math.abs(marker.y - best.marker.y) < 0.5);
}

/** Where a run's round changes along its steps numbered 1, 2, ...: halfway between the last step of one round and the first of the next. */
export function roundBoundaries(rounds: readonly number[]): { x: number; label: string }[] {
  return rounds.flatMap((round, i) => (i > 0 && round !== rounds[i - 1] ? [{ x: i + 0.5, label: `round ${round}` }] : []));
}

/** A chart saved as an image: its title above the plot and its legend below, wrapped to the plot's width. */
export interface ImageLayout {
  width: number;
  height: number;
  title: { text: string; x: number; y: number };
  plot: { x: number; y: number; width: number; height: number };
  /** A swatch and a label each; (x, y) is the swatch's top left corner. */
  legend: { label: string; colour: string; x: number; y: number }[];
}

/**
 * Lays out the image: `measure` gives a legend label's width in the legend's font (the canvas's own
 * measureText where it is drawn), so entries wrap before they run off the edge.
 */
export function imageLayout(
  title: string,
  legend: readonly { label: string; colour: string }[],
  size: { width: number; height: number },
  measure: (text: string) => number,
): ImageLayout {
  const [margin, titleHeight, line, swatch, gap] = [12, 28, 18, 10, 16];
  const plotBox = { x: margin, y: margin + titleHeight, width: size.width, height: size.height };
  const placed: ImageLayout['legend'] = [];
  let [x, y] = [margin, plotBox.y + plotBox.height + 8];
  for (const entry of legend) {
    const entryWidth = swatch + 4 + measure(entry.label);
    if (x > margin && x + entryWidth > margin + size.width) [x, y] = [margin, y + line];
    placed.push({ ...entry, x, y });
    x += entryWidth + gap;
  }
  return {
    width: size.width + 2 * margin,
    height: (legend.length > 0 ? y + line : plotBox.y + plotBox.height) + margin,
    title: { text: title, x: margin, y: margin + titleHeight / 2 },
    plot: plotBox,
    legend: placed,
  };
}
