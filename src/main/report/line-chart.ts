// Line charts as PNG, drawn on a pixel raster: the report's figures (one series per mode, rounds on
// x). Scaling and ticks are the renderer's own (src/shared/chart.ts), so a report's chart and the
// History screen's read the same way.
import { plot, tickLabels, type Series } from '../../shared/chart';
import { GLYPH, glyph, textWidth } from './font';
import { encodePng } from './png';

type Rgb = readonly [number, number, number];

/** Colour-blind-safe and distinct in print (Tableau 10's first five). */
export const seriesColours: readonly Rgb[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189]];

class Raster {
  readonly pixels: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, c: Rgb): void {
    [x, y] = [Math.round(x), Math.round(y)];
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(c, (y * this.width + x) * 3);
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }

  /** A line `thickness` pixels wide: a square brush stepped along it a pixel at a time. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    const r = Math.floor(thickness / 2);
    for (let s = 0; s <= steps; s++) {
      const [x, y] = [x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps];
      this.rect(Math.round(x) - r, Math.round(y) - r, thickness, thickness, c);
    }
  }

  text(text: string, x: number, y: number, c: Rgb, scale: number): void {
    [...text].forEach((ch, k) => {
      glyph(ch).forEach((bits, row) => {
        for (let col = 0; col < GLYPH.width; col++) if (bits & (1 << (GLYPH.width - 1 - col))) this.rect(x + (k * GLYPH.advance + col) * scale, y + row * scale, scale, scale, c);
      });
    });
  }
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  series: readonly Series[];
  /** Tick labels: plain numbers, or fractions shown as percentages. */
  yFormat?: 'number' | 'percent';
  width?: number;
  height?: number;
}

const ink: Rgb = [40, 40, 40];
const grid: Rgb = [225, 225, 225];

/** Layout of the figure: where the plot box lies inside the image. */
export function chartBox(width: number, height: number) {
  return { left: 72, top: 84, right: width - 24, bottom: height - 56 };
}

/** The chart as a PNG file's bytes. */
export function lineChartPng(o: LineChartOptions): Buffer {
  const [width, height] = [o.width ?? 720, o.height ?? 440];
  const r = new Raster(width, height);
  const box = chartBox(width, height);
  const [bw, bh] = [box.right - box.left, box.bottom - box.top];
  r.text(o.title, Math.max(8, (width - textWidth(o.title, 2)) / 2), 12, ink, 2);

  // Legend: a swatch and a label per series, in one row under the title.
  let lx = box.left;
  o.series.forEach((s, i) => {
    r.rect(lx, 46, 18, 10, seriesColours[i % seriesColours.length]);
    r.text(s.label, lx + 24, 44, ink, 2);
    lx += 24 + textWidth(s.label, 2) + 24;
  });

  const p = plot(o.series, bw, bh, 14);
  const labels = tickLabels(p.yTicks.map((t) => t.value), o.yFormat);
  for (const [i, t] of p.yTicks.entries()) {
    r.line(box.left, box.top + t.at, box.right, box.top + t.at, grid);
    const label = labels[i];
    r.text(label, box.left - 8 - textWidth(label, 2), box.top + t.at - 7, ink, 2);
  }
  for (const t of p.xTicks) {
    if (!Number.isInteger(t.value)) continue;
    const label = String(t.value);
    r.line(box.left + t.at, box.bottom, box.left + t.at, box.bottom + 5, ink);
    r.text(label, box.left + t.at - textWidth(label, 2) / 2, box.bottom + 10, ink, 2);
  }
  r.line(box.left, box.top, box.left, box.bottom, ink);
  r.line(box.left, box.bottom, box.right, box.bottom, ink);
  r.text(o.xLabel, (box.left + box.right - textWidth(o.xLabel, 2)) / 2, height - 22, ink, 2);

  // Earlier series are drawn wider, so a series that coincides with a later one still shows around it.
  p.markers.forEach((points, i) => {
    const c = seriesColours[i % seriesColours.length];
    const wider = 2 * (p.markers.length - 1 - i);
    for (let k = 1; k < points.length; k++) r.line(box.left + points[k - 1].x, box.top + points[k - 1].y, box.left + points[k].x, box.top + points[k].y, c, 3 + wider);
    for (const m of points) r.rect(Math.round(box.left + m.x) - 4 - wider, Math.round(box.top + m.y) - 4 - wider, 9 + 2 * wider, 9 + 2 * wider, c);
  });
  return encodePng(width, height, r.pixels);
}
