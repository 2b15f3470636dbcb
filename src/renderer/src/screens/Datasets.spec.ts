import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../../shared/contract';
import type { JobSnapshot } from '../../../shared/jobs';
import type { DatasetRow, DatasetSummary, ImportIssue } from '../../../shared/types';
import type { Client } from '../lib/client';
import Datasets from './Datasets.svelte';

// A test double of the API at this unit level; the real service is exercised through serve in e2e/.
function fakeClient() {
  const datasets: DatasetSummary[] = [];
  const listeners = new Set<(e: StudioEvent) => void>();
  const row: DatasetRow = {
    id: 1, rowId: 'c1-q1', line: 1, question: 'What colour is the circle?', answer: 'red',
    video: { id: 3, path: '/d/c1.mp4', durationS: 75, width: 64, height: 48, fps: 8, thumbnail: 'thumb/3' },
  };
  const issues: ImportIssue[] = [{ line: 2, rowId: 'c2', field: 'video', message: 'line 2: video file not found: /d/c2.mp4' }];
  const job: JobSnapshot = {
    id: 'j1', kind: 'import', title: 'Import train', state: 'running', phase: 'probing videos', done: 1, total: 2,
    etaSeconds: 3, startedAt: '', finishedAt: null, result: null, error: null,
  };
  const imports: unknown[] = [];
  const client = {
    api: {
      listDatasets: async () => datasets,
      getDatasetRows: async () => ({ total: 1, offset: 0, rows: [row] }),
      getImportIssues: async () => issues,
      importDataset: async (input: unknown) => {
        imports.push(input);
        return { jobId: 'j1' };
      },
      listJobs: async () => [job],
    },
    onEvent: (l: (e: StudioEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    mediaUrl: (key: string) => `media://${key}`,
  } as unknown as Client;
  const emit = (j: JobSnapshot) => listeners.forEach((l) => l({ type: 'job', job: j }));
  const finish = () => {
    datasets.push({ id: 7, name: 'train', sourcePath: '/d/train.jsonl', status: 'ready', rowCount: 1, errorCount: 1, createdAt: '' });
    emit({ ...job, state: 'done', done: 2, result: { datasetId: 7, imported: 1, skipped: 0, failed: 1 } });
  };
  return { client, imports, emit, job, finish };
}

afterEach(cleanup);

describe('Datasets screen', () => {
  it('imports a path, shows live progress, then the rows with thumbnails and the rejected rows', async () => {
    const { client, imports, emit, job, finish } = fakeClient();
    render(Datasets, { client });
    expect(await screen.findByText(/No datasets yet/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Browse…' })).toBeNull();

    await fireEvent.input(screen.getByLabelText(/Dataset file/), { target: { value: ' /d/train.jsonl ' } });
    await fireEvent.submit(screen.getByRole('form', { name: 'Import a dataset' }));
    await waitFor(() => expect(imports).toEqual([{ path: '/d/train.jsonl', name: undefined }]));
    expect((await screen.findByRole('status')).textContent).toMatch(/probing videos 1\/2, about 3s left/);

    emit({ ...job, done: 2, etaSeconds: 0 });
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/2\/2/));
    finish();

    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/1 rows imported, 0 already there, 1 rejected/));
    const rows = await screen.findByRole('table', { name: 'Dataset rows' });
    expect(rows.textContent).toContain('What colour is the circle?');
    expect(rows.textContent).toContain('1m 15s');
    expect(screen.getByRole('img').getAttribute('src')).toBe('media://thumb/3');
    expect(screen.getByRole('list', { name: 'Import errors' }).textContent).toMatch(/Line 2 \(video\): line 2: video file not found/);
  });

  it('shows a failed import with its message', async () => {
    const { client, emit, job } = fakeClient();
    render(Datasets, { client });
    await fireEvent.input(screen.getByLabelText(/Dataset file/), { target: { value: '/d/none.jsonl' } });
    await fireEvent.submit(screen.getByRole('form', { name: 'Import a dataset' }));
    await screen.findByRole('status');
    emit({ ...job, state: 'failed', error: { code: 'bad_input', message: 'dataset file not found: /d/none.jsonl' } });
    expect((await screen.findByRole('alert')).textContent).toBe('dataset file not found: /d/none.jsonl');
  });
});
