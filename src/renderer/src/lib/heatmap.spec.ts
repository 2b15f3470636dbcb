import { describe, expect, it } from 'vitest';
import { heatColour, heatmapPixels, scaleStops, splitFrames, wordsOnlyIn } from './heatmap';

describe('heatmap', () => {
  it('maps 0 and 1 to the ends of the scale, interpolates between stops, and clamps', () => {
    expect(heatColour(0)).toEqual(scaleStops[0]);
    expect(heatColour(1)).toEqual(scaleStops.at(-1));
    expect(heatColour(0.25)).toEqual(scaleStops[1]);
    expect(heatColour(0.125)).toEqual([70, 6, 152]);
    expect(heatColour(-3)).toEqual(scaleStops[0]);
    expect(heatColour(7)).toEqual(scaleStops.at(-1));
    expect(heatColour(Number.NaN)).toEqual(scaleStops[0]);
    // Brighter with attention: the scale's luminance rises monotonically.
    const lum = (c: number[]) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    const steps = Array.from({ length: 21 }, (_, i) => lum(heatColour(i / 20)));
    steps.slice(1).forEach((l, i) => expect(l).toBeGreaterThanOrEqual(steps[i]));
  });

  it('splits a frames x rows x cols attention into per-frame maps with their totals', () => {
    const { maps, totals } = splitFrames({ frames: 2, rows: 1, cols: 3, values: [0.1, 0.2, 0.3, 0, 0.05, 0.05] });
    expect(maps).toEqual([[0.1, 0.2, 0.3], [0, 0.05, 0.05]]);
    expect(totals[0]).toBeCloseTo(0.6);
    expect(totals[1]).toBeCloseTo(0.1);
    expect(() => splitFrames({ frames: 2, rows: 2, cols: 2, values: [1] })).toThrow('attention has 1 values, expected 2 x 2 x 2');
  });

  it('paints cells on one scale for all frames, with the chosen opacity', () => {
    const px = heatmapPixels([0, 0.5, 1], 1, 0.5);
    expect(Array.from(px.subarray(0, 4))).toEqual([...scaleStops[0], 128]);
    expect(Array.from(px.subarray(8, 12))).toEqual([...scaleStops.at(-1)!, 128]);
    expect(Array.from(heatmapPixels([0.2], 0, 1).subarray(0, 3))).toEqual(scaleStops[0]);
  });

  it('marks the words one response has and the other lacks', () => {
    expect(wordsOnlyIn('The square is red', 'the square is blue').filter((w) => w.unique).map((w) => w.word)).toEqual(['red']);
  });
});
