import { describe, expect, it } from 'vitest';
import { packageNameOf, splitPackageVersion } from './package-name.js';

describe('splitPackageVersion', () => {
  it.each([
    ['foo-bar-1.2.3_rc1-r2', 'foo-bar', '1.2.3_rc1-r2'],
    ['xz-utils-5.6.3', 'xz-utils', '5.6.3'],
    ['acl-2.3.2-r2', 'acl', '2.3.2-r2'],
    ['vmd-1.9.4_alpha57-r4', 'vmd', '1.9.4_alpha57-r4'],
    ['gnuplot-py-1.8_p8-r1', 'gnuplot-py', '1.8_p8-r1'],
    ['font-adobe-100dpi-1.0.4', 'font-adobe-100dpi', '1.0.4'],
    ['gtk+-2.24.33', 'gtk+', '2.24.33'],
    ['far2l-2.8.0_beta-r1', 'far2l', '2.8.0_beta-r1'],
    ['openssl-3.0.15a', 'openssl', '3.0.15a'],
    ['foo-1.0_pre20240101_p3', 'foo', '1.0_pre20240101_p3'],
    ['ghq-9999', 'ghq', '9999'],
    ['1password-cli-2.35.0', '1password-cli', '2.35.0'],
  ])('%s → %s + %s', (pf, pn, version) => {
    expect(splitPackageVersion(pf)).toEqual({ pn, version });
    expect(packageNameOf(pf)).toBe(pn);
  });

  it.each(['foo', 'foo-bar', 'foo-1.0-', 'foo-1.0_zeta', 'foo-r1', '-1.0', 'foo-1..0', '.keep'])(
    '%s is not a PF',
    (pf) => {
      expect(splitPackageVersion(pf)).toBeUndefined();
    },
  );
});
