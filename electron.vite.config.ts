// electron-vite: main (ESM, dependencies external), preload (one sandboxed CJS file), renderer (Svelte).
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';
import { cpSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';

/** Files main reads at run time from beside its module, which in the bundle is out/main: the store's
 *  numbered .sql migrations and the round's prompt templates. */
function copyRuntimeFiles(): Plugin {
  return {
    name: 'isr-copy-runtime-files',
    writeBundle(options) {
      const out = options.dir ?? 'out/main';
      cpSync(resolve('src/main/store/migrations'), resolve(out, 'migrations'), { recursive: true });
      cpSync(resolve('resources/prompts'), resolve(out, 'prompts'), { recursive: true });
    },
  };
}

export default defineConfig({
  main: {
    plugins: [copyRuntimeFiles()],
    build: {
      rollupOptions: {
        // The engine's utilityProcess entry beside the app's; shared chunks stay in out/main too,
        // where the modules that read files beside themselves (migrations, prompts) find them.
        input: { index: resolve('src/main/index.ts'), 'engine-process': resolve('src/main/engine-host/engine-process.ts') },
        output: { chunkFileNames: '[name]-[hash].js' },
      },
    },
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
