// The demo warm start's reading stages: text-only judge items about synthetic scenes (drawn fresh,
// never rendered, never the demo's clips), given before and beside the video items. A real
// checkpoint brings this skill, binding the labels A and B to the responses and checking them
// against a description, from pretraining; a fixture starts from random weights, and on it the
// judge prompt is not learned from the video items alone. So the binding is taught first on match
// items, where the description gives the answer outright, and match items stay mixed in while the
// judge items (the scene's description) take over (docs/experiments/README.md has what each was
// measured to learn). Every pair is shown in both orders, one after the other, as rounds judge it,
// so no update pulls the verdict toward a position.
import type { Uniform } from './data/prng';
import { captionFor, questionsFor } from './data/questions';
import { randomScene } from './data/scene';
import type { ChatMessage } from '../engine/model/tokenizer';
import { judgeLabel, judgeMessages, type JudgeText } from '../isr/judge';
import type { Templates } from '../isr/templates';
import { judgedPair } from './warm-start';

/** `match`: the description states the answer, and the two responses are bare answers, the worse
 *  another one; `judge`: the description is the scene's caption, and any pair of the warm start's. */
export type ReadingTask = 'match' | 'judge';

export interface ReadingItem {
  task: ReadingTask;
  messages: ChatMessage[];
  /** The label of the better response, spelt as the judge is trained (judgeLabel). */
  target: string;
  /** What the judge reads, and which response is better. */
  text: JudgeText;
  better: 'A' | 'B';
}

export const matchDescription = (answer: string): string => `The answer is ${answer}.`;

/** A pair for `task` about `scene`'s question: for match items, redrawn until both are bare and the worse is another answer. */
function pairFor(task: ReadingTask, scene: ReturnType<typeof randomScene>, answer: string, rng: Uniform) {
  for (;;) {
    const pair = judgedPair(scene, answer, rng);
    if (task === 'judge' || (pair.first !== pair.second && !pair.first.includes(' ') && !pair.second.includes(' '))) return pair;
  }
}

/**
 * `count` items (rounded up to whole pairs), each pair followed by the same pair swapped, about new
 * scenes' questions; a share `matchShare` of the pairs are match items, the rest judge items. With
 * `longScenes`, a scene is kept with a chance of its shapes over 4, so scenes of four shapes (the
 * longest descriptions, where the judge errs most) come four times as often as those of one.
 */
export function readingItems(count: number, matchShare: number, templates: Templates, rng: Uniform, longScenes = false): ReadingItem[] {
  const items: ReadingItem[] = [];
  while (items.length < count) {
    const scene = randomScene(rng);
    if (longScenes && rng() >= scene.shapes.length / 4) continue;
    for (const q of questionsFor(scene, rng)) {
      if (items.length >= count) break;
      const task: ReadingTask = rng() < matchShare ? 'match' : 'judge';
      const { first, second, target } = pairFor(task, scene, q.answer, rng);
      const context = task === 'match' ? matchDescription(q.answer) : captionFor(scene);
      for (const [a, b, better] of [[first, second, target], [second, first, target === 'A' ? 'B' : 'A']] as const) {
        const text = { question: q.question, context, first: a, second: b };
        items.push({ task, messages: judgeMessages(templates, text, false), target: judgeLabel(better), text, better });
      }
    }
  }
  return items;
}
