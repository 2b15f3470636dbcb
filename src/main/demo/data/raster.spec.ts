import { describe, expect, it } from 'vitest';
import { mulberry32 } from './prng';
import { renderFrame } from './raster';
import { COLOURS, positionAt, randomScene } from './scene';

describe('renderFrame', () => {
  const rng = mulberry32(3);
  const scenes = Array.from({ length: 50 }, () => randomScene(rng));

  it('keeps every shape wholly inside the frame along its path', () => {
    for (const s of scenes) {
      for (const shape of s.shapes) {
        for (const p of [shape.start, shape.end]) {
          expect(p.x - shape.radius).toBeGreaterThanOrEqual(0);
          expect(p.x + shape.radius).toBeLessThan(s.width);
          expect(p.y - shape.radius).toBeGreaterThanOrEqual(0);
          expect(p.y + shape.radius).toBeLessThan(s.height);
        }
      }
    }
  });

  it('draws the topmost shape in its colour at its centre, and only the shapes already on screen', () => {
    for (const s of scenes) {
      const pixel = (f: Uint8Array, x: number, y: number) => [...f.subarray((Math.round(y) * s.width + Math.round(x)) * 3, (Math.round(y) * s.width + Math.round(x)) * 3 + 3)];
      const last = s.frameCount - 1;
      const top = s.shapes.at(-1)!;
      const end = positionAt(top, last, s.frameCount);
      expect(pixel(renderFrame(s, last), end.x, end.y)).toEqual(COLOURS[top.colour]);
      // On frame 0 only the first shape is drawn: every other pixel is background.
      const first = renderFrame(s, 0);
      const colours = new Set<string>();
      for (let i = 0; i < first.length; i += 3) colours.add(first.subarray(i, i + 3).join(','));
      expect(colours).toEqual(new Set([s.background.join(','), COLOURS[s.shapes[0].colour].join(',')]));
    }
  });

  it('draws a circle of the right area (pi r^2, within a pixel ring)', () => {
    const s = scenes.find((x) => x.shapes[0].kind === 'circle')!;
    const r = s.shapes[0].radius;
    const f = renderFrame(s, 0);
    let n = 0;
    for (let i = 0; i < f.length; i += 3) if (f[i] !== s.background[0]) n++;
    expect(Math.abs(n - Math.PI * r * r)).toBeLessThan(2 * Math.PI * r);
  });
});
