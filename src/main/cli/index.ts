// Every subcommand, in the order `--help` lists them.
import type { Command } from 'commander';
import { registerDemoData } from './demo-data';
import { registerImport } from './import';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerDemoData, registerImport];
