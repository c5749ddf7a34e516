// `npm run build` runs this after tsc: compiles src/native/sendfile.c into
// dist/native/sendfile.node with the system's C compiler and Node's own headers. Without a
// compiler or headers it says so and leaves it out: portcache then serves hits with reads and
// writes (src/common/sendfile.ts), slower on CPU but the same bytes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const out = 'dist/native/sendfile.node';
rmSync(out, { force: true });
if (process.platform !== 'linux') {
  console.warn(`build-native: ${process.platform} has no Linux sendfile(2); hits use reads and writes`);
  process.exit(0);
}
// Official tarballs, nvm and the node container images: <prefix>/include/node; Debian and
// Gentoo packages: /usr/include/node.
const headers = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node'].find(
  (dir) => existsSync(join(dir, 'node_api.h')),
);
if (!headers) {
  console.warn('build-native: no node_api.h (Node headers) found; hits use reads and writes');
  process.exit(0);
}
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
const args = [
  '-O2',
  '-Wall',
  '-Werror',
  '-shared',
  '-fPIC',
  `-I${headers}`,
  'src/native/sendfile.c',
  '-o',
  out,
];
const run = spawnSync(cc, args, { stdio: 'inherit' });
if (run.error || run.status !== 0) {
  rmSync(out, { force: true });
  console.warn(
    `build-native: ${cc} ${args.join(' ')} failed (${run.error?.message ?? `exit ${run.status}`}); hits use reads and writes`,
  );
}
