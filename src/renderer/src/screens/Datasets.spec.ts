import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../../shared/contract';
import { ApiError } from '../../../shared/errors';
import type { JobSnapshot } from '../../../shared/jobs';
import type { DatasetRow, DatasetSummary, ImportIssue } from '../../../shared/types';
import type { Client } from '../lib/client';
import { createJobStore, type JobStore } from '../lib/jobs';
import Datasets from './Datasets.svelte';

const dataset = (id: number, name: string): DatasetSummary => ({ id, name, sourcePath: `/d/${name}.jsonl`, status: 'ready', rowCount: 3, errorCount: 0, createdAt: '' });
const runningJob: JobSnapshot = {
  id: 'j1', kind: 'import', title: 'Import train', state: 'running', phase: 'probing videos', done: 1, total: 2,
  etaSeconds: 3, startedAt: '2026-01-01T00:00:00Z', finishedAt: null, result: null, error: null,
};

// A test double of the API at this unit level; the real service is exercised through serve in e2e/.
function fakeClient(initialJobs: JobSnapshot[] = [], datasets: DatasetSummary[] = []) {
  const listeners = new Set<(e: StudioEvent) => void>();
  const row: DatasetRow = {
    id: 1, rowId: 'c1-q1', line: 1, question: 'What colour is the circle?', answer: 'red',
    video: { id: 3, path: '/d/c1.mp4', durationS: 75, width: 64, height: 48, fps: 8, thumbnail: 'thumb/3' },
  };
  // Two problems on one line: one rejected row, listed twice.
  const issues: ImportIssue[] = [
    { line: 2, rowId: 'c2', field: 'video', message: 'line 2: video file not found: /d/c2.mp4' },
    { line: 2, rowId: 'c2', field: 'question', message: 'line 2: question is empty' },
  ];
  const calls: [string, unknown][] = [];
  const client = {
    api: {
      listDatasets: async () => [...datasets],
      getDatasetRows: async () => ({ total: 1, offset: 0, rows: [row] }),
      getImportIssues: async () => issues,
      importDataset: async (input: unknown) => {
        calls.push(['importDataset', input]);
        return { jobId: 'j1' };
      },
      listJobs: async () => initialJobs,
      renameDataset: async (input: { datasetId: number; name: string }) => {
        calls.push(['renameDataset', input]);
        const d = datasets.find((x) => x.id === input.datasetId)!;
        d.name = input.name;
        return d;
      },
      deleteDataset: async (input: { datasetId: number }) => {
        calls.push(['deleteDataset', input]);
        // What the service answers while a run uses the dataset.
        if (input.datasetId === 8) throw new ApiError('bad_input', 'dataset "used" is used by run 1: it cannot be deleted while a run uses it');
        datasets.splice(datasets.findIndex((x) => x.id === input.datasetId), 1);
        return { deleted: true };
      },
      cancelJob: async (input: unknown) => {
        calls.push(['cancelJob', input]);
        return { cancelled: true };
      },
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
    emit({ ...runningJob, state: 'done', done: 2, result: { datasetId: 7, imported: 1, skipped: 0, failed: 1 } });
  };
  return { client, calls, emit, finish };
}

let jobs: JobStore | undefined;
afterEach(() => {
  cleanup();
  jobs?.stop();
});

function renderScreen(client: Client) {
  jobs = createJobStore(client);
  render(Datasets, { client, jobs });
}

async function submitImport(path: string) {
  await fireEvent.input(screen.getByLabelText(/Dataset file/), { target: { value: path } });
  await fireEvent.submit(screen.getByRole('form', { name: 'Import a dataset' }));
}

async function expectImportedDataset() {
  await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/1 row imported, 0 already there, 1 rejected/));
  const rows = await screen.findByRole('table', { name: 'Dataset rows' });
  expect(rows.textContent).toContain('What colour is the circle?');
  expect(rows.textContent).toContain('1m 15s');
  expect(screen.getByRole('img').getAttribute('src')).toBe('media://thumb/3');
  const errors = screen.getByRole('list', { name: 'Import errors' });
  expect([...errors.querySelectorAll('li')].map((li) => li.textContent)).toEqual([
    'Line 2 (video): line 2: video file not found: /d/c2.mp4',
    'Line 2 (question): line 2: question is empty',
  ]);
  expect(screen.getByText('1 row could not be imported')).toBeTruthy();
}

