import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, devServerUrl, fileFilters, isOurRenderer, mediaKeyOf, rendererFileOf, rendererUrl } from './window-security';

describe('Electron window security', () => {
  it('loads the renderer from the dev server only in an unpackaged app', () => {
    const env = { ELECTRON_RENDERER_URL: 'http://localhost:5173' };
    expect(devServerUrl(env, false)).toBe('http://localhost:5173');
    expect(devServerUrl(env, true)).toBeUndefined();
    expect(devServerUrl({}, false)).toBeUndefined();
    expect(devServerUrl({ ELECTRON_RENDERER_URL: '' }, false)).toBeUndefined();
  });

  it('trusts only the renderer scheme, or only the dev server origin in dev', () => {
    expect(rendererUrl).toBe('studio-app://studio/index.html');
    expect(isOurRenderer(rendererUrl, undefined)).toBe(true);
    expect(isOurRenderer('studio-app://studio/index.html#datasets', undefined)).toBe(true);
    expect(isOurRenderer('studio-app://other/index.html', undefined)).toBe(false);
    expect(isOurRenderer('studio-app://studio:8080/index.html', undefined)).toBe(false);
    // file:// is no longer the renderer, not even the built index.html.
    expect(isOurRenderer('file:///opt/isr-studio/out/renderer/index.html', undefined)).toBe(false);
    expect(isOurRenderer('file:///etc/passwd', undefined)).toBe(false);
    expect(isOurRenderer('studio-media://media/thumb%2F1', undefined)).toBe(false);
    expect(isOurRenderer('https://example.com/', undefined)).toBe(false);
    expect(isOurRenderer('http://localhost:5173/#review', 'http://localhost:5173')).toBe(true);
    expect(isOurRenderer('http://localhost:5174/', 'http://localhost:5173')).toBe(false);
    expect(isOurRenderer(rendererUrl, 'http://localhost:5173')).toBe(false);
    expect(isOurRenderer(undefined, undefined)).toBe(false);
    expect(isOurRenderer('not a url', undefined)).toBe(false);
  });

  it('serves the renderer scheme from the built folder only, refusing traversal and symlinks', () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'isr-window-')));
    const renderer = join(dir, 'renderer');
    mkdirSync(join(renderer, 'assets'), { recursive: true });
    writeFileSync(join(renderer, 'index.html'), '');
    writeFileSync(join(renderer, 'assets', 'index.js'), '');
    writeFileSync(join(dir, 'secret.txt'), '');
    symlinkSync(join(dir, 'secret.txt'), join(renderer, 'assets', 'leak.js'));
    expect(rendererFileOf(rendererUrl, renderer)).toEqual({ ok: true, file: join(renderer, 'index.html') });
    expect(rendererFileOf('studio-app://studio/assets/index.js?v=1', renderer)).toEqual({ ok: true, file: join(renderer, 'assets', 'index.js') });
    expect(rendererFileOf('studio-app://studio/review', renderer)).toEqual({ ok: true, file: join(renderer, 'index.html') });
    expect(rendererFileOf('studio-app://studio/assets/leak.js', renderer)).toMatchObject({ ok: false, status: 403 });
    expect(rendererFileOf('studio-app://studio/%2e%2e/secret.txt', renderer)).toMatchObject({ ok: false, status: 404 });
    expect(rendererFileOf('studio-app://studio/..%2fsecret.txt', renderer)).toMatchObject({ ok: false, status: 404 });
    expect(rendererFileOf('studio-app://other/index.html', renderer)).toMatchObject({ ok: false, status: 404 });
    expect(rendererFileOf('file:///etc/passwd', renderer)).toMatchObject({ ok: false, status: 404 });
    expect(rendererFileOf('not a url', renderer)).toMatchObject({ ok: false, status: 400 });
  });

  it('allows no remote content and widens only images and media for the media protocol', () => {
    const csp = contentSecurityPolicy();
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toMatch(/img-src 'self' data: studio-media:;/);
    expect(csp).toMatch(/media-src 'self' studio-media:;/);
    expect(csp).not.toMatch(/https?:|\*/);
    expect(contentSecurityPolicy('http://localhost:5173')).toContain("connect-src 'self' ws://localhost:5173");
  });

  it('reads a media key only from the studio-media protocol the preload builds URLs for', () => {
    expect(mediaKeyOf(`studio-media://media/${encodeURIComponent('thumb/12')}`)).toBe('thumb/12');
    expect(mediaKeyOf('studio-media://media/thumb/12')).toBe('thumb/12');
    expect(mediaKeyOf('studio-media://other/thumb%2F12')).toBeNull();
    expect(mediaKeyOf('file:///media/thumb%2F12')).toBeNull();
    expect(mediaKeyOf('studio-media://media/%E0%A4%A')).toBeNull();
  });

  it('accepts file dialog filters only in the shape Electron expects', () => {
    const datasets = [{ name: 'Datasets', extensions: ['jsonl', 'json'] }];
    expect(fileFilters(datasets)).toEqual(datasets);
    expect(fileFilters([])).toEqual([]);
    expect(() => fileFilters([{ name: 'x', extensions: ['../../etc'] }])).toThrow(/0\.extensions\.0/);
    expect(() => fileFilters([{ name: 'x', extensions: [], defaultPath: '/' }])).toThrow(/file dialog filters/);
    expect(() => fileFilters('jsonl')).toThrow(/\(input\)/);
  });
});
