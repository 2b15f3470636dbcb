// `isr-studio serve`: the app in a browser, for headless GPU servers; 127.0.0.1 only, token-guarded.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStudio } from '../api/service';
import { childProcessEngine } from '../engine-host/child-process';
import { startServer } from '../serve/server';
import { integer } from './options';

/** Where `npm run build` puts the renderer. */
const builtRenderer = fileURLToPath(new URL('../../../out/renderer', import.meta.url));

export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('serve the studio to a browser on 127.0.0.1')
    .description(
      'serve the studio (the built renderer and its API) on 127.0.0.1 only; prints a URL carrying a ' +
        'random token that every API request must present. Reach it from elsewhere through an SSH tunnel.',
    )
    .requiredOption('--db <file>', 'studio database (created if missing)')
    .option('--port <n>', 'port (0 picks a free one)', integer(0, 65535), 0)
    .action(async (opts: { db: string; port: number }) => {
      const studio = openStudio({ dbPath: opts.db, transport: 'http', engine: childProcessEngine() });
      const server = await startServer({ studio, port: opts.port, rendererDir: builtRenderer }).catch(async (err: unknown) => {
        await studio.close();
        throw err;
      });
      process.stdout.write(`ISR Studio serving at ${server.url}\n`);
      if (!existsSync(join(builtRenderer, 'index.html'))) {
        process.stderr.write(`The page is not built yet (no ${builtRenderer}): run \`npm run build\`; the API works meanwhile.\n`);
      }
      await new Promise<void>((stop) => {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      await studio.close();
    });
}
