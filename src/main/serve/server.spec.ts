import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { StudioEvent } from '../../shared/contract';
import type { DatasetRowsPage, ImportResult } from '../../shared/types';
import { childProcessEngine } from '../engine-host/child-process';
import { openStudio } from '../api/service';
import type { Studio } from '../api/studio';
import { resolveFfmpeg } from '../video/ffmpeg';
import { flatClip } from '../video/testing/clips';
import { startServer, type RunningServer } from './server';

let dir: string;
let studio: Studio;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-serve-'));
  const rendererDir = join(dir, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>studio</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the renderer');
  // Links planted in the renderer folder: to a file outside it, and a whole folder outside it.
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(dir, 'elsewhere', 'app.js'), 'outside the renderer');
  symlinkSync(join(dir, 'secret.txt'), join(rendererDir, 'assets', 'leak.js'));
  symlinkSync(join(dir, 'elsewhere'), join(rendererDir, 'linked'));
  await flatClip((await resolveFfmpeg()).path, join(dir, 'a.mp4'), Array(4).fill([20, 200, 20]));
  writeFileSync(
    join(dir, 'data.jsonl'),
    [{ id: 1, video: 'a.mp4', question: 'What colour?', answer: 'green' }, { id: 2, video: 'nope.mp4', question: 'q' }]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  studio = openStudio({ dbPath: join(dir, 'studio.db'), transport: 'http', engine: childProcessEngine() });
  server = await startServer({ studio, rendererDir, port: 0 });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.close();
  await studio.close();
});

const api = (method: string, body: unknown, token: string | null = server.token) =>
  fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token === null ? {} : { Authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });

