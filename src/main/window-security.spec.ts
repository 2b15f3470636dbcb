import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, isOurRenderer } from './window-security';

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
});
