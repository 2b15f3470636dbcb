// `npm start` rebuilds better-sqlite3 for Electron's ABI; the tests run under plain Node. This puts
// the Node build back when the Electron one is in place, so `npm test` works after `npm start`.
import { spawnSync } from 'node:child_process';

const probe = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], {
  encoding: 'utf8',
});
if (probe.status === 0) process.exit(0);
if (!/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(probe.stderr)) {
  console.error(probe.stderr);
  console.error('better-sqlite3 does not load under Node (see above).');
  process.exit(1);
}
console.log('better-sqlite3 was built for Electron; rebuilding it for Node...');
const rebuild = spawnSync('npm', ['rebuild', 'better-sqlite3'], { stdio: 'inherit' });
process.exit(rebuild.status ?? 1);
