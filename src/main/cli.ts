// The `isr-studio` command. Each subcommand lives in src/main/cli/<name>.ts and registers itself
// here; this file only wires them into one program.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { commands } from './cli/index';
import { engineDevices, enginePrecisions, engineSettings, engineSettingVariables } from './engine/engine-settings';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return pkg.version as string;
}

export function buildProgram(): Command {
  const program = new Command('isr-studio')
    .description('ISR Studio: iterative self-retrospective DPO for video language models')
    .version(version())
    .option('--threads <n>', `threads an ONNX Runtime op may use, in every session of the engine (${engineSettingVariables.threads}); 0: ONNX Runtime's choice, one per physical core`)
    .option('--device <device>', `where the engine runs: ${engineDevices.join(', ')} (${engineSettingVariables.device}; cuda needs \`npm run setup:cuda\`, webgpu a GPU driver with Vulkan, Metal or Direct3D 12; both fall back to cpu with one line saying why)`)
    .option('--precision <p>', `the inference graphs' arithmetic: ${enginePrecisions.join(', ')} (${engineSettingVariables.precision}; auto: float16 on an accelerator, with norms, positions and attention in float32; float32 on CPU)`)
    .option('--graph-cache <dir>', `where the graphs ONNX Runtime optimised are kept, so sessions made again skip optimising them (${engineSettingVariables.graphCache}; default ~/.cache/isr-studio/graphs; off: no cache)`)
    .exitOverride();
  // Through the environment, so the engine processes a command starts follow the same setting.
  program.hook('preAction', () => {
    const { threads, device, precision, graphCache } = program.opts<{ threads?: string; device?: string; precision?: string; graphCache?: string }>();
    if (threads !== undefined) process.env[engineSettingVariables.threads] = threads;
    if (device !== undefined) process.env[engineSettingVariables.device] = device;
    if (precision !== undefined) process.env[engineSettingVariables.precision] = precision;
    if (graphCache !== undefined) process.env[engineSettingVariables.graphCache] = graphCache;
    engineSettings();
  });
  for (const register of commands) register(program);
  oneLineUsageErrors(program, 'isr-studio');
  return program;
}

/**
 * Usage errors (commander's own, and those a command raises with `command.error`) in the one-line
 * form of every other error, `isr-studio: <message>`, naming the --help that lists the options
 * rather than printing all of it.
 */
function oneLineUsageErrors(command: Command, path: string): void {
  const help = command.commands.length > 0 ? 'the commands' : 'the options and their defaults';
  command.configureOutput({
    outputError: (str, write) => write(`isr-studio: ${str.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}; \`${path} --help\` lists ${help}\n`),
  });
  for (const sub of command.commands) oneLineUsageErrors(sub, `${path} ${sub.name()}`);
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
