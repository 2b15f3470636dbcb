#!/usr/bin/env node
// The `isr-studio` command: runs the TypeScript CLI through tsx, so no build step stands between
// `npm install` and using it.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main/cli.ts');
process.exitCode = await main(process.argv.slice(2));
