import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

interface PackagingConfig {
  files: string[];
  asar: boolean;
  electronFuses: Record<string, boolean>;
}

const config = createRequire(import.meta.url)('../../electron-builder.config.cjs') as PackagingConfig;

describe('packaging (electron-builder.config.cjs)', () => {
  it('flips every fuse docs/security.md names, each the safe way', () => {
    // Each fuse spelled out: one left unset keeps Electron's default, which for most is the unsafe one.
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('ships the built app in an asar, and nothing of the source tree', () => {
    // onlyLoadAppFromAsar and the integrity check mean nothing without the archive.
    expect(config.asar).toBe(true);
    expect(config.files.length).toBeGreaterThan(0);
    for (const pattern of config.files) expect(pattern, pattern).toMatch(/^(out\/|!)/);
  });
});
