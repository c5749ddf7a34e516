import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';

const TARBALLS = ['test/fixtures/gentoo-mini.tar.gz', 'test/fixtures/guru-sample.tar.gz'];
const TARGET = 'test/fixtures/repos';

/** vitest globalSetup: unpack the Portage repository fixtures (copies of ../shared/fixtures) once. */
export default function extractFixtures(): void {
  if (existsSync(TARGET)) return;
  const staging = `${TARGET}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const tarball of TARBALLS) execFileSync('tar', ['-xzf', tarball, '-C', staging]);
  renameSync(staging, TARGET);
}
