import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/prng';
import { captionFor, questionsFor } from './data/questions';
import { randomScene } from './data/scene';
import { exactMatch } from '../isr/scorer';
import { loadTemplates } from '../isr/templates';
import { readDemoData, warmStartItems, type DemoClip, type DemoQuestion } from './warm-start';

const templates = loadTemplates();
const rng = mulberry32(5);
const clips: DemoClip[] = [];
const questions: DemoQuestion[] = [];
for (let i = 0; i < 40; i++) {
  const scene = randomScene(rng);
  const video = `videos/clip${i}.mp4`;
  clips.push({ ...scene, clip: `clip${i}`, video, split: 'train', caption: captionFor(scene) });
  for (const q of questionsFor(scene, rng)) questions.push({ video, question: q.question, answer: q.answer });
}
const items = warmStartItems(clips, questions, templates, mulberry32(1));
const clipOf = new Map(clips.map((c) => [c.video, c]));

/** The sentences after the answer, checked against the clip: every "The <colour> <kind> moves <dir>." must be true. */
function truthful(response: string, clip: DemoClip): boolean {
  return [...response.matchAll(/The (\w+) (\w+) moves (\w+)\./g)].every(([, colour, kind, direction]) =>
    clip.shapes.some((s) => s.colour === colour && s.kind === kind && s.direction === direction));
}

describe('warm-start items', () => {
  it('has a description and a correction per clip, an answer, two judge items and a prior item per question', () => {
    const count = (task: string) => items.filter((i) => i.task === task).length;
    expect([count('describe'), count('retrospect'), count('answer'), count('judge'), count('prior')]).toEqual([clips.length, clips.length, questions.length, 2 * questions.length, questions.length]);
    for (const item of items.filter((i) => i.task === 'retrospect')) {
      const text = JSON.stringify(item.messages);
      expect(item.target).toBe(clipOf.get(item.video!)!.caption);
      // The earlier description shown is flawed: never the caption itself.
      expect(text).not.toContain(item.target);
    }
  });

  it('answers right and truthfully, sometimes with a sentence more', () => {
    const answers = items.filter((i) => i.task === 'answer');
    answers.forEach((item, k) => {
      expect(exactMatch(item.target, questions[k].answer)).toBe(true);
      expect(truthful(item.target, clipOf.get(item.video!)!)).toBe(true);
    });
    const verbose = answers.filter((a) => a.target.includes(' ')).length / answers.length;
    expect(verbose).toBeGreaterThan(0.3);
    expect(verbose).toBeLessThan(0.7);
  });

  it("makes the judge's target the right and truthful response, against a wrong or invented one, in both positions", () => {
    const judged = items.filter((i) => i.task === 'judge');
    let firstIsBetter = 0;
    const kinds = { wrong: 0, invented: 0 };
    judged.forEach((item, k) => {
      const q = questions[Math.floor(k / 2)];
      const clip = clipOf.get(item.video!)!;
      // One spelling of the label: the token the prompt's "Response A:" shows.
      expect([' A', ' B']).toContain(item.target);
      const [better, worse] = item.target === ' A' ? [item.judge!.first, item.judge!.second] : [item.judge!.second, item.judge!.first];
      expect(exactMatch(better, q.answer) && truthful(better, clip)).toBe(true);
      const worseRight = exactMatch(worse, q.answer);
      expect(worseRight && truthful(worse, clip)).toBe(false);
      if (!worseRight) kinds.wrong++;
      if (!truthful(worse, clip)) kinds.invented++;
      if (item.target === ' A') firstIsBetter++;
      // Half the items show the clip's caption as the description, half none.
      expect(item.judge!.context === null || item.judge!.context === clip.caption).toBe(true);
    });
    expect(firstIsBetter / judged.length).toBeGreaterThan(0.4);
    expect(firstIsBetter / judged.length).toBeLessThan(0.6);
    expect(kinds.wrong).toBeGreaterThan(judged.length / 2);
    expect(kinds.invented).toBeGreaterThan(judged.length / 3);
    // Length tells nothing: better and worse responses are padded with a sentence equally often.
    for (const side of [0, 1]) {
      const padded = judged.filter((item) => (item.target === ' A' ? [item.judge!.first, item.judge!.second] : [item.judge!.second, item.judge!.first])[side].includes(' ')).length;
      expect(padded / judged.length).toBeGreaterThan(0.42);
      expect(padded / judged.length).toBeLessThan(0.58);
    }
    expect(judged.filter((i) => i.judge!.context !== null)).toHaveLength(questions.length);
  });

  it('declares the language prior: with no video and no description, the longer response is the better, whatever it says', () => {
    const prior = items.filter((i) => i.task === 'prior');
    let [firstIsBetter, longerRight] = [0, 0];
    prior.forEach((item, k) => {
      expect(item.video).toBeUndefined();
      expect(JSON.stringify(item.messages)).not.toContain('"video"');
      expect(item.judge!.context).toBeNull();
      const [better, worse] = item.target === ' A' ? [item.judge!.first, item.judge!.second] : [item.judge!.second, item.judge!.first];
      expect(better.split(' ').length).toBeGreaterThan(worse.split(' ').length);
      if (exactMatch(better, questions[k].answer)) longerRight++;
      if (item.target === ' A') firstIsBetter++;
    });
    expect(firstIsBetter / prior.length).toBeGreaterThan(0.4);
    expect(firstIsBetter / prior.length).toBeLessThan(0.6);
    // Truth plays no part: the longer response is right about as often as the shorter.
    expect(longerRight / prior.length).toBeLessThan(0.5);
  });
});

describe('reading demo data', () => {
  it('names the file and line of a bad row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-warm-'));
    writeFileSync(join(dir, 'clips.jsonl'), `${JSON.stringify({ clip: 'c', video: 'v.mp4', split: 'train', shapes: [], caption: 'x' })}\n`);
    writeFileSync(join(dir, 'train.jsonl'), `${JSON.stringify({ video: 'v.mp4', question: 'q?', answer: 'red' })}\n{"video": "v.mp4", "question": "q?"}\n`);
    writeFileSync(join(dir, 'test.jsonl'), '');
    expect(() => readDemoData(dir)).toThrow(`${join(dir, 'train.jsonl')} line 2: answer is missing`);
    expect(() => readDemoData(join(dir, 'nowhere'))).toThrow(/clips\.jsonl cannot be read \(write the demo data with `isr-studio demo-data`\)/);
  });
});
