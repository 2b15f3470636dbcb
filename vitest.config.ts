import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const shared = { testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // Two cores on CI, and native ONNX Runtime and ffmpeg bring threads of their own.
    maxWorkers: 2,
    globalSetup: ['test/scratch-dir.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'node',
          include: ['src/main/**/*.spec.ts', 'src/shared/**/*.spec.ts', 'test/**/*.spec.ts'],
          environment: 'node',
        },
      },
      {
        plugins: [svelte()],
        // Svelte's client runtime (mount, effects) is what the renderer runs.
        resolve: { conditions: ['browser'] },
        test: {
          ...shared,
          name: 'renderer',
          include: ['src/renderer/**/*.spec.ts'],
          environment: 'jsdom',
        },
      },
    ],
  },
});
