// The ground truth of a demo clip: which shapes, in which colours, where, moving which way, and
// in which order they appear. Frames, questions and captions are all derived from it.
import { int, pick, type Uniform } from './prng';

export type Rgb = [number, number, number];

/** Hues far apart, so they survive H.264's chroma subsampling and stay nameable in one word. */
export const COLOURS = {
  red: [220, 40, 40],
  green: [40, 180, 60],
  blue: [40, 80, 230],
  yellow: [240, 210, 40],
  purple: [150, 60, 200],
} satisfies Record<string, Rgb>;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

export const KINDS = ['circle', 'square', 'triangle'] as const;
export type ShapeKind = (typeof KINDS)[number];

export const DIRECTIONS = ['left', 'right', 'up', 'down'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface Point {
  x: number;
  y: number;
}

export interface ShapeTruth {
  kind: ShapeKind;
  colour: ColourName;
  radius: number;
  /** First frame the shape is drawn on; shapes are listed in order of appearance. */
  appearsAt: number;
  /** Centre at frame 0 and at the last frame; it moves in a straight line at constant speed. */
  start: Point;
  end: Point;
  direction: Direction;
}

export interface SceneSettings {
  width: number;
  height: number;
  fps: number;
  frameCount: number;
}

export interface Scene extends SceneSettings {
  background: Rgb;
  shapes: ShapeTruth[];
}

export const defaultSceneSettings: SceneSettings = { width: 160, height: 120, fps: 10, frameCount: 24 };

const background: Rgb = [32, 32, 32];

export function randomScene(rng: Uniform, settings: SceneSettings = defaultSceneSettings): Scene {
  const count = int(rng, 1, 4);
  // Distinct (kind, colour) pairs, so "the red circle" always names exactly one shape.
  const combos = KINDS.flatMap((kind) => COLOUR_NAMES.map((colour) => ({ kind, colour })));
  const shapes: ShapeTruth[] = [];
  let appearsAt = 0;
  for (let i = 0; i < count; i++) {
    const { kind, colour } = combos.splice(int(rng, 0, combos.length - 1), 1)[0];
    const radius = int(rng, 9, 13);
    const direction = pick(rng, DIRECTIONS);
    shapes.push({ kind, colour, radius, appearsAt, direction, ...path(rng, settings, radius, direction) });
    // Later shapes enter a few frames apart, so "which appears first" has one answer.
    appearsAt += int(rng, 2, 4);
  }
  return { ...settings, background, shapes };
}

/** A straight path in `direction`, long enough to see and wholly inside the frame. */
function path(rng: Uniform, s: SceneSettings, radius: number, direction: Direction): { start: Point; end: Point } {
  const margin = radius + 2;
  const horizontal = direction === 'left' || direction === 'right';
  const span = horizontal ? s.width : s.height;
  const distance = int(rng, Math.round(span * 0.35), Math.round(span * 0.45));
  const from = int(rng, margin, span - margin - distance);
  const across = int(rng, margin, (horizontal ? s.height : s.width) - margin);
  const forward = direction === 'right' || direction === 'down';
  const [a, b] = forward ? [from, from + distance] : [from + distance, from];
  return horizontal
    ? { start: { x: a, y: across }, end: { x: b, y: across } }
    : { start: { x: across, y: a }, end: { x: across, y: b } };
}

/** Where the shape's centre is on `frame`. */
export function positionAt(shape: ShapeTruth, frame: number, frameCount: number): Point {
  const t = frameCount > 1 ? frame / (frameCount - 1) : 0;
  return {
    x: shape.start.x + (shape.end.x - shape.start.x) * t,
    y: shape.start.y + (shape.end.y - shape.start.y) * t,
  };
}
