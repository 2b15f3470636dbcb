import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { plot } from '../../shared/chart';
import { resolveFfmpeg } from '../video/ffmpeg';
import { chartBox, lineChartPng, seriesColours } from './line-chart';
import { encodePng } from './png';

let ffmpeg: string;
const dir = mkdtempSync(join(tmpdir(), 'isr-png-'));
beforeAll(async () => {
  ffmpeg = (await resolveFfmpeg()).path;
});

/** The PNG decoded by ffmpeg (an independent decoder) to raw RGB. */
function decode(png: Buffer, width: number, height: number): Uint8Array {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.png`);
  writeFileSync(file, png);
  const raw = execFileSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 << 20 });
  expect(raw.length).toBe(width * height * 3);
  return new Uint8Array(raw);
}

describe('PNG encoding', () => {
  it('round-trips every pixel through ffmpeg', () => {
    const [w, h] = [37, 11];
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 7919 + (i >> 3)) % 256);
    expect(decode(encodePng(w, h, rgb), w, h)).toEqual(rgb);
  });

  it('names the size when the pixels do not fill it', () => {
    expect(() => encodePng(4, 4, new Uint8Array(10))).toThrow('10 bytes are not 4x4 RGB pixels');
  });
});

describe('line charts', () => {
  it('puts each series marker where the shared scale says, in its colour, with a title above', () => {
    const series = [
      { label: 'isr', points: [{ x: 0, y: 0.2 }, { x: 1, y: 0.5 }, { x: 2, y: 0.4 }] },
      { label: 'text-judge', points: [{ x: 0, y: 0.2 }, { x: 1, y: null }, { x: 2, y: 0.1 }] },
    ];
    const [width, height] = [640, 400];
    const px = decode(lineChartPng({ title: 'held-out accuracy', xLabel: 'round', series, yFormat: 'percent', width, height }), width, height);
    const at = (x: number, y: number) => Array.from(px.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    const box = chartBox(width, height);
    const p = plot(series, box.right - box.left, box.bottom - box.top, 14);
    // Later series are drawn over earlier ones, so check the last series everywhere and the first where they differ.
    p.markers[1].forEach((m) => expect(at(Math.round(box.left + m.x), Math.round(box.top + m.y))).toEqual([...seriesColours[1]]));
    const [, isrPeak] = p.markers[0];
    expect(at(Math.round(box.left + isrPeak.x), Math.round(box.top + isrPeak.y))).toEqual([...seriesColours[0]]);
    // Title and labels are dark text on white: the title band has ink, the margins do not.
    const inkIn = (y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = 0; x < width; x++) if (at(x, y)[0] < 100 && at(x, y)[1] < 100 && at(x, y)[2] < 100) n++;
      return n;
    };
    expect(inkIn(12, 26)).toBeGreaterThan(50);
    expect(inkIn(0, 10)).toBe(0);
  });
});

describe('coinciding series', () => {
  it('stay visible: the earlier one shows as a border around the later one', () => {
    const points = [{ x: 0, y: 1 }, { x: 1, y: 2 }];
    const series = [{ label: 'isr', points }, { label: 'no-retrospect', points }];
    const [width, height] = [400, 300];
    const px = decode(lineChartPng({ title: "judge's share", xLabel: 'round', series, width, height }), width, height);
    const at = (x: number, y: number) => Array.from(px.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    const box = chartBox(width, height);
    const [m] = plot(series, box.right - box.left, box.bottom - box.top, 14).markers[1];
    const [x, y] = [Math.round(box.left + m.x), Math.round(box.top + m.y)];
    expect(at(x, y)).toEqual([...seriesColours[1]]);
    expect(at(x + 5, y)).toEqual([...seriesColours[0]]);
  });
});
