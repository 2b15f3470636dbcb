// The demo's warm start: what a fixture must learn before ISR-DPO rounds mean anything. From the
// demo data's ground truth it builds supervised items of the four tasks a round asks of the policy:
// describe a clip, refine an earlier (flawed) description, answer a question, and judge two answers
// (with and without a description, in both orders), where the worse answer is a wrong one, a verbose
// wrong one with an invented shape, or a right one padded with an invented shape. Answers are
// sometimes bare and sometimes followed by a true sentence, so the policy can say more than a word;
// better and worse answers are padded equally often, so the judge cannot learn length for truth.
// Beside them, the language prior a pretrained judge brings, declared as a modelling assumption
// (docs/experiments/README.md): judge items with nothing to check against (no video, no
// description) whose label is the longer, more detailed response. The same warm start serves every
// mode, so a study tests whether the video and its description overcome that prior.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../shared/errors';
import { captionFor } from './data/questions';
import { int, pick, type Uniform } from './data/prng';
import { COLOUR_NAMES, DIRECTIONS, KINDS, type Scene, type ShapeTruth } from './data/scene';
import { judgeLabel, judgeMessages, type JudgeText } from '../isr/judge';
import { fill, type Templates } from '../isr/templates';
import { userTurn, type ChatMessage } from '../engine/model/tokenizer';

/** A clip of clips.jsonl: its scene (which redraws and re-captions it), split and caption. */
export interface DemoClip extends Scene {
  clip: string;
  video: string;
  split: 'train' | 'test';
  caption: string;
}

/** A row of train.jsonl / test.jsonl. */
export interface DemoQuestion {
  video: string;
  question: string;
  answer: string;
}

export type WarmStartTask = 'describe' | 'retrospect' | 'answer' | 'judge' | 'prior';

export interface WarmStartItem {
  task: WarmStartTask;
  /** Video path relative to the data folder; absent for a text-only item (the language prior). */
  video?: string;
  messages: ChatMessage[];
  target: string;
  /** For judge items: what the judge reads, so held-out items can be judged as a round judges. */
  judge?: JudgeText;
}

function readJsonl<T>(file: string, check: (row: Record<string, unknown>) => string | null): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ApiError('bad_input', `${file} cannot be read (write the demo data with \`isr-studio demo-data\`): ${(err as Error).message}`);
  }
  return text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new ApiError('bad_input', `${file} line ${i + 1}: not JSON`);
    }
    const problem = typeof row === 'object' && row !== null ? check(row as Record<string, unknown>) : 'not an object';
    if (problem !== null) throw new ApiError('bad_input', `${file} line ${i + 1}: ${problem}`);
    return [row as T];
  });
}

const missing = (row: Record<string, unknown>, fields: string[]) => {
  const absent = fields.find((f) => row[f] === undefined);
  return absent === undefined ? null : `${absent} is missing`;
};

/** The demo data of `dir`: its clips' ground truth and its train and test questions. */
export function readDemoData(dir: string): { clips: DemoClip[]; train: DemoQuestion[]; test: DemoQuestion[] } {
  const clips = readJsonl<DemoClip>(join(dir, 'clips.jsonl'), (r) => missing(r, ['clip', 'video', 'split', 'shapes', 'caption']) ?? (Array.isArray(r.shapes) ? null : 'shapes must be a list'));
  const questions = (split: string) => readJsonl<DemoQuestion>(join(dir, `${split}.jsonl`), (r) => missing(r, ['video', 'question', 'answer']));
  return { clips, train: questions('train'), test: questions('test') };
}

/** The other values an answer could have taken: colours, kinds, directions or counts. */
function alternatives(answer: string): readonly string[] {
  for (const words of [COLOUR_NAMES, KINDS, DIRECTIONS] as readonly (readonly string[])[]) if (words.includes(answer)) return words.filter((w) => w !== answer);
  if (/^\d+$/.test(answer)) return ['1', '2', '3', '4'].filter((n) => n !== answer);
  throw new ApiError('bad_input', `demo answer "${answer}" is not a colour, shape, direction or count`);
}

const sentence = (s: Pick<ShapeTruth, 'colour' | 'kind' | 'direction'>) => `The ${s.colour} ${s.kind} moves ${s.direction}.`;

