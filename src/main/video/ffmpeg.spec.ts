import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { resolveFfmpeg } from './ffmpeg';

describe('resolveFfmpeg', () => {
  it('takes FFMPEG_PATH first', async () => {
    const onPath = await resolveFfmpeg({ PATH: process.env.PATH });
    const found = await resolveFfmpeg({ FFMPEG_PATH: onPath.path, PATH: '' });
    expect(found).toEqual({ path: onPath.path, source: 'FFMPEG_PATH' });
  });

  it('finds ffmpeg on PATH when nothing else is set (ffmpeg-static is not installed here)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-path-'));
    const fake = join(dir, 'ffmpeg');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    expect(await resolveFfmpeg({ PATH: `/nonexistent:${dir}` })).toEqual({ path: fake, source: 'PATH' });
  });

  it('names all three places when there is no ffmpeg', async () => {
    const err = await resolveFfmpeg({ PATH: '/nonexistent' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('ffmpeg_missing');
    expect((err as ApiError).message).toMatch(/FFMPEG_PATH.*ffmpeg-static.*PATH/);
  });

  it('reports a FFMPEG_PATH that points at nothing instead of quietly using another ffmpeg', async () => {
    const err = await resolveFfmpeg({ FFMPEG_PATH: '/no/such/ffmpeg', PATH: process.env.PATH }).catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('ffmpeg_missing');
    expect((err as ApiError).message).toContain('/no/such/ffmpeg');
  });
});
