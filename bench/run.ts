// `npm run bench [-- name ...]`: runs the named benchmarks (all by default) and replaces their
// sections of BENCHMARKS.md, each headed by the machine it ran on.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineDescription } from '../src/main/report/machine';
import { autodiffSection } from './autodiff';
import { checkpointSection } from './checkpoint';
import { generateSection } from './generate';
import { gpuSection } from './gpu';
import { pytorchSection } from './pytorch';
import { responsivenessSection } from './responsiveness';
import { reviewSection } from './review';
import { roundSection } from './round';
import { BenchSkipped } from './skip';
import { trainSection } from './train';

const sections: Record<string, (machine: string) => Promise<string>> = {
  autodiff: autodiffSection,
  checkpoint: checkpointSection,
  generate: generateSection,
  gpu: gpuSection,
  pytorch: pytorchSection,
  responsiveness: responsivenessSection,
  review: reviewSection,
  round: roundSection,
  train: trainSection,
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, 'BENCHMARKS.md');

/** Replaces the text between `<!-- bench:id -->` and `<!-- /bench:id -->`, appending the section if absent. */
function replaceSection(doc: string, id: string, body: string): string {
  const [start, end] = [`<!-- bench:${id} -->`, `<!-- /bench:${id} -->`];
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  return i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
}

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in sections));
if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(sections).join(', ')}`);

const where = machineDescription();
const machine = `Machine: ${where.machine}, ${where.runtime}. Date: ${new Date().toISOString().slice(0, 10)}.`;
for (const name of names.length > 0 ? names : Object.keys(sections)) {
  let body: string;
  try {
    body = await sections[name](machine);
  } catch (e) {
    if (!(e instanceof BenchSkipped)) throw e;
    console.log(`skipped ${name}, its figures left as they were: ${e.message}`);
    continue;
  }
  const doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\nFigures written by `npm run bench`; tests never assert times.\n';
  fs.writeFileSync(file, replaceSection(doc, name, body));
  console.log(`wrote the ${name} section of ${path.relative(root, file)}`);
}
