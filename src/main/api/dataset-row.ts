// What a dataset row must be, checked with zod: { id, video, question, answer? }.
import { z } from 'zod';
import type { ImportIssue } from '../../shared/types';
import type { RowPlace } from './dataset-file';

const text = (field: string) =>
  z.string({ error: (i) => (i.input === undefined ? `${field} is missing` : `${field} must be a string`) });

const rowSchema = z.object({
  // The branch's own message, or zod's words name no field ("Too small: expected string ...").
  id: z.union([z.string().min(1, 'id is empty'), z.number().finite()], {
    error: (i) => (i.input === undefined ? 'id is missing' : 'id must be a string or a number'),
  }),
  video: text('video').min(1, 'video is empty'),
  question: text('question').trim().min(1, 'question is empty'),
  // null is how many writers spell "no answer"; it means the same as leaving the field out.
  answer: text('answer').nullish(),
});

export interface DatasetFileRow {
  rowId: string;
  video: string;
  question: string;
  answer: string | null;
}

export function validateRow(value: unknown, { line, place }: Pick<RowPlace, 'line' | 'place'>): { row: DatasetFileRow } | { issue: ImportIssue } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { issue: { line, rowId: null, field: null, message: `${place} is not a JSON object` } };
  }
  const parsed = rowSchema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const rawId = (value as { id?: unknown }).id;
    return {
      issue: {
        line,
        rowId: typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : null,
        field: first.path.map(String).join('.') || null,
        message: `${place}: ${first.message}`,
      },
    };
  }
  const { id, video, question, answer } = parsed.data;
  return { row: { rowId: String(id), video, question, answer: answer ?? null } };
}
