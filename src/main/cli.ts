// The `isr-studio` command. Each subcommand lives in src/main/cli/<name>.ts and registers itself
// here; this file only wires them into one program.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { commands } from './cli/index';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return pkg.version as string;
}

export function buildProgram(): Command {
  const program = new Command('isr-studio')
    .description('ISR Studio: iterative self-retrospective DPO for video language models')
    .version(version())
    .exitOverride()
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI and returns its exit code; errors print one clear line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`isr-studio: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
