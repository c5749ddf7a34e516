// `npm start` runs this first: build when dist/ is missing or older than any file in src/.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

let built = 0;
try {
  built = statSync('dist/main.js').mtimeMs;
} catch {}
if (built < newest('src') || built < statSync('tsconfig.build.json').mtimeMs) {
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
}
