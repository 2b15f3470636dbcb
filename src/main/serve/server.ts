// `isr-studio serve`: the very same API over HTTP + WebSocket on 127.0.0.1, so the renderer runs in
// a browser (headless GPU servers, end-to-end tests). Every /api/ and /media/ request must carry the
// per-run token (Authorization: Bearer, or ?token= where a header cannot be set: page, img, ws).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CallResult, StudioEvent } from '../../shared/contract';
import { ApiError, toErrorShape } from '../../shared/errors';
import { dispatch } from '../api/dispatch';
import type { Studio } from '../api/studio';
import { contentType, rendererFile } from '../renderer-files';

export interface ServerOptions {
  studio: Studio;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

const maxBodyBytes = 1 << 20;

/** The page may talk only to this server; media comes from it too. */
export const pageCsp =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "media-src 'self'; connect-src 'self' ws://127.0.0.1:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { studio } = options;
  const token = randomBytes(24).toString('base64url');
  const rendererDir = resolve(options.rendererDir);
  const authorized = (req: IncomingMessage, url: URL) => {
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? '');
    const [a, b] = [Buffer.from(given), Buffer.from(token)];
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!addressedLocally(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('the studio answers only to 127.0.0.1 and localhost');
      return;
    }
    handle(req, res, url).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: toErrorShape(err) });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path.startsWith('/api/') || path.startsWith('/media/')) {
      if (!authorized(req, url)) {
        sendJson(res, 401, failure(new ApiError('unauthorized', 'missing or wrong token: use the URL isr-studio serve printed')));
        return;
      }
      if (path.startsWith('/media/')) return serveMedia(req, res, decoded(path.slice('/media/'.length)));
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        sendJson(res, 405, failure(new ApiError('invalid_argument', `${req.method} ${path}: API calls are POST with a JSON body`)));
        return;
      }
      const body = await readJson(req);
      const result = 'error' in body ? failure(body.error) : await dispatch(studio.service, path.slice('/api/'.length), body.value);
      sendJson(res, 200, result);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    serveStatic(res, path);
  }

  async function serveMedia(req: IncomingMessage, res: ServerResponse, key: string | null): Promise<void> {
    const file = key === null ? null : await studio.resolveMedia(key);
    if (!file) {
      sendJson(res, 404, failure(new ApiError('not_found', `no media "${key ?? '(malformed)'}"`)));
      return;
    }
    sendFile(res, file, 'private, max-age=3600', req.headers.range);
  }

  function serveStatic(res: ServerResponse, path: string): void {
    const found = rendererFile(rendererDir, path);
    if (!found.ok) {
      res.writeHead(found.status, { 'Content-Type': 'text/plain' }).end(found.message);
      return;
    }
    const { file } = found;
    if (file.endsWith('.html')) {
      res.setHeader('Content-Security-Policy', pageCsp);
      // The page is first opened with the token in its URL: never pass that URL on.
      res.setHeader('Referrer-Policy', 'no-referrer');
    }
    sendFile(res, file, 'no-cache');
  }

  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!addressedLocally(req) || !openedLocally(req)) return refuseUpgrade(socket, '403 Forbidden');
    if (url.pathname !== '/api/events') return refuseUpgrade(socket, '404 Not Found');
    if (!authorized(req, url)) return refuseUpgrade(socket, '401 Unauthorized');
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  });
  const send = (ws: WebSocket, event: StudioEvent) => ws.send(JSON.stringify(event));
  sockets.on('connection', (ws) => {
    // A page that connects mid-import sees the jobs' current state at once.
    for (const job of studio.jobs.list()) send(ws, { type: 'job', job });
  });
  const stopEvents = studio.jobs.onChange((job) => {
    for (const ws of sockets.clients) send(ws, { type: 'job', job });
  });

  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => ready());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    token,
    port,
    async close() {
      stopEvents();
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

const localNames = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Against DNS rebinding: a request addressed to another name that resolves here is not for us.
 *  Only the name is checked, so an SSH tunnel may use any local port. */
function addressedLocally(req: IncomingMessage): boolean {
  try {
    return localNames.has(new URL(`http://${req.headers.host ?? ''}`).hostname);
  } catch {
    return false;
  }
}

/** Cross-site WebSocket hijacking: a browser's WebSocket always sends Origin, so a page on another
 *  site is refused even if it holds the token. As with Host, only the name is checked (a tunnel may
 *  use any local port). Clients that are not browsers (Node's ws, curl) send no Origin; the token
 *  still stands between them and the events. */
function openedLocally(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && localNames.has(url.hostname);
  } catch {
    // "null", the opaque origin of a sandboxed frame, is no page of ours.
    return false;
  }
}

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** A URL path segment decoded, or null when its percent-encoding is malformed. */
function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function failure(err: unknown): CallResult<never> {
  return { ok: false, error: toErrorShape(err) };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(value));
}

/**
 * A file, whole or (for a `Range: bytes=` request, which a video element seeks with) the one range
 * asked: 206 with Content-Range, or 416 when it lies outside the file. Several ranges in one
 * request are answered with the whole file, as RFC 9110 allows.
 */
function sendFile(res: ServerResponse, file: string, cache: string, range?: string): void {
  const size = statSync(file).size;
  const headers = {
    'Content-Type': contentType(file),
    'Cache-Control': cache,
    'X-Content-Type-Options': 'nosniff',
    'Accept-Ranges': 'bytes',
  };
  const asked = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (asked === null || (asked[1] === '' && asked[2] === '')) {
    res.writeHead(200, { ...headers, 'Content-Length': size });
    createReadStream(file).pipe(res);
    return;
  }
  // "bytes=-N" is the last N bytes; "bytes=N-" runs to the end.
  const [start, end] = asked[1] === '' ? [Math.max(0, size - Number(asked[2])), size - 1] : [Number(asked[1]), asked[2] === '' ? size - 1 : Math.min(Number(asked[2]), size - 1)];
  if (!(start <= end && start < size)) {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
    return;
  }
  res.writeHead(206, { ...headers, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` });
  createReadStream(file, { start, end }).pipe(res);
}

async function readJson(req: IncomingMessage): Promise<{ value: unknown } | { error: ApiError }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) return { error: new ApiError('invalid_argument', `request body over ${maxBodyBytes} bytes`) };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { value: {} };
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: new ApiError('invalid_argument', `request body is not JSON: ${(err as Error).message}`) };
  }
}
