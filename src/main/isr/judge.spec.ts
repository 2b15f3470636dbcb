import { describe, expect, it } from 'vitest';
import { judgeMessages } from './judge';
import { loadTemplates } from './templates';

const templates = loadTemplates();
const base = { question: 'What colour is the square?', first: 'Red.', second: 'A long story about a blue square.' };

describe("the judge's prompt in each mode", () => {
  it('holds the video and the context only when the mode shows them', () => {
    const isr = judgeMessages(templates, { ...base, context: 'A red square moves left.' }, true);
    const noContext = judgeMessages(templates, { ...base, context: null }, true);
    const textJudge = judgeMessages(templates, { ...base, context: null }, false);
    const parts = (m: ReturnType<typeof judgeMessages>) => (typeof m[0].content === 'string' ? [{ type: 'text', text: m[0].content }] : m[0].content);
    const text = (m: ReturnType<typeof judgeMessages>) => parts(m).map((p) => ('text' in p ? p.text : `<${p.type}>`)).join('');
    expect(parts(isr)[0]).toEqual({ type: 'video' });
    expect(text(isr)).toContain('A red square moves left.');
    expect(parts(noContext)[0]).toEqual({ type: 'video' });
    expect(text(noContext)).not.toContain('Description of the video');
    expect(typeof textJudge[0].content).toBe('string');
    expect(text(textJudge)).not.toContain('<video>');
    expect(text(textJudge)).not.toContain('Description of the video');
    for (const m of [isr, noContext, textJudge]) {
      expect(text(m)).toContain('Response A: Red.');
      expect(text(m)).toContain('Response B: A long story about a blue square.');
    }
  });

  it('names a placeholder a template uses but the step does not provide', () => {
    expect(() => judgeMessages({ ...templates, judge: '{question} {verdict}' }, { ...base, context: null }, false)).toThrow('prompt template "judge" uses {verdict}');
  });
});
