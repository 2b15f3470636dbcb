import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { resolveFfmpeg, type FfmpegPackage } from './ffmpeg';

/** An executable file standing in for an ffmpeg binary. */
function fakeBinary(name = 'ffmpeg'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'isr-path-')), name);
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

const none: FfmpegPackage[] = [];

describe('resolveFfmpeg', () => {
  // FFMPEG_PATH, the packages in order, PATH.
  it('takes FFMPEG_PATH first', async () => {
    const set = fakeBinary();
    const packaged: FfmpegPackage[] = [{ source: 'ffmpeg-static', locate: async () => fakeBinary() }];
    expect(await resolveFfmpeg({ FFMPEG_PATH: set, PATH: process.env.PATH }, packaged)).toEqual({ path: set, source: 'FFMPEG_PATH' });
  });

  it('takes the first package that has a binary, before PATH', async () => {
    const installer = fakeBinary();
    const packaged: FfmpegPackage[] = [
      // ffmpeg-static whose download failed: the package is there, its binary is not.
      { source: 'ffmpeg-static', locate: async () => '/no/such/ffmpeg' },
      { source: '@ffmpeg-installer/ffmpeg', locate: async () => installer },
    ];
    expect(await resolveFfmpeg({ PATH: process.env.PATH }, packaged)).toEqual({ path: installer, source: '@ffmpeg-installer/ffmpeg' });
  });

  it('finds ffmpeg on PATH when no package has one', async () => {
    const fake = fakeBinary();
    expect(await resolveFfmpeg({ PATH: `/nonexistent:${join(fake, '..')}` }, [{ source: 'ffmpeg-static', locate: async () => null }])).toEqual({ path: fake, source: 'PATH' });
  });

  it('finds the binary @ffmpeg-installer/ffmpeg installs for this platform', async () => {
    const found = await resolveFfmpeg({ PATH: '' });
    expect(found.source).toBe('@ffmpeg-installer/ffmpeg');
    expect(found.path).toMatch(/node_modules\/@ffmpeg-installer\/[a-z0-9-]+\/ffmpeg(\.exe)?$/);
  });

  it('names every place it looked when there is no ffmpeg', async () => {
    const err = await resolveFfmpeg({ PATH: '/nonexistent' }, [{ source: 'ffmpeg-static', locate: async () => null }, { source: '@ffmpeg-installer/ffmpeg', locate: async () => null }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('ffmpeg_missing');
    expect((err as ApiError).message).toMatch(/FFMPEG_PATH.*ffmpeg-static or @ffmpeg-installer\/ffmpeg.*PATH/);
  });

  it('reports a FFMPEG_PATH that points at nothing instead of quietly using another ffmpeg', async () => {
    const err = await resolveFfmpeg({ FFMPEG_PATH: '/no/such/ffmpeg', PATH: process.env.PATH }, none).catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('ffmpeg_missing');
    expect((err as ApiError).message).toContain('/no/such/ffmpeg');
  });
});