describe('isr-studio serve', () => {
  it('listens on 127.0.0.1 and prints a URL carrying its token', () => {
    expect(server.url).toBe(`${base}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('answers 401 to API calls without the token or with a wrong one', async () => {
    for (const token of [null, 'wrong', `${server.token}x`]) {
      const res = await api('listDatasets', {}, token);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    }
    expect((await fetch(`${base}/media/thumb/1`)).status).toBe(401);
  });

  it('answers a call with the token, and a badly typed one with invalid_argument naming the field', async () => {
    const ok = await api('listDatasets', {});
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, value: [] });
    const bad = await (await api('getDatasetRows', { datasetId: 'one' })).json();
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_argument', details: [{ field: 'datasetId' }] } });
    const notJson = await fetch(`${base}/api/listDatasets?token=${server.token}`, { method: 'POST', body: '{oops' });
    expect(await notJson.json()).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: /not JSON/ } });
    expect(await (await api('dropTables', {})).json()).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const get = await fetch(`${base}/api/listDatasets?token=${server.token}`);
    expect(get.status).toBe(405);
    expect(await get.json()).toMatchObject({ ok: false, error: { code: 'invalid_argument' } });
  });

  it('serves the renderer with a CSP, and nothing outside its folder', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('<title>studio</title>');
    expect(await (await fetch(`${base}/assets/app.js`)).text()).toBe('console.log(1)');
    for (const path of ['/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%E0%A4%A', '/x%00.js']) {
      const res = await fetch(`${base}${path}`);
      // Refused as a client error, not a crash of the handler (500).
      expect([400, 403, 404], path).toContain(res.status);
      expect(await res.text()).not.toContain('outside the renderer');
    }
    // fetch() normalises dot segments itself; a raw request sends them as they are.
    const raw = await new Promise<{ status?: number; body: string }>((resolve) =>
      get({ host: '127.0.0.1', port: server.port, path: '/../secret.txt' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }),
    );
    expect(raw.status).toBeGreaterThanOrEqual(400);
    expect(raw.body).not.toContain('outside the renderer');
  });

  it('serves no symlink planted in the renderer folder, whether the file or a folder above it', async () => {
    for (const path of ['/assets/leak.js', '/linked/app.js']) {
      const res = await fetch(`${base}${path}`);
      expect([403, 404], path).toContain(res.status);
      expect(await res.text(), path).not.toContain('outside the renderer');
    }
  });

  it('answers only requests addressed to 127.0.0.1 or localhost (DNS rebinding)', async () => {
    const status = (host: string) =>
      new Promise<number | undefined>((resolve) =>
        get({ host: '127.0.0.1', port: server.port, path: '/', headers: { Host: host } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }),
      );
    expect(await status(`127.0.0.1:${server.port}`)).toBe(200);
    expect(await status('localhost:9000')).toBe(200);
    expect(await status(`attacker.example:${server.port}`)).toBe(403);
    expect(await status(`127.0.0.1.attacker.example:${server.port}`)).toBe(403);
  });

  it('opens the events WebSocket to the studio\'s own page or a client that sends no Origin, never to another site', async () => {
    const status = (origin: string | undefined, token = server.token) =>
      new Promise<number | undefined>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events?token=${token}`, origin === undefined ? {} : { origin });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => {
          res.resume();
          resolve(res.statusCode);
        });
        ws.on('error', reject);
      });
    expect(await status(undefined)).toBe(101);
    expect(await status(base)).toBe(101);
    // Through an SSH tunnel the page is on another local port.
    expect(await status('http://localhost:8080')).toBe(101);
    expect(await status('http://[::1]:8080')).toBe(101);
    for (const origin of ['https://attacker.example', `http://127.0.0.1.attacker.example:${server.port}`, 'null', 'file://']) {
      expect(await status(origin), origin).toBe(403);
    }
    expect(await status(base, 'wrong')).toBe(401);
  });

  it('pushes job events over the WebSocket and serves the thumbnails the import made', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events?token=wrong`);
        ws.on('open', () => reject(new Error('opened without the token')));
        ws.on('error', resolve);
      }),
    ).resolves.toBeInstanceOf(Error);

    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events?token=${server.token}`);
    await new Promise((resolve) => ws.on('open', resolve));
    const events: StudioEvent[] = [];
    const done = new Promise<StudioEvent>((resolve) =>
      ws.on('message', (data) => {
        const event = JSON.parse(String(data)) as StudioEvent;
        events.push(event);
        if (event.job.state !== 'running') resolve(event);
      }),
    );
    const started = await (await api('importDataset', { path: join(dir, 'data.jsonl'), name: 'd' })).json();
    const final = await done;
    ws.close();
    expect(final.job).toMatchObject({ id: started.value.jobId, state: 'done', kind: 'import' });
    expect(events.length).toBeGreaterThan(1);
    const result = final.job.result as ImportResult;
    expect(result).toMatchObject({ imported: 1, failed: 1 });

    const page = (await (await api('getDatasetRows', { datasetId: result.datasetId })).json()).value as DatasetRowsPage;
    const thumb = await fetch(`${base}/media/${page.rows[0].video.thumbnail}?token=${server.token}`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect([...new Uint8Array(await thumb.arrayBuffer()).subarray(0, 2)]).toEqual([0xff, 0xd8]);
    for (const key of ['thumb/999', '%E0%A4%A', 'thumb%2F0']) {
      expect((await fetch(`${base}/media/${key}?token=${server.token}`)).status, key).toBe(404);
    }
    expect((await fetch(`${base}/media/${encodeURIComponent(join(dir, 'secret.txt'))}?token=${server.token}`)).status).toBe(404);
  });

  it('serves a dataset\'s video whole or by the byte range a video element asks for', async () => {
    const { value } = (await (await api('listDatasets', {})).json()) as { value: { id: number }[] };
    const page = (await (await api('getDatasetRows', { datasetId: value[0].id })).json()).value as DatasetRowsPage;
    const url = `${base}/media/video/${page.rows[0].video.id}?token=${server.token}`;
    const bytes = new Uint8Array(readFileSync(join(dir, 'a.mp4')));
    const whole = await fetch(url);
    expect([whole.status, whole.headers.get('content-type'), whole.headers.get('accept-ranges')]).toEqual([200, 'video/mp4', 'bytes']);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(url, { headers: { Range: 'bytes=10-19' } });
    expect([part.status, part.headers.get('content-range')]).toEqual([206, `bytes 10-19/${bytes.length}`]);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(10, 20));
    const tail = await fetch(url, { headers: { Range: 'bytes=-5' } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 5));
    const open = await fetch(url, { headers: { Range: `bytes=${bytes.length - 3}-` } });
    expect([open.status, (await open.arrayBuffer()).byteLength]).toEqual([206, 3]);
    const outside = await fetch(url, { headers: { Range: `bytes=${bytes.length}-` } });
    expect([outside.status, outside.headers.get('content-range')]).toEqual([416, `bytes */${bytes.length}`]);
    expect((await fetch(`${base}/media/video/999?token=${server.token}`)).status).toBe(404);
  });
});
