import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, fileFilters, isOurRenderer, mediaKeyOf } from './window-security';

describe('Electron window security', () => {
  const file = '/opt/isr-studio/out/renderer/index.html';

  it('trusts only the packaged renderer file, or only the dev server origin in dev', () => {
    expect(isOurRenderer(`file://${file}`, undefined, file)).toBe(true);
    expect(isOurRenderer(`file://${file}#datasets`, undefined, file)).toBe(true);
    expect(isOurRenderer('file:///etc/passwd', undefined, file)).toBe(false);
    expect(isOurRenderer('https://example.com/', undefined, file)).toBe(false);
    expect(isOurRenderer('http://localhost:5173/#review', 'http://localhost:5173', file)).toBe(true);
    expect(isOurRenderer('http://localhost:5174/', 'http://localhost:5173', file)).toBe(false);
    expect(isOurRenderer(`file://${file}`, 'http://localhost:5173', file)).toBe(false);
    expect(isOurRenderer(undefined, undefined, file)).toBe(false);
    expect(isOurRenderer('not a url', undefined, file)).toBe(false);
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