describe('Datasets screen', () => {
  it('imports a path, shows live progress, then the rows with thumbnails and the rejected rows', async () => {
    const { client, calls, emit, finish } = fakeClient();
    renderScreen(client);
    expect(await screen.findByText(/No datasets yet/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Browse…' })).toBeNull();

    await submitImport(' /d/train.jsonl ');
    await waitFor(() => expect(calls).toEqual([['importDataset', { path: '/d/train.jsonl', name: undefined }]]));
    emit(runningJob);
    expect((await screen.findByRole('status')).textContent).toMatch(/probing videos 1\/2, about 3s left/);
    expect(screen.getByRole('button', { name: 'Import' }).hasAttribute('disabled')).toBe(true);

    emit({ ...runningJob, done: 2, etaSeconds: 0 });
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/2\/2/));
    finish();
    await expectImportedDataset();
    expect(screen.getByRole('button', { name: 'Import' }).hasAttribute('disabled')).toBe(false);
  });

  it('cancels the running import', async () => {
    const { client, calls, emit } = fakeClient();
    renderScreen(client);
    await submitImport('/d/train.jsonl');
    emit(runningJob);
    await fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(calls).toContainEqual(['cancelJob', { jobId: 'j1' }]));
    emit({ ...runningJob, state: 'cancelled', error: { code: 'cancelled', message: 'Import train: cancelled' } });
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Import train: cancelled.'));
  });

  it('shows a failed import with its message', async () => {
    const { client, emit } = fakeClient();
    renderScreen(client);
    await submitImport('/d/none.jsonl');
    emit(runningJob);
    await screen.findByRole('status');
    emit({ ...runningJob, state: 'failed', error: { code: 'bad_input', message: 'dataset file not found: /d/none.jsonl' } });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Import train failed: dataset file not found: /d/none.jsonl');
    expect(alert.dataset.testid).toBe('import-status');
  });

  it('says why an import of a file with no good row made no dataset', async () => {
    const { client, emit } = fakeClient();
    renderScreen(client);
    await submitImport('/d/bad.jsonl');
    emit(runningJob);
    const message = '/d/bad.jsonl: no row could be imported (2 rejected): line 1: video file not found: /d/c1.mp4; line 2: question is empty';
    emit({ ...runningJob, state: 'failed', error: { code: 'bad_input', message } });
    expect((await screen.findByRole('alert')).textContent).toBe(`Import train failed: ${message}`);
    expect(screen.getByText(/No datasets yet/)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Import' }).hasAttribute('disabled')).toBe(false);
  });

  it('renames a dataset in its row', async () => {
    const { client, calls } = fakeClient([], [dataset(7, 'train')]);
    renderScreen(client);
    await fireEvent.click(await screen.findByRole('button', { name: 'Rename dataset train' }));
    const input = screen.getByRole('textbox', { name: 'New name for train' }) as HTMLInputElement;
    expect([input.value, document.activeElement]).toEqual(['train', input]);
    await fireEvent.input(input, { target: { value: ' colours ' } });
    await fireEvent.submit(screen.getByRole('form', { name: 'Rename train' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'colours' })).toBeTruthy());
    expect(calls).toEqual([['renameDataset', { datasetId: 7, name: 'colours' }]]);
    expect(screen.queryByRole('textbox', { name: /New name/ })).toBeNull();
  });

  it('deletes a dataset once confirmed, and says why when a run uses it', async () => {
    const { client, calls } = fakeClient([], [dataset(7, 'train'), dataset(8, 'used')]);
    renderScreen(client);
    await fireEvent.click(await screen.findByRole('button', { name: 'Delete dataset used' }));
    expect(calls).toEqual([]);
    const confirm = screen.getByRole('group', { name: 'Confirm deleting used' });
    expect(confirm.textContent).toContain('Delete “used” and its 3 rows?');
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Yes, delete' }));
    expect((await screen.findByRole('alert')).textContent).toBe('dataset "used" is used by run 1: it cannot be deleted while a run uses it');
    expect(screen.getByRole('button', { name: 'used' })).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'Delete dataset train' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Keep it' }));
    expect(calls).toEqual([['deleteDataset', { datasetId: 8 }]]);
    await fireEvent.click(screen.getByRole('button', { name: 'Delete dataset train' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, delete' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'train' })).toBeNull());
    expect(calls).toEqual([['deleteDataset', { datasetId: 8 }], ['deleteDataset', { datasetId: 7 }]]);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('picks up an import that was already running when the page opened', async () => {
    const { client, calls, finish } = fakeClient([runningJob]);
    renderScreen(client);
    expect((await screen.findByRole('status')).textContent).toMatch(/probing videos 1\/2/);
    finish();
    await expectImportedDataset();
    expect(calls).toEqual([]);
  });
});
