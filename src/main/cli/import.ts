// `isr-studio import`: imports a dataset file into a studio database through the same service
// and job the app uses, printing progress, a summary and every rejected row.
import type { Command } from 'commander';
import { count } from '../../shared/plural';
import type { ImportResult } from '../../shared/types';
import { openStudio } from '../api/service';
import { childProcessEngine } from '../engine-host/child-process';
import { progressPrinter } from './jobs';

export function registerImport(program: Command): void {
  program
    .command('import')
    .summary('import a dataset file (JSON or JSONL) into a studio database')
    .description(
      'import a dataset (JSON array or JSONL of {id, video, question, answer?}) into a studio database; ' +
        'bad rows are reported by line and skipped, and running it again resumes an interrupted import',
    )
    .requiredOption('--db <file>', 'studio database (created if missing)')
    .requiredOption('--data <file>', 'dataset file (.json or .jsonl); video paths are relative to it')
    .option('--name <name>', 'dataset name (default: the file name without extension)')
    .action(async (opts: { db: string; data: string; name?: string }) => {
      const studio = openStudio({ dbPath: opts.db, transport: 'in-process', engine: childProcessEngine() });
      try {
        const { jobId } = await studio.service.importDataset({ path: opts.data, name: opts.name });
        const job = await studio.jobs.finished(jobId, progressPrinter());
        if (job.state !== 'done') throw new Error(job.error?.message ?? `import ${job.state}`);
        const result = job.result as ImportResult;
        const [dataset] = (await studio.service.listDatasets({})).filter((d) => d.id === result.datasetId);
        process.stdout.write(
          `dataset ${dataset.id} "${dataset.name}" (${dataset.status}): ${count(result.imported, 'row')} imported, ` +
            `${result.skipped} already there, ${result.failed} rejected; ${count(dataset.rowCount, 'row')} in all\n`,
        );
        const issues = await studio.service.getImportIssues({ datasetId: result.datasetId });
        // Every message names its line already.
        for (const issue of issues) process.stdout.write(`  ${issue.message}\n`);
      } finally {
        await studio.close();
      }
    });
}
