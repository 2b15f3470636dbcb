import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { contentType, rendererFile } from './renderer-files';

let dir: string;
let renderer: string;

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'isr-renderer-files-')));
  renderer = join(dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html>');
  writeFileSync(join(renderer, 'assets', 'app.js'), '');
  mkdirSync(join(renderer, 'assets', 'fonts.woff2'));
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(dir, 'elsewhere', 'app.js'), '');
  writeFileSync(join(dir, 'secret.txt'), '');
  symlinkSync(join(dir, 'secret.txt'), join(renderer, 'assets', 'leak.js'));
  symlinkSync(join(dir, 'elsewhere'), join(renderer, 'linked'));
  // Even a link that stays inside the folder is refused: the rule is "no links", not "no links out".
  symlinkSync(join(renderer, 'assets', 'app.js'), join(renderer, 'alias.js'));
  symlinkSync(renderer, join(dir, 'installed'));
});

describe('rendererFile', () => {
  it('names the files of the folder, and index.html for a screen of the app', () => {
    expect(rendererFile(renderer, '/assets/app.js')).toEqual({ ok: true, file: join(renderer, 'assets', 'app.js') });
    for (const path of ['/', '', '/datasets', '/review/12/', '/%61ssets/']) {
      expect(rendererFile(renderer, path), path).toEqual({ ok: true, file: join(renderer, 'index.html') });
    }
    expect(rendererFile(renderer, '/assets/%61pp.js')).toMatchObject({ ok: true });
  });

  it('refuses paths that leave the folder or cannot be read as a path', () => {
    // A rooted path's ".." stops at the folder (so "/../secret.txt" is the folder's own, missing,
    // secret.txt); an unrooted one would climb out, and is refused.
    const cases: [string, number][] = [
      ['/../secret.txt', 404],
      ['/%2e%2e/secret.txt', 404],
      ['/assets/%2e%2e/%2e%2e/secret.txt', 404],
      ['/..%2fsecret.txt', 404],
      ['../secret.txt', 403],
      ['assets/%2e%2e/%2e%2e/secret.txt', 403],
      ['/%E0%A4%A', 400],
      ['/x%00.js', 400],
      ['/missing.js', 404],
      ['/assets/fonts.woff2', 404],
    ];
    for (const [path, status] of cases) expect(rendererFile(renderer, path), path).toMatchObject({ ok: false, status });
  });

  it('follows no symlink inside the folder, to a file or through a folder, out of it or not', () => {
    for (const path of ['/assets/leak.js', '/linked/app.js', '/alias.js']) {
      expect(rendererFile(renderer, path), path).toEqual({ ok: false, status: 403, message: 'symbolic links are not served' });
    }
  });

  it('accepts a folder that is itself reached through a link, and says when it is not built', () => {
    expect(rendererFile(join(dir, 'installed'), '/assets/app.js')).toEqual({ ok: true, file: join(renderer, 'assets', 'app.js') });
    expect(rendererFile(join(dir, 'nowhere'), '/')).toMatchObject({ ok: false, status: 404, message: /renderer not built.*nowhere/ });
    expect(rendererFile(join(dir, 'elsewhere'), '/')).toMatchObject({ ok: false, status: 404, message: /renderer not built/ });
  });

  it('gives module scripts, styles and pages their content types', () => {
    expect(contentType('/r/assets/index-abc.js')).toBe('text/javascript; charset=utf-8');
    expect(contentType('/r/index.HTML')).toBe('text/html; charset=utf-8');
    expect(contentType('/r/assets/a.css')).toBe('text/css; charset=utf-8');
    expect(contentType('/r/unknown.bin')).toBe('application/octet-stream');
  });
});
