// The studio database of the commands that work on what a run made (export, override,
// import-adapter, import-responses): refused when missing, so a mistyped --db says so rather than
// leaving an empty database behind and answering that run 1 has no round 1.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError } from '../../shared/errors';
import { openDatabase, type Db } from '../store/db';

export function openRunDatabase(file: string): Db {
  const path = resolve(file);
  if (!existsSync(path)) throw new ApiError('not_found', `no studio database at ${path} (give the --db that \`isr-studio run\` used)`);
  return openDatabase(path);
}
