import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../shared/contract';
import type { JobSnapshot } from '../../shared/jobs';
import type { AppInfo } from '../../shared/types';
import App from './App.svelte';
import type { Client } from './lib/client';
import { createJobStore, type JobStore } from './lib/jobs';

const info: AppInfo = {
  version: '1.2.3', dbPath: '/home/me/studio.db', transport: 'http', ffmpeg: { path: '/usr/bin/ffmpeg', source: 'PATH' },
};

// A test double of the API: the shell only asks what it is, and lists datasets and jobs.
function fakeClient(appInfo: AppInfo = info) {
  const listeners = new Set<(e: StudioEvent) => void>();
  const client = {
    api: { appInfo: async () => appInfo, listDatasets: async () => [], listRuns: async () => [], listModels: async () => [], getHistory: async () => [], listJobs: async () => [] },
    onEvent: (l: (e: StudioEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    mediaUrl: (key: string) => key,
  } as unknown as Client;
  return { client, emit: (job: JobSnapshot) => listeners.forEach((l) => l({ type: 'job', job })) };
}

let jobs: JobStore | undefined;
afterEach(() => {
  cleanup();
  jobs?.stop();
  window.location.hash = '';
});

describe('studio shell', () => {
  it('navigates between screens by hash, marks the current one and moves focus to it', async () => {
    const { client } = fakeClient();
    jobs = createJobStore(client);
    render(App, { client, jobs });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Datasets');
    expect(screen.getByRole('link', { name: 'Datasets' }).getAttribute('aria-current')).toBe('page');

    window.location.hash = '#history';
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('History'));
    expect(await screen.findByText('No runs yet: launch one on the Rounds screen.')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'History' }).getAttribute('aria-current')).toBe('page');
    expect(screen.getByRole('link', { name: 'Datasets' }).hasAttribute('aria-current')).toBe(false);
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('main')));
    expect((await screen.findByText(/^v1\.2\.3/)).textContent).toBe('v1.2.3 · served');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it("goes by the part of the hash before '?', which is the screen's own", async () => {
    const { client } = fakeClient();
    jobs = createJobStore(client);
    window.location.hash = '#history?run=3';
    render(App, { client, jobs });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('History');
    expect(screen.getByRole('link', { name: 'History' }).getAttribute('aria-current')).toBe('page');
    window.location.hash = '#rounds?run=2';
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Rounds'));
  });

  it('warns at once when ffmpeg is missing, since imports need it', async () => {
    const { client } = fakeClient({ ...info, ffmpeg: { error: 'ffmpeg not found: set FFMPEG_PATH' } });
    jobs = createJobStore(client);
    render(App, { client, jobs });
    expect((await screen.findByRole('alert')).textContent).toBe('Imports need ffmpeg: ffmpeg not found: set FFMPEG_PATH');
  });

  it('lists running work in the shell whatever the screen', async () => {
    const { client, emit } = fakeClient();
    jobs = createJobStore(client);
    window.location.hash = '#history';
    render(App, { client, jobs });
    expect(screen.queryByRole('region', { name: 'Running tasks' })).toBeNull();
    const job: JobSnapshot = {
      id: 'j', kind: 'import', title: 'Import demo', state: 'running', phase: 'probing videos', done: 2, total: 5,
      etaSeconds: null, startedAt: '', finishedAt: null, result: null, error: null,
    };
    emit(job);
    const tasks = await screen.findByRole('region', { name: 'Running tasks' });
    expect(tasks.textContent).toContain('Import demo');
    expect(screen.getByRole('progressbar', { name: 'Import demo: probing videos 2/5' }).getAttribute('value')).toBe('2');
    // A run shows how far the whole run is, not the phase that starts over each round.
    const run: JobSnapshot = { ...job, id: 'r', kind: 'run', title: 'ISR-DPO run 1', phase: 'round 2: judging', overall: { label: 'round 2 of 3: judging', fraction: 0.45, etaSeconds: 60 } };
    emit(run);
    expect((await screen.findByRole('progressbar', { name: 'ISR-DPO run 1: round 2 of 3: judging, 45%' })).getAttribute('value')).toBe('0.45');
    emit({ ...job, state: 'done', done: 5 });
    emit({ ...run, state: 'done' });
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Running tasks' })).toBeNull());
  });
});
