// The demo warm start's reading stage: text-only judge items about synthetic scenes (drawn fresh,
// never rendered, never the demo's clips), given before any video. A real checkpoint brings this
// skill, reading an answer against a description, from pretraining; a fixture starts from random
// weights, and on it the judge prompt is not learned from the video items alone, so shorter prompts
// and lookup items come first (docs/experiments/README.md has what each stage was measured to learn).
import type { Uniform } from './data/prng';
import { captionFor, questionsFor } from './data/questions';
import { randomScene } from './data/scene';
import { userTurn, type ChatMessage } from '../engine/model/tokenizer';
import { judgeMessages, type JudgeText } from '../isr/judge';
import type { Templates } from '../isr/templates';
import { judgedPair } from './warm-start';

/** `short`: description, question and the two responses with no instruction, each such item after
 *  a lookup item (description and question, answered from the description); `full`: the judge template. */
export type ReadingPrompt = 'short' | 'full';

export interface ReadingItem {
  messages: ChatMessage[];
  /** A or B for judge items; the answer for lookup items. */
  target: string;
  /** What a judge item shows; null for lookup items. */
  text: JudgeText | null;
}

const shortPrompt = (t: JudgeText) => `Description: ${t.context}\nQuestion: ${t.question}\nA: ${t.first}\nB: ${t.second}\nA or B?`;
const lookupPrompt = (description: string, question: string) => `Description: ${description}\nQuestion: ${question}\nAnswer:`;

/** `count` judge items, each about a new scene's question, with that scene's caption as the description. */
export function readingItems(count: number, prompt: ReadingPrompt, templates: Templates, rng: Uniform): ReadingItem[] {
  const items: ReadingItem[] = [];
  while (items.length < count) {
    const scene = randomScene(rng);
    for (const q of questionsFor(scene, rng)) {
      const context = captionFor(scene);
      if (prompt === 'short' && items.length < count) items.push({ messages: userTurn(lookupPrompt(context, q.question), false), target: q.answer, text: null });
      if (items.length === count) break;
      const { first, second, target } = judgedPair(scene, q.answer, rng);
      const text = { question: q.question, context, first, second };
      items.push({ messages: prompt === 'short' ? userTurn(shortPrompt(text), false) : judgeMessages(templates, text, false), target, text });
    }
  }
  return items;
}