/** A shape the scene does not have (an invented one, for hallucinated distractors). */
function invented(scene: Scene, rng: Uniform): Pick<ShapeTruth, 'colour' | 'kind' | 'direction'> {
  for (;;) {
    const s = { colour: pick(rng, COLOUR_NAMES), kind: pick(rng, KINDS), direction: pick(rng, DIRECTIONS) };
    if (!scene.shapes.some((t) => t.colour === s.colour && t.kind === s.kind)) return s;
  }
}

/** A description with one thing wrong: a shape's colour or direction changed, or the last shape dropped. */
function flawedCaption(clip: DemoClip, rng: Uniform): string {
  const shapes = clip.shapes.map((s) => ({ ...s }));
  const which = int(rng, 0, shapes.length - 1);
  const flaw = shapes.length > 1 ? int(rng, 0, 2) : int(rng, 0, 1);
  if (flaw === 0) shapes[which].colour = pick(rng, COLOUR_NAMES.filter((c) => c !== shapes[which].colour));
  else if (flaw === 1) shapes[which].direction = pick(rng, DIRECTIONS.filter((d) => d !== shapes[which].direction));
  else shapes.pop();
  return captionFor({ ...clip, shapes });
}

/** A right answer: bare half the time, else followed by a true sentence about the scene. */
function goodAnswer(scene: Scene, answer: string, rng: Uniform): string {
  return rng() < 0.5 ? answer : `${answer}. ${sentence(pick(rng, scene.shapes))}`;
}

/** Two responses to a question about `scene`, one right and truthful, in a random order; `target` labels the better. */
export function judgedPair(scene: Scene, answer: string, rng: Uniform): { first: string; second: string; target: 'A' | 'B' } {
  const wrong = pick(rng, alternatives(answer));
  // Half the distractors are bare and half padded, as half the good answers are: length alone tells nothing.
  const bad = rng() < 0.5 ? wrong : rng() < 0.5 ? `${wrong}. ${sentence(invented(scene, rng))}` : `${answer}. ${sentence(invented(scene, rng))}`;
  const good = goodAnswer(scene, answer, rng);
  return rng() < 0.5 ? { first: good, second: bad, target: 'A' } : { first: bad, second: good, target: 'B' };
}

/**
 * A pair the judge cannot check: no video and no description, one response a bare answer and the
 * other a (random) answer followed by a sentence. The prior labels the more detailed one better.
 */
export function priorPair(scene: Scene, answer: string, rng: Uniform): { first: string; second: string; target: 'A' | 'B' } {
  const short = pick(rng, [answer, ...alternatives(answer)]);
  const long = `${pick(rng, [answer, ...alternatives(answer)])}. ${sentence(rng() < 0.5 ? pick(rng, scene.shapes) : invented(scene, rng))}`;
  return rng() < 0.5 ? { first: long, second: short, target: 'A' } : { first: short, second: long, target: 'B' };
}

/** The supervised items of every question and clip of one split, drawn with `rng`. */
export function warmStartItems(clips: readonly DemoClip[], questions: readonly DemoQuestion[], templates: Templates, rng: Uniform): WarmStartItem[] {
  const byVideo = new Map(clips.map((c) => [c.video, c]));
  const items: WarmStartItem[] = [];
  for (const clip of clips) {
    items.push({ task: 'describe', video: clip.video, messages: userTurn(templates.describe), target: clip.caption });
    items.push({ task: 'retrospect', video: clip.video, messages: userTurn(fill(templates.retrospect, { previous: flawedCaption(clip, rng) }, 'retrospect')), target: clip.caption });
  }
  for (const q of questions) {
    const clip = byVideo.get(q.video);
    if (!clip) throw new ApiError('bad_input', `question "${q.question}" is about ${q.video}, which clips.jsonl does not list`);
    const question = fill(templates.answer, { question: q.question }, 'answer');
    items.push({ task: 'answer', video: q.video, messages: userTurn(question), target: goodAnswer(clip, q.answer, rng) });
    for (const context of [clip.caption, null]) {
      const { first, second, target } = judgedPair(clip, q.answer, rng);
      const text = { question: q.question, context, first, second };
      items.push({ task: 'judge', video: q.video, messages: judgeMessages(templates, text, true), target: judgeLabel(target), judge: text });
    }
    const prior = priorPair(clip, q.answer, rng);
    const text = { question: q.question, context: null, first: prior.first, second: prior.second };
    items.push({ task: 'prior', messages: judgeMessages(templates, text, false), target: judgeLabel(prior.target), judge: text });
  }
  return items;
}
