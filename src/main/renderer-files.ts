// The built renderer's files, for both places that serve them: `serve` over HTTP and the Electron
// window's own protocol. One rule for both: a URL path names a regular file inside the folder,
// reached without following a symlink; anything else is refused, never looked up elsewhere.
import { lstatSync, realpathSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';

export type RendererLookup = { ok: true; file: string } | { ok: false; status: 400 | 403 | 404; message: string };

/** The file of `rendererDir` that the URL path `urlPath` (still percent-encoded) names. A path
 *  without an extension is a screen of the single-page app, so it is index.html. */
export function rendererFile(rendererDir: string, urlPath: string): RendererLookup {
  let raw: string;
  try {
    raw = decodeURIComponent(urlPath);
  } catch {
    return { ok: false, status: 400, message: 'malformed percent-encoding' };
  }
  if (raw.includes('\0')) return { ok: false, status: 400, message: 'NUL in the path' };
  const notBuilt = { ok: false, status: 404, message: `renderer not built: run npm run build (looked in ${rendererDir})` } as const;
  let root: string;
  try {
    // The folder itself may be reached through a link (an install path, macOS's /tmp); only what lies below it may not.
    root = realpathSync(rendererDir);
  } catch {
    return notBuilt;
  }
  // normalize() folds "..", and the prefix check refuses whatever still points outside.
  let file = join(root, normalize(raw).replace(/^[/\\]+|[/\\]+$/g, ''));
  if (file !== root && !file.startsWith(root + sep)) return { ok: false, status: 403, message: 'the path leaves the renderer folder' };
  if (!extname(file) || file === root) file = join(root, 'index.html');
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return file === join(root, 'index.html') ? notBuilt : { ok: false, status: 404, message: 'not found' };
  }
  // Below a resolved root, the real path differs from the joined one exactly when a file or folder on
  // the way is a symlink: a link planted in the folder must not serve its target.
  if (real !== file) return { ok: false, status: 403, message: 'symbolic links are not served' };
  if (!lstatSync(file).isFile()) return { ok: false, status: 404, message: 'not found' };
  return { ok: true, file };
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.avi': 'video/x-msvideo',
};

/** The Content-Type a file is served with, by its extension; module scripts are refused without the right one. */
export function contentType(file: string): string {
  return contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream';
}
