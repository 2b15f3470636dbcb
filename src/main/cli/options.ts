// Option parsers shared by the subcommands, so every command words the same mistake the same way.
import { InvalidArgumentError, type Command } from 'commander';

/** A whole number in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `expected a whole number of at least ${min}` : `expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** One of a fixed list of words. */
export function choice<T extends string>(options: readonly T[]) {
  return (value: string): T => {
    if (!options.includes(value as T)) throw new InvalidArgumentError(`expected one of ${options.join(', ')}`);
    return value as T;
  };
}

/** A number in [min, max] (decimals allowed). */
export function decimal(min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.POSITIVE_INFINITY ? `expected a number of at least ${min}` : `expected a number from ${min} to ${max}`);
    }
    return n;
  };
}

/** The options that name a round of a run in a studio database: --db, --run, --round. */
export function roundOptions(command: Command): Command {
  return command
    .requiredOption('--db <file>', 'studio database')
    .requiredOption('--run <id>', 'run id', integer(1))
    .requiredOption('--round <n>', 'round number', integer(1));
}
