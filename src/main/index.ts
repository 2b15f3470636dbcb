// The Electron entry: one window on the renderer, the studio's API over IPC, the page and media over
// custom protocols, engine work in a utilityProcess. Everything it routes to is plain Node code tested without Electron (src/main/api).
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session } from 'electron';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ipcChannels, mediaScheme } from '../shared/bridge';
import { dispatch } from './api/dispatch';
import { openStudio } from './api/service';
import type { Studio } from './api/studio';
import { contentType } from './renderer-files';
import { utilityProcessEngine } from './utility-process';
import {
  contentSecurityPolicy,
  devServerUrl,
  fileFilters,
  harden,
  isOurRenderer,
  mediaKeyOf,
  rendererFileOf,
  rendererScheme,
  rendererUrl,
} from './window-security';

// Both schemes in one call, which Electron allows only once. The renderer's is standard and secure
// so the page is an origin ('self' in the CSP) in a secure context that may fetch() its own files as
// on the web; stream: a <video> on the media scheme may seek, which it does with range requests.
protocol.registerSchemesAsPrivileged([
  { scheme: rendererScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  { scheme: mediaScheme, privileges: { standard: true, secure: true, stream: true } },
]);

const devServer = devServerUrl(process.env, app.isPackaged);
const rendererDir = join(import.meta.dirname, '../renderer');

function serveRenderer(): void {
  const csp = contentSecurityPolicy();
  protocol.handle(rendererScheme, async (request) => {
    const found = rendererFileOf(request.url, rendererDir);
    if (!found.ok) return new Response(found.message, { status: found.status, headers: { 'Content-Type': 'text/plain' } });
    const headers = { 'Content-Type': contentType(found.file), 'Content-Security-Policy': csp, 'X-Content-Type-Options': 'nosniff' };
    return new Response(await readFile(found.file), { headers });
  });
}

function serveMedia(studio: Studio): void {
  protocol.handle(mediaScheme, async (request) => {
    const key = mediaKeyOf(request.url);
    const file = key === null ? null : await studio.resolveMedia(key);
    if (!file) return new Response('no such media', { status: 404 });
    // net.fetch, not Node's fetch: only Electron's reads file: URLs (with the right content type),
    // and its file loader answers the Range header passed on (a video seeking).
    return net.fetch(pathToFileURL(file).toString(), { headers: request.headers });
  });
}

function routeIpc(studio: Studio, window: BrowserWindow): void {
  const trusted = (frameUrl: string | undefined) => isOurRenderer(frameUrl, devServer);
  ipcMain.handle(ipcChannels.call, (event, method: string, input: unknown) => {
    if (!trusted(event.senderFrame?.url)) throw new Error('studio API called from a frame that is not the studio');
    return dispatch(studio.service, method, input);
  });
  ipcMain.handle(ipcChannels.pickFile, async (event, filters: unknown) => {
    if (!trusted(event.senderFrame?.url)) throw new Error('file dialog requested from a frame that is not the studio');
    const picked = await dialog.showOpenDialog(window, { properties: ['openFile'], filters: fileFilters(filters) });
    return picked.canceled ? null : (picked.filePaths[0] ?? null);
  });
  studio.jobs.onChange((job) => {
    if (!window.isDestroyed()) window.webContents.send(ipcChannels.event, { type: 'job', job });
  });
}

app.whenReady().then(async () => {
  // ISR_STUDIO_DB picks another database (a project's, or a fresh one for end-to-end tests).
  const dbPath = process.env.ISR_STUDIO_DB ?? join(app.getPath('userData'), 'studio.db');
  const studio = openStudio({ dbPath, transport: 'ipc', engine: utilityProcessEngine() });
  harden(session.defaultSession, devServer);
  serveRenderer();
  serveMedia(studio);
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'ISR Studio',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  routeIpc(studio, window);
  let closed = false;
  app.on('before-quit', (event) => {
    if (closed) return;
    // Hold the quit until running jobs have stopped and the database is closed cleanly.
    event.preventDefault();
    void studio.close().finally(() => {
      closed = true;
      app.quit();
    });
  });
  await window.loadURL(devServer ?? rendererUrl);
});

// No navigation away from the renderer and no new windows, whatever a page tries.
app.on('web-contents-created', (_, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (!isOurRenderer(url, devServer)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.on('window-all-closed', () => app.quit());
