import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import LineChart from './LineChart.svelte';

/** A 2D context that records what is drawn: jsdom has no canvas. */
function recordingContext() {
  const drawn: { op: string; args: unknown[]; font: string; fillStyle: string }[] = [];
  const ctx = {
    font: '',
    fillStyle: '',
    textBaseline: '',
    measureText: (text: string) => ({ width: 6 * text.length }),
  } as Record<string, unknown>;
  for (const op of ['scale', 'fillRect', 'fillText', 'drawImage']) {
    ctx[op] = (...args: unknown[]) => drawn.push({ op, args, font: ctx.font as string, fillStyle: ctx.fillStyle as string });
  }
  return { ctx, drawn };
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('LineChart', () => {
  it('saves a PNG with the title above the plot and the legend below it', async () => {
    const { ctx, drawn } = recordingContext();
    const canvases: HTMLCanvasElement[] = [];
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(function (this: HTMLCanvasElement) {
      canvases.push(this);
      return ctx as unknown as CanvasRenderingContext2D;
    });
    vi.spyOn(HTMLCanvasElement.prototype, 'toDataURL').mockReturnValue('data:image/png;base64,AAAA');
    const downloads: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      downloads.push(`${this.download} ${this.href}`);
    });
    // jsdom decodes no images: this one loads as soon as it is given its source.
    vi.stubGlobal('Image', class {
      onload: (() => void) | null = null;
      set src(_: string) {
        queueMicrotask(() => this.onload?.());
      }
    });

    render(LineChart, {
      title: 'DPO loss', xLabel: 'step',
      series: [{ label: 'run 1 (isr)', points: [{ x: 1, y: 0.7 }, { x: 2, y: 0.6 }] }, { label: 'run 2 (text-judge)', points: [{ x: 1, y: 0.69 }] }],
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Save PNG: DPO loss' }));
    await vi.waitFor(() => expect(downloads).toEqual(['dpo-loss.png data:image/png;base64,AAAA']));

    const texts = drawn.filter((d) => d.op === 'fillText').map((d) => [d.args[0], d.font]);
    expect(texts).toEqual([
      ['DPO loss', expect.stringContaining('bold')],
      ['run 1 (isr)', expect.not.stringContaining('bold')],
      ['run 2 (text-judge)', expect.not.stringContaining('bold')],
    ]);
    const [plotImage] = drawn.filter((d) => d.op === 'drawImage');
    const [, , plotTop, plotWidth, plotHeight] = plotImage.args as number[];
    const y = (label: string) => drawn.find((d) => d.op === 'fillText' && d.args[0] === label)!.args[2] as number;
    expect(y('DPO loss')).toBeLessThan(plotTop);
    expect(y('run 1 (isr)')).toBeGreaterThan(plotTop + plotHeight);
    // Each legend label beside a swatch of its series' colour.
    const swatches = drawn.filter((d) => d.op === 'fillRect').slice(1).map((d) => d.fillStyle);
    expect(swatches).toEqual(['#5b3cc4', '#e07b00']);
    expect([canvases[0].width, plotWidth]).toEqual([2 * (420 + 24), 420]);
  });

  it('says the chart is empty when no series has a value to draw, and nothing once one has', () => {
    const { container, unmount } = render(LineChart, { title: 'Judge agreement with people', series: [{ label: 'run 1 (isr)', points: [{ x: 1, y: null }] }], xLabel: 'round', empty: 'No verdicts yet: give some in Review.' });
    expect(container.querySelector('[data-empty]')?.textContent).toBe('No verdicts yet: give some in Review.');
    unmount();
    const drawn = render(LineChart, { title: 'Judge agreement with people', series: [{ label: 'run 1 (isr)', points: [{ x: 1, y: 0.5 }] }], xLabel: 'round' });
    expect(drawn.container.querySelector('[data-empty]')).toBeNull();
  });
});
