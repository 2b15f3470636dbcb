// Lint, and the layer rule of docs/DESIGN.md enforced rather than written down: each layer may
// import only the layers above it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import svelteConfig from './svelte.config.js';

const layer = (pattern, message) => ({ regex: pattern, message });
const nodeBuiltins = layer('^node:', 'this layer runs without Node: no node: imports');
const mainFromOutside = layer('(^|/)main(/|$)', 'only the contract in src/shared crosses into main');
const upper = (...names) =>
  layer(`(^|/)(${names.join('|')})(/|$)`, `this layer may not import ${names.join(', ')}`);
const testSupport = layer('(^|/)testing(/|$)', 'test support (a testing/ folder) is for specs and benchmarks, not the product');
/** A layer of src/main: its own files may not import test support; its specs and testing/ folders may. */
const mainLayer = (files, patterns) => [
  { files, rules: { 'no-restricted-imports': ['error', { patterns: [...patterns, testSupport] }] } },
  { files: files.flatMap((f) => [f.replace(/\*\*$/, '**/*.spec.ts'), f.replace(/\*\*$/, '**/testing/**')]), rules: { 'no-restricted-imports': ['error', { patterns }] } },
];

export default tseslint.config(
  { ignores: ['out/', 'dist/', 'node_modules/', 'coverage/', 'test-results/', 'playwright-report/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig },
    },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [nodeBuiltins, mainFromOutside, upper('renderer', 'preload'), layer('^(electron|better-sqlite3|onnxruntime-node)$', 'shared code has no native or Electron imports')],
      }],
    },
  },
  ...mainLayer(['src/main/engine/**'], [upper('video', 'store', 'isr', 'demo', 'api', 'serve', 'cli', 'renderer', 'preload'), layer('^(electron|better-sqlite3)$', 'the engine knows nothing of Electron or the database')]),
  ...mainLayer(['src/main/video/**', 'src/main/store/**'], [upper('isr', 'demo', 'api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'no Electron below the entry points')]),
  ...mainLayer(['src/main/isr/**'], [upper('demo', 'api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'no Electron below the entry points')]),
  ...mainLayer(['src/main/report/**'], [upper('demo', 'api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'reports are written from figures, below the entry points')]),
  // The demo (its data, its warm-started model) sits on the method; the method never imports it.
  ...mainLayer(['src/main/demo/**'], [upper('api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'no Electron below the entry points')]),
  // The engine host runs the method's work in engine processes; the API above it starts them.
  ...mainLayer(['src/main/engine-host/**'], [upper('api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'Electron\'s transport lives beside the Electron entry (src/main/utility-process.ts)')]),
  ...mainLayer(['src/main/cli/**', 'src/main/serve/**'], []),
  ...mainLayer(['src/main/api/**'], [upper('serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'the API is transport-agnostic: no Electron here')]),
  {
    files: ['src/renderer/**', 'src/preload/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [nodeBuiltins, mainFromOutside, layer('^(better-sqlite3|onnxruntime-node)$', 'the renderer talks only to the contract')],
      }],
    },
  },
);
