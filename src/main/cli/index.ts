// Every subcommand, in the order `--help` lists them.
import type { Command } from 'commander';
import { registerDemoData } from './demo-data';
import { registerFixture } from './fixture';
import { registerImport } from './import';
import { registerServe } from './serve';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerDemoData, registerImport, registerServe, registerFixture];
