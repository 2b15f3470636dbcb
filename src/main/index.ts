// The Electron entry: one window on the renderer, the studio's API over IPC, media over a custom
// protocol, engine work in a utilityProcess. Everything it routes to is plain Node code tested without Electron (src/main/api).
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session } from 'electron';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ipcChannels, mediaScheme } from '../shared/bridge';
import { dispatch } from './api/dispatch';
import { openStudio } from './api/service';
import type { Studio } from './api/studio';
import { utilityProcessEngine } from './utility-process';
import { fileFilters, harden, isOurRenderer, mediaKeyOf } from './window-security';

// stream: a <video> on the scheme may seek, which it does with range requests.
protocol.registerSchemesAsPrivileged([{ scheme: mediaScheme, privileges: { standard: true, secure: true, stream: true } }]);

const devServer = process.env.ELECTRON_RENDERER_URL;
const rendererFile = join(import.meta.dirname, '../renderer/index.html');

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
  const trusted = (frameUrl: string | undefined) => isOurRenderer(frameUrl, devServer, rendererFile);
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
  if (devServer) await window.loadURL(devServer);
  else await window.loadFile(rendererFile);
});

// No navigation away from the renderer and no new windows, whatever a page tries.
app.on('web-contents-created', (_, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (!isOurRenderer(url, devServer, rendererFile)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.on('window-all-closed', () => app.quit());
