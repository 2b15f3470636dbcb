// Every subcommand, in the order `--help` lists them.
import type { Command } from 'commander';
import { registerDemoData } from './demo-data';
import { registerDemoModel } from './demo-model';
import { registerExperiment } from './experiment';
import { registerExport } from './export';
import { registerFixture } from './fixture';
import { registerGenerate } from './generate';
import { registerImport } from './import';
import { registerInspect } from './inspect';
import { registerOutside } from './outside';
import { registerOverride } from './override';
import { registerRun } from './run';
import { registerServe } from './serve';
import { registerTrain } from './train';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerDemoData, registerDemoModel, registerImport, registerServe, registerFixture, registerGenerate, registerInspect, registerTrain, registerRun, registerExport, registerOutside, registerOverride, registerExperiment];
