// electron-vite: main (ESM, dependencies external), preload (one sandboxed CJS file), renderer (Svelte).
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';
import { cpSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';

/** The store reads its numbered .sql migrations from beside its module; in the bundle that is out/main. */
function copyMigrations(): Plugin {
  return {
    name: 'isr-copy-migrations',
    writeBundle(options) {
      cpSync(resolve('src/main/store/migrations'), resolve(options.dir ?? 'out/main', 'migrations'), { recursive: true });
    },
  };
}

export default defineConfig({
  main: {
    plugins: [copyMigrations()],
    build: { rollupOptions: { input: { index: resolve('src/main/index.ts') } } },
  },
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    plugins: [svelte({ configFile: resolve('svelte.config.js') })],
    build: { rollupOptions: { input: { index: resolve('src/renderer/index.html') } } },
  },
});
