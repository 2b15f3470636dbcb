import { describe, expect, it } from 'vitest';
import { JobRegistry } from './jobs';

describe('JobRegistry.finished', () => {
  it("resolves with a job's final snapshot after passing on every one before it", async () => {
    const jobs = new JobRegistry();
    const id = jobs.start('run', 'counting', async (ctx) => {
      for (let i = 0; i < 3; i++) ctx.progress('counting', i + 1, 3);
      return 'counted';
    });
    const seen: string[] = [];
    const job = await jobs.finished(id, (j) => seen.push(`${j.state} ${j.phase} ${j.done}`));
    expect(job).toMatchObject({ id, state: 'done', result: 'counted' });
    expect(seen).toEqual(['running starting 0', 'running counting 1', 'running counting 2', 'running counting 3', 'done counting 3']);
  });

  it('resolves at once for a job already finished, and with the error of one that failed', async () => {
    const jobs = new JobRegistry();
    const id = jobs.start('run', 'failing', async () => {
      throw new Error('no model folder');
    });
    const failed = await jobs.finished(id);
    expect(failed).toMatchObject({ state: 'failed', error: { message: 'no model folder' } });
    expect(await jobs.finished(id)).toEqual(failed);
  });
});
