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
  {
    files: ['src/main/engine/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [upper('video', 'store', 'isr', 'api', 'serve', 'cli', 'renderer', 'preload'), layer('^(electron|better-sqlite3)$', 'the engine knows nothing of Electron or the database')],
      }],
    },
  },
  {
    files: ['src/main/video/**', 'src/main/store/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [upper('isr', 'api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'no Electron below the entry points')],
      }],
    },
  },
  {
    files: ['src/main/isr/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [upper('api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'no Electron below the entry points')],
      }],
    },
  },
  {
    files: ['src/main/report/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [upper('api', 'serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'reports are written from figures, below the entry points')],
      }],
    },
  },
  {
    files: ['src/main/api/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [upper('serve', 'cli', 'renderer', 'preload'), layer('^electron$', 'the API is transport-agnostic: no Electron here')],
      }],
    },
  },
  {
    files: ['src/renderer/**', 'src/preload/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [nodeBuiltins, mainFromOutside, layer('^(better-sqlite3|onnxruntime-node)$', 'the renderer talks only to the contract')],
      }],
    },
  },
);
