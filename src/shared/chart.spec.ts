import { describe, expect, it } from 'vitest';
import { plot } from './chart';

describe('plot', () => {
  it('maps every series onto the same axes, the extremes to the edges of the box', () => {
    const { paths, xTicks, yTicks } = plot([
      { label: 'run 1', points: [{ x: 0, y: 0.2 }, { x: 1, y: 0.4 }, { x: 2, y: 0.6 }] },
      { label: 'run 2', points: [{ x: 0, y: 0.2 }, { x: 2, y: 0.3 }] },
    ], 200, 100, 10);
    expect(paths[0]).toBe('M10.0,90.0L100.0,50.0L190.0,10.0');
    expect(paths[1]).toBe('M10.0,90.0L190.0,70.0');
    expect(xTicks.map((t) => t.value)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(yTicks[0]).toEqual({ value: 0.2, at: 90 });
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
    expect(plot([{ label: 'r', points: [] }], 100, 100)).toEqual({ paths: [''], markers: [[]], xTicks: [], yTicks: [] });
    expect(plot([{ label: 'r', points: [{ x: 1, y: 0.3 }] }], 100, 100, 0).markers).toEqual([[{ x: 50, y: 50 }]]);
  });
});
