// The Electron window's security rules, as plain functions so Node tests check them without Electron.
import type { FileFilter, Session } from 'electron';
import { z } from 'zod';
import { mediaScheme } from '../shared/bridge';
import { rendererFile, type RendererLookup } from './renderer-files';

/** The built renderer is served on a standard, secure scheme of its own rather than file://: the
 *  page is an origin that holds only the renderer's files, and the packaged app can turn off the
 *  grantFileProtocolExtraPrivileges fuse (file:// pages reading other local files). */
export const rendererScheme = 'studio-app';
const rendererHost = 'studio';
export const rendererUrl = `${rendererScheme}://${rendererHost}/index.html`;

/** electron-vite's dev server (ELECTRON_RENDERER_URL), honoured only in an unpackaged app (`npm start`):
 *  an installed studio loads its own files whatever its environment says. */
export function devServerUrl(env: NodeJS.ProcessEnv, packaged: boolean): string | undefined {
  return packaged ? undefined : env.ELECTRON_RENDERER_URL || undefined;
}

/** Scripts and styles from the app only; images and video also from the media protocol; no remote
 *  content. The dev server needs ws: for hot reload and inline styles for Svelte's dev mode. */
export function contentSecurityPolicy(devServer?: string): string {
  const connect = devServer ? `'self' ${new URL(devServer).origin.replace(/^http/, 'ws')}` : "'self'";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: ${mediaScheme}:`,
    `media-src 'self' ${mediaScheme}:`,
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** Whether a frame or navigation URL is the studio's own renderer (the dev server, or the renderer scheme). */
export function isOurRenderer(url: string | undefined, devServer: string | undefined): boolean {
  if (!url) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (devServer) return parsed.origin === new URL(devServer).origin;
  return parsed.protocol === `${rendererScheme}:` && parsed.host === rendererHost;
}

/** The file of the built renderer that a request on the renderer scheme names, or why it is refused. */
export function rendererFileOf(url: string, rendererDir: string): RendererLookup {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, status: 400, message: 'malformed URL' };
  }
  if (parsed.protocol !== `${rendererScheme}:` || parsed.host !== rendererHost) return { ok: false, status: 404, message: 'not a studio page' };
  return rendererFile(rendererDir, parsed.pathname);
}

/** CSP on every response (the renderer scheme's handler sets it too, so the packaged page never
 *  depends on webRequest seeing a custom scheme), and every permission request denied. */
export function harden(session: Session, devServer: string | undefined): void {
  const csp = contentSecurityPolicy(devServer);
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
  });
  session.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** The media key in a `studio-media://media/<key>` URL (what the preload's mediaUrl makes), or null. */
export function mediaKeyOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== `${mediaScheme}:` || parsed.host !== 'media') return null;
    return decodeURIComponent(parsed.pathname.slice(1));
  } catch {
    return null;
  }
}

const fileFilterList = z
  .array(z.object({ name: z.string().max(100), extensions: z.array(z.string().regex(/^(\*|[A-Za-z0-9]{1,16})$/)).max(20) }).strict())
  .max(10);

/** The dialog filters the renderer asked for, checked like every other input from it. */
export function fileFilters(input: unknown): FileFilter[] {
  const parsed = fileFilterList.safeParse(input);
  if (!parsed.success) throw new Error(`file dialog filters: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
