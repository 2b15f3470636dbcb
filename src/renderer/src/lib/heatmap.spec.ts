import { describe, expect, it } from 'vitest';
import { contrastRatio } from './contrast';
import { frameHeats, heatColour, heatmapPixels, legendBackground, legendInk, legendSwatches, scaleStops, splitFrames, swatchEdge, wordsOnlyIn } from './heatmap';

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
    const { maps, totals, max } = splitFrames({ frames: 2, rows: 1, cols: 3, values: [0.1, 0.2, 0.3, 0, 0.05, 0.05] });
    expect(max).toBe(0.3);
    expect(maps).toEqual([[0.1, 0.2, 0.3], [0, 0.05, 0.05]]);
    expect(totals[0]).toBeCloseTo(0.6);
    expect(totals[1]).toBeCloseTo(0.1);
    expect(() => splitFrames({ frames: 2, rows: 2, cols: 2, values: [1] })).toThrow('attention has 1 values, expected 2 x 2 x 2');
  });

  it('gives every frame the same top of the scale', () => {
    const heats = frameHeats({ frames: 2, rows: 1, cols: 2, values: [0.1, 0.4, 0.2, 0] }, 0.5);
    expect(heats.map((h) => h.map)).toEqual([[0.1, 0.4], [0.2, 0]]);
    expect(heats.map((h) => h.max)).toEqual([0.4, 0.4]);
    expect(heats[1]).toMatchObject({ rows: 1, cols: 2, opacity: 0.5 });
  });

  it('paints cells on one scale for all frames, with the chosen opacity', () => {
    const px = heatmapPixels([0, 0.5, 1], 1, 0.5);
    expect(Array.from(px.subarray(0, 4))).toEqual([...scaleStops[0], 128]);
    expect(Array.from(px.subarray(8, 12))).toEqual([...scaleStops.at(-1)!, 128]);
    expect(Array.from(heatmapPixels([0.2], 0, 1).subarray(0, 3))).toEqual(scaleStops[0]);
  });

  it('gives every legend swatch 3:1 against what touches it: the background, or an ink edge', () => {
    const swatches = legendSwatches();
    expect(swatches.map((s) => s.share)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const { colour, edge } of swatches) expect(contrastRatio(colour, edge ?? legendBackground)).toBeGreaterThanOrEqual(3);
    // The scale's light top fails on the background alone (what the legend had before), so it is edged...
    expect(contrastRatio(scaleStops.at(-1)!, legendBackground)).toBeLessThan(3);
    expect(swatches.at(-1)!.edge).toEqual(legendInk);
    expect(swatches[0].edge).toBeNull();
    // ...and the edge itself stands out from the background.
    expect(contrastRatio(legendInk, legendBackground)).toBeGreaterThanOrEqual(3);
    // Any colour of the scale would pass, not only the five drawn.
    for (let i = 0; i <= 100; i++) {
      const colour = heatColour(i / 100);
      expect(contrastRatio(colour, swatchEdge(colour) ?? legendBackground)).toBeGreaterThanOrEqual(3);
    }
  });

  it('marks the words one response has and the other lacks, merging the rest into runs', () => {
    const runs = wordsOnlyIn('The square is red and big', 'the square is blue and small');
    expect(runs.filter((w) => w.unique).map((w) => w.text)).toEqual(['red', 'big']);
    expect(runs.map((w) => w.text).join('')).toBe('The square is red and big');
    expect(runs.map((w) => w.text)).toEqual(['The square is ', 'red', ' and ', 'big']);
    expect(wordsOnlyIn('', 'x')).toEqual([]);
  });
});
