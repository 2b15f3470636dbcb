// Validation problems named by where they are. Every schema failure the API reports
// (`invalid_argument`) carries a list of these as its `details`, so a form puts each message beside
// its field by path instead of parsing the sentence.
import type { z } from 'zod';
import { ApiError } from './errors';

export interface FieldIssue {
  /** Where the problem is, from the validated value's root: ['settings', 'train', 'beta']. */
  path: (string | number)[];
  /** The path as people read it ('settings.train.beta'), or the root's name when the path is empty. */
  field: string;
  message: string;
}

export function fieldIssues(error: z.ZodError, rootName: string): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
    return { path, field: path.join('.') || rootName, message: issue.message };
  });
}

/** "train.beta: Too small ...; samples: ...": the sentence a validation error is named by. */
export const describeIssues = (issues: readonly FieldIssue[]): string => issues.map((i) => `${i.field}: ${i.message}`).join('; ');

const isFieldIssue = (x: unknown): x is FieldIssue =>
  typeof x === 'object' && x !== null && Array.isArray((x as FieldIssue).path) && typeof (x as FieldIssue).message === 'string';

/** The field issues a thrown error carries, or undefined when it is not a validation error. */
export function issuesOf(err: unknown): FieldIssue[] | undefined {
  if (!(err instanceof ApiError) || err.code !== 'invalid_argument' || !Array.isArray(err.details)) return undefined;
  return err.details.every(isFieldIssue) ? err.details : undefined;
}
