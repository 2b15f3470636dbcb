// The prompt templates of a round, as editable text files in resources/prompts/; their text is
// recorded with each round so a run can be read back exactly as it was asked.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userTurn, type ChatMessage } from '../engine/model/tokenizer';

export const templateNames = ['answer', 'describe', 'retrospect', 'judge', 'context_block'] as const;
export type TemplateName = (typeof templateNames)[number];
export type Templates = Record<TemplateName, string>;

// resources/prompts in the source tree; the Electron build copies them beside its bundle (out/main/prompts).
const bundled = fileURLToPath(new URL('./prompts/', import.meta.url));
export const defaultTemplatesDir = existsSync(bundled) ? bundled : fileURLToPath(new URL('../../../resources/prompts/', import.meta.url));

export function loadTemplates(dir: string = defaultTemplatesDir): Templates {
  return Object.fromEntries(templateNames.map((name) => {
    const file = join(dir, `${name}.txt`);
    try {
      return [name, readFileSync(file, 'utf8').trimEnd()];
    } catch (err) {
      throw new Error(`prompt template ${file} cannot be read: ${(err as Error).message}`);
    }
  })) as Templates;
}

/** `template` with each {name} replaced; a placeholder without a value is an error naming it. */
export function fill(template: string, values: Record<string, string>, name = 'template'): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`prompt template "${name}" uses {${key}}, which this step does not provide`);
    return value;
  });
}

/** The answer template's user turn for a question, after the video: how a policy is asked to answer. */
export const answerTurn = (templates: Templates, question: string): ChatMessage[] => userTurn(fill(templates.answer, { question }, 'answer'));
