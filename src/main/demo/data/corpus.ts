// The language of the demo data (questions, answers, captions), for a fixture tokenizer whose
// vocabulary covers it. Drawn from the same generator the clips come from.
import { mulberry32 } from './prng';
import { questionsFor, captionFor } from './questions';
import { randomScene } from './scene';

export function demoCorpus(scenes = 300, seed = 1): string[] {
  const rng = mulberry32(seed);
  const lines: string[] = [];
  for (let i = 0; i < scenes; i++) {
    const scene = randomScene(rng);
    lines.push(captionFor(scene));
    for (const q of questionsFor(scene, rng)) lines.push(q.question, q.answer, `The answer is ${q.answer}.`);
  }
  return lines;
}
