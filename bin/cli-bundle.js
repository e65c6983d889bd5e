// Which prebuilt CLI bundle `bin/pluginops.js` may run. Plain JavaScript on purpose: it runs before
// any TypeScript loader exists. `local/cli-build.ts` writes the bundle and, next to it, the list of
// every file the bundle was built from with its size and modification time; the bundle is used only
// while each of those files is unchanged, so an edit to the sources is never hidden by a stale bundle
// (the CLI then runs from source through tsx, as before the bundle existed).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const BUNDLE_FILE = 'pluginops.mjs';
export const STAMP_FILE = 'inputs.json';

/**
 * @param {string} root the repository root (input paths in the stamp are relative to it)
 * @param {string} dir the bundle's directory
 * @returns {string | undefined} the bundle's path when it is current, otherwise undefined
 */
export function currentBundle(root, dir) {
  try {
    const stamp = JSON.parse(readFileSync(join(dir, STAMP_FILE), 'utf8'));
    if (stamp.version !== 1 || !Array.isArray(stamp.inputs) || stamp.inputs.length === 0) return undefined;
    if (stamp.node !== process.versions.node.split('.')[0]) return undefined;
    for (const [path, size, mtimeMs] of stamp.inputs) {
      const stats = statSync(join(root, path));
      if (stats.size !== size || stats.mtimeMs !== mtimeMs) return undefined;
    }
    const bundle = join(dir, BUNDLE_FILE);
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}
