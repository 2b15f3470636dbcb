// `isr-studio import`: imports a dataset file into a studio database through the same service
// and job the app uses, printing progress, a summary and every rejected row.
import type { Command } from 'commander';
import { isFinished, type JobSnapshot } from '../../shared/jobs';
import type { ImportResult } from '../../shared/types';
import type { JobRegistry } from '../api/jobs';
import { openStudio } from '../api/service';

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
      const studio = openStudio({ dbPath: opts.db, transport: 'ipc' });
      try {
        const { jobId } = await studio.service.importDataset({ path: opts.data, name: opts.name });
        const job = await waitForJob(studio.jobs, jobId, progressPrinter());
        if (job.state !== 'done') throw new Error(job.error?.message ?? `import ${job.state}`);
        const result = job.result as ImportResult;
        const [dataset] = (await studio.service.listDatasets({})).filter((d) => d.id === result.datasetId);
        process.stdout.write(
          `dataset ${dataset.id} "${dataset.name}" (${dataset.status}): ${result.imported} rows imported, ` +
            `${result.skipped} already there, ${result.failed} rejected; ${dataset.rowCount} rows in all\n`,
        );
        const issues = await studio.service.getImportIssues({ datasetId: result.datasetId });
        // Every message names its line already.
        for (const issue of issues) process.stdout.write(`  ${issue.message}\n`);
      } finally {
        await studio.close();
      }
    });
}

/** Resolves with the job's final snapshot, passing every snapshot before it to `onChange`. */
function waitForJob(jobs: JobRegistry, jobId: string, onChange: (job: JobSnapshot) => void): Promise<JobSnapshot> {
  return new Promise((resolve) => {
    const seen = (job: JobSnapshot) => {
      if (job.id !== jobId) return;
      onChange(job);
      if (isFinished(job)) {
        stop();
        resolve(job);
      }
    };
    const stop = jobs.onChange(seen);
    // The job does its work after start() returns, so nothing was missed; this is its current state.
    const now = jobs.get(jobId);
    if (now) seen(now);
  });
}

/** A line per phase, then at most one a second: enough to see it move without flooding a log. */
function progressPrinter(): (job: JobSnapshot) => void {
  let printed = { phase: '', at: 0 };
  return (job) => {
    const now = Date.now();
    const due = job.phase !== printed.phase || now - printed.at >= 1000 || job.state === 'done';
    if (job.state === 'failed' || job.state === 'cancelled' || job.phase === 'starting' || !due) return;
    process.stdout.write(`${job.phase}: ${job.done}/${job.total}\n`);
    printed = { phase: job.phase, at: now };
  };
}
