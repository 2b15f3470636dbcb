import { describe, expect, it } from 'vitest';
import { mulberry32 } from './prng';
import { captionFor, questionsFor, type Question } from './questions';
import { randomScene, type Scene } from './scene';

function dataset(seed: number, clips: number): Array<{ scene: Scene; questions: Question[] }> {
  const rng = mulberry32(seed);
  return Array.from({ length: clips }, () => {
    const scene = randomScene(rng);
    return { scene, questions: questionsFor(scene, rng) };
  });
}

describe('demo questions', () => {
  const clips = dataset(7, 400);
  const rows = clips.flatMap((c) => c.questions);

  it('answer from the scene: count, colour, direction and order agree with the ground truth', () => {
    for (const { scene, questions } of clips) {
      for (const q of questions) {
        if (q.kind === 'count') expect(Number(q.answer)).toBe(scene.shapes.length);
        if (q.kind === 'direction') {
          const s = scene.shapes.find((x) => q.question.includes(` ${x.colour} ${x.kind} `))!;
          const dx = s.end.x - s.start.x;
          const dy = s.end.y - s.start.y;
          const seen = Math.abs(dx) > Math.abs(dy) ? (dx > 0 ? 'right' : 'left') : dy > 0 ? 'down' : 'up';
          expect(q.answer).toBe(seen);
        }
        if (q.kind === 'colour') {
          const kind = /the (\w+)\?$/.exec(q.question)![1];
          expect(scene.shapes.filter((s) => s.kind === kind).map((s) => s.colour)).toEqual([q.answer]);
        }
        if (q.kind === 'order') {
          const first = scene.shapes.reduce((a, b) => (b.appearsAt < a.appearsAt ? b : a));
          expect([first.kind, first.colour]).toContain(q.answer);
        }
      }
    }
  });

  it('are short: one word or number', () => {
    for (const q of rows) expect(q.answer).toMatch(/^[a-z0-9]+$/);
  });

  it('need the frames: the same question text gets different answers in different clips', () => {
    const answers = new Map<string, Set<string>>();
    for (const q of rows) answers.set(q.question, (answers.get(q.question) ?? new Set()).add(q.answer));
    const recurring = [...answers].filter(([text]) => rows.filter((r) => r.question === text).length >= 5);
    expect(recurring.length).toBeGreaterThan(10);
    for (const [text, set] of recurring) expect(set.size, text).toBeGreaterThan(1);
  });

  it('cannot be guessed from language: the best answer per question text learnt on half scores low on the rest', () => {
    const train = rows.slice(0, rows.length / 2);
    const test = rows.slice(rows.length / 2);
    const counts = new Map<string, Map<string, number>>();
    for (const q of train) {
      const m = counts.get(q.question) ?? new Map<string, number>();
      m.set(q.answer, (m.get(q.answer) ?? 0) + 1);
      counts.set(q.question, m);
    }
    const guess = (text: string) => [...(counts.get(text) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1])[0]?.[0];
    const accuracy = test.filter((q) => guess(q.question) === q.answer).length / test.length;
    expect(accuracy).toBeLessThan(0.45);
  });

  it('is seeded: the same seed gives the same data, another seed other data', () => {
    expect(dataset(7, 20)).toEqual(dataset(7, 20));
    expect(dataset(8, 20)).not.toEqual(dataset(7, 20));
  });

  it('captions name every shape with its motion, in order of appearance', () => {
    const { scene } = clips.find((c) => c.scene.shapes.length === 3)!;
    const [a, b, c] = scene.shapes;
    expect(captionFor(scene)).toBe(
      `Three shapes: a ${a.colour} ${a.kind} moving ${a.direction}, then a ${b.colour} ${b.kind} moving ${b.direction}, then a ${c.colour} ${c.kind} moving ${c.direction}.`,
    );
  });
});
