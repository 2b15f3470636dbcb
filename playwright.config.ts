// End to end: the real renderer against the real `isr-studio serve`, in the system Chromium
// (Playwright's own browser download is never used). e2e/studio.spec.ts also drives the Electron
// app where an Electron binary exists.
import { defineConfig } from '@playwright/test';
import { chromiumPath } from './e2e/chromium';

export default defineConfig({
  testDir: 'e2e',
  globalSetup: './e2e/chromium.ts',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  reporter: process.env.CI ? 'line' : 'list',
  use: {
    launchOptions: {
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
    trace: 'retain-on-failure',
  },
});
