// PMS 3.2: version, then an optional -rN revision.
const VERSION = /^\d+(?:\.\d+)*[a-z]?(?:_(?:alpha|beta|pre|rc|p)\d*)*(?:-r\d+)?$/;
const PACKAGE_NAME = /^[A-Za-z0-9_][A-Za-z0-9+_-]*$/;

/**
 * Splits a PF (`foo-bar-1.2.3_rc1-r2`) into PN (`foo-bar`) and PVR (`1.2.3_rc1-r2`). The version
 * starts at the first `-digit` whose rest is a whole valid version; a PN never ends in one
 * (PMS 3.1.2), so that split is the only one. Undefined for anything that is not a PF.
 */
export function splitPackageVersion(pf: string): { pn: string; version: string } | undefined {
  for (let dash = pf.indexOf('-'); dash > 0; dash = pf.indexOf('-', dash + 1)) {
    const next = pf.charCodeAt(dash + 1);
    if (next < 0x30 || next > 0x39) continue;
    const version = pf.slice(dash + 1);
    if (!VERSION.test(version)) continue;
    const pn = pf.slice(0, dash);
    return PACKAGE_NAME.test(pn) ? { pn, version } : undefined;
  }
  return undefined;
}

export function packageNameOf(pf: string): string | undefined {
  return splitPackageVersion(pf)?.pn;
}
