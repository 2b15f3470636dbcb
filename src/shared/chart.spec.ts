import { describe, expect, it } from 'vitest';
import { formatValue, imageLayout, nearest, plot, roundBoundaries, tickLabels } from './chart';

describe('plot', () => {
  it('maps every series onto the same axes, the extremes to the edges of the box', () => {
    const { paths, xTicks, yTicks } = plot([
      { label: 'run 1', points: [{ x: 0, y: 0.2 }, { x: 1, y: 0.4 }, { x: 2, y: 0.6 }] },
      { label: 'run 2', points: [{ x: 0, y: 0.2 }, { x: 2, y: 0.3 }] },
    ], 200, 100, 10);
    expect(paths[0]).toBe('M10.0,90.0L100.0,50.0L190.0,10.0');
    expect(paths[1]).toBe('M10.0,90.0L190.0,70.0');
    // Rounds are whole: no tick at round 0.5.
    expect(xTicks.map((t) => t.value)).toEqual([0, 1, 2]);
    expect(yTicks[0]).toEqual({ value: 0.2, at: 90 });
  });

  it('ticks fractions on x when the data has them', () => {
    const { xTicks } = plot([{ label: 'r', points: [{ x: 0, y: 1 }, { x: 0.5, y: 2 }, { x: 2, y: 3 }] }], 200, 100, 10);
    expect(xTicks.map((t) => t.value)).toEqual([0, 0.5, 1, 1.5, 2]);
  });

  it('keeps a wider left margin for the y labels when asked', () => {
    const { paths } = plot([{ label: 'r', points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }], 200, 100, 10, 50);
    expect(paths[0]).toBe('M50.0,90.0L190.0,10.0');
  });

  it('puts ticks on whole multiples of the step, with 0 exactly 0', () => {
    const { yTicks } = plot([{ label: 'r', points: [{ x: 1, y: -0.07 }, { x: 2, y: 0.003 }] }], 100, 100);
    expect(yTicks.map((t) => t.value)).toEqual([-0.06, -0.04, -0.02, 0]);
  });

  it('leaves gaps for missing values and copes with flat or empty data', () => {
    expect(plot([{ label: 'r', points: [{ x: 0, y: 1 }, { x: 1, y: null }, { x: 2, y: 1 }] }], 100, 100, 0).paths[0]).toBe('M0.0,50.0M100.0,50.0');
    expect(plot([{ label: 'r', points: [] }], 100, 100)).toEqual({ paths: [''], markers: [[]], boundaries: [], xTicks: [], yTicks: [] });
    expect(plot([{ label: 'r', points: [{ x: 1, y: 0.3, note: 'n = 4' }] }], 100, 100, 0).markers).toEqual([[{ x: 50, y: 50, value: { x: 1, y: 0.3 }, note: 'n = 4' }]]);
  });

  it('places the boundaries on the x axis, one line where several series have the same', () => {
    const steps = [1, 2, 3, 4, 5].map((x) => ({ x, y: x }));
    const { boundaries } = plot([
      { label: 'run 1', points: steps, boundaries: [{ x: 2.5, label: 'round 2' }, { x: 4.5, label: 'round 3' }] },
      { label: 'run 2', points: [{ x: 1, y: 1 }] },
      { label: 'run 3', points: steps, boundaries: [{ x: 1.5, label: 'round 2' }, { x: 2.5, label: 'round 2' }] },
    ], 140, 100, 10);
    expect(boundaries).toEqual([
      { at: 25, label: 'round 2', series: [2] },
      { at: 55, label: 'round 2', series: [0, 2] },
      { at: 115, label: 'round 3', series: [0] },
    ]);
  });
});

describe('nearest', () => {
  it('finds the marker closest to the pointer, across series', () => {
    const { markers } = plot([
      { label: 'run 1', points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
      { label: 'run 2', points: [{ x: 0, y: 1 }, { x: 1, y: 0 }] },
    ], 100, 100, 0);
    // Box corners: run 1 at (0, 100) and (100, 0), run 2 at (0, 0) and (100, 100).
    expect(nearest(markers, 10, 5)).toEqual([{ series: 1, marker: { x: 0, y: 0, value: { x: 0, y: 1 } } }]);
    expect(nearest(markers, 90, 10).map((hit) => hit.marker.value)).toEqual([{ x: 1, y: 1 }]);
    expect(nearest([[], []], 5, 5)).toEqual([]);
  });

  it('names every series drawn on the nearest spot', () => {
    const { markers } = plot([
      { label: 'run 1', points: [{ x: 0, y: 0 }, { x: 1, y: 0.5 }] },
      { label: 'run 2', points: [{ x: 0, y: 1 }, { x: 1, y: 0.5 }] },
    ], 100, 100, 0);
    expect(nearest(markers, 95, 45).map((hit) => hit.series)).toEqual([0, 1]);
  });
});

describe('roundBoundaries', () => {
  it('puts a line between the last step of a round and the first of the next', () => {
    expect(roundBoundaries([1, 1, 1, 2, 2, 3])).toEqual([{ x: 3.5, label: 'round 2' }, { x: 5.5, label: 'round 3' }]);
    expect(roundBoundaries([2, 2])).toEqual([]);
  });
});

describe('formatValue', () => {
  it('writes numbers to three figures, fractions as percentages when asked', () => {
    expect([formatValue(0.123456), formatValue(1200), formatValue(-0.005)]).toEqual(['0.123', '1200', '-0.005']);
    expect([formatValue(0.4567, 'percent'), formatValue(1, 'percent')]).toEqual(['45.7%', '100%']);
  });
});

describe('imageLayout', () => {
  const measure = (text: string) => 6 * text.length;

  it('puts the title above the plot and the legend below it, inside the image', () => {
    const layout = imageLayout('DPO loss', [{ label: 'run 1 (isr)', colour: '#111' }, { label: 'run 2 (text-judge)', colour: '#222' }], { width: 420, height: 220 }, measure);
    expect(layout.title).toEqual({ text: 'DPO loss', x: 12, y: 26 });
    expect(layout.plot).toEqual({ x: 12, y: 40, width: 420, height: 220 });
    expect(layout.legend).toEqual([
      { label: 'run 1 (isr)', colour: '#111', x: 12, y: 268 },
      { label: 'run 2 (text-judge)', colour: '#222', x: 12 + 10 + 4 + 66 + 16, y: 268 },
    ]);
    expect([layout.width, layout.height]).toEqual([444, 268 + 18 + 12]);
  });

  it('wraps legend entries that would run past the plot\'s width', () => {
    const legend = ['a', 'b', 'c'].map((k) => ({ label: k.repeat(20), colour: '#000' }));
    const layout = imageLayout('t', legend, { width: 300, height: 100 }, measure);
    expect(layout.legend.map((e) => [e.x, e.y])).toEqual([[12, 148], [12 + 134 + 16, 148], [12, 166]]);
    expect(layout.height).toBe(166 + 18 + 12);
  });

  it('labels ticks with the decimals their spacing needs, so neighbours never read alike', () => {
    expect(tickLabels([0.6931, 0.6932, 0.6933])).toEqual(['0.6931', '0.6932', '0.6933']);
    expect(tickLabels([0, 0.2, 0.4], 'percent')).toEqual(['0%', '20%', '40%']);
    expect(tickLabels([0.3, 0.305, 0.31], 'percent')).toEqual(['30.0%', '30.5%', '31.0%']);
    expect(tickLabels([-10, 0, 10, 20])).toEqual(['-10', '0', '10', '20']);
    expect(tickLabels([2.5])).toEqual(['3']);
  });
});
