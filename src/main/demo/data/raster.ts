// Drawing a demo frame: filled shapes on a flat background, as rgb24 bytes.
import { COLOURS, positionAt, type Scene, type ShapeTruth } from './scene';

export function renderFrame(scene: Scene, frame: number): Uint8Array {
  const { width, height } = scene;
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < pixels.length; i += 3) pixels.set(scene.background, i);
  // In order of appearance: a later shape is drawn over an earlier one.
  for (const shape of scene.shapes) {
    if (frame < shape.appearsAt) continue;
    const c = positionAt(shape, frame, scene.frameCount);
    const r = shape.radius;
    for (let y = Math.max(0, Math.floor(c.y - r)); y <= Math.min(height - 1, Math.ceil(c.y + r)); y++) {
      for (let x = Math.max(0, Math.floor(c.x - r)); x <= Math.min(width - 1, Math.ceil(c.x + r)); x++) {
        if (inside(shape, x - c.x, y - c.y)) pixels.set(COLOURS[shape.colour], (y * width + x) * 3);
      }
    }
  }
  return pixels;
}

/** Whether offset (dx, dy) from the centre lies inside the shape. */
function inside(shape: ShapeTruth, dx: number, dy: number): boolean {
  const r = shape.radius;
  switch (shape.kind) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
    case 'triangle': {
      // Apex up at -r, base at +0.8r; the half-width grows linearly from apex to base.
      if (dy < -r || dy > 0.8 * r) return false;
      return Math.abs(dx) <= ((dy + r) / (1.8 * r)) * r;
    }
  }
}
