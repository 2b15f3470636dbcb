// Questions a demo clip answers, and its caption. Every answer is one word or number, and the
// same question text recurs across clips with different answers, so only the frames tell.
import type { Uniform } from './prng';
import { pick } from './prng';
import type { Scene, ShapeTruth } from './scene';

export type QuestionKind = 'count' | 'colour' | 'direction' | 'order';

export interface Question {
  kind: QuestionKind;
  question: string;
  answer: string;
}

const name = (s: ShapeTruth) => `${s.colour} ${s.kind}`;

export function questionsFor(scene: Scene, rng: Uniform): Question[] {
  const { shapes } = scene;
  const out: Question[] = [
    { kind: 'count', question: 'How many shapes are in the video?', answer: String(shapes.length) },
  ];
  const uniqueKinds = shapes.filter((s) => shapes.filter((o) => o.kind === s.kind).length === 1);
  if (uniqueKinds.length > 0) {
    const s = pick(rng, uniqueKinds);
    out.push({ kind: 'colour', question: `What colour is the ${s.kind}?`, answer: s.colour });
  }
  const moving = pick(rng, shapes);
  out.push({ kind: 'direction', question: `Which way does the ${name(moving)} move?`, answer: moving.direction });
  if (shapes.length > 1) {
    out.push(
      rng() < 0.5
        ? { kind: 'order', question: 'Which shape appears first?', answer: shapes[0].kind }
        : { kind: 'order', question: 'What colour is the shape that appears first?', answer: shapes[0].colour },
    );
  }
  return out;
}

const numberWords = ['No', 'One', 'Two', 'Three', 'Four', 'Five'];

/** One sentence naming every shape with its motion, in order of appearance. */
export function captionFor(scene: Scene): string {
  const parts = scene.shapes.map((s) => `a ${name(s)} moving ${s.direction}`);
  const count = `${numberWords[parts.length] ?? parts.length} shape${parts.length === 1 ? '' : 's'}`;
  return `${count}: ${parts.join(', then ')}.`;
}
