// Line charts as SVG paths: several series (one per run) on shared axes, so runs and modes compare.

export interface Series {
  label: string;
  points: { x: number; y: number | null }[];
}

export interface Plot {
  /** One path per series ('' when it has no points); gaps where y is null. */
  paths: string[];
  /** Each series' points in box coordinates: markers, so a single round still shows. */
  markers: { x: number; y: number }[][];
  xTicks: { value: number; at: number }[];
  yTicks: { value: number; at: number }[];
}

/** A few round numbers spanning [lo, hi]. */
function ticks(lo: number, hi: number, count = 4): number[] {
  if (lo === hi) return [lo];
  const step = 10 ** Math.floor(Math.log10((hi - lo) / count));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= count) ?? 10 * step;
  // Whole multiples of the step, so 0 is 0 and not the sum of steps that miss it by 1e-18.
  const out: number[] = [];
  for (let k = Math.ceil(lo / nice - 1e-9); k * nice <= hi + 1e-12; k++) out.push(Number((k * nice).toPrecision(12)));
  return out;
}

/** Scales every series into a width x height box with `pad` pixels for the axes (`left` on the left, where the y labels go). */
export function plot(series: readonly Series[], width: number, height: number, pad = 32, left = pad): Plot {
  const all = series.flatMap((s) => s.points.filter((p): p is { x: number; y: number } => p.y !== null && Number.isFinite(p.y)));
  if (all.length === 0) return { paths: series.map(() => ''), markers: series.map(() => []), xTicks: [], yTicks: [] };
  const [x0, x1] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  let [y0, y1] = [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const sx = (x: number) => left + (x1 === x0 ? (width - left - pad) / 2 : ((x - x0) / (x1 - x0)) * (width - left - pad));
  const sy = (y: number) => height - pad - ((y - y0) / (y1 - y0)) * (height - 2 * pad);
  const paths = series.map((s) => {
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (p.y === null || !Number.isFinite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
      pen = true;
    }
    return d;
  });
  const markers = series.map((s) => s.points.filter((p): p is { x: number; y: number } => p.y !== null && Number.isFinite(p.y)).map((p) => ({ x: sx(p.x), y: sy(p.y) })));
  return {
    paths,
    markers,
    xTicks: ticks(x0, x1).map((value) => ({ value, at: sx(value) })),
    yTicks: ticks(y0, y1).map((value) => ({ value, at: sy(value) })),
  };
}
