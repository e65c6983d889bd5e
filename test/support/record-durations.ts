/**
 * Writes test/support/file-durations.json from Vitest's results cache of the last full run
 * (node_modules/.vite/vitest/<hash>/results.json), for test/support/sequencer.ts. Run it after a
 * full `npx vitest run`; files that no longer exist are left out.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DURATIONS_FILE } from './sequencer.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cacheDir = join(root, 'node_modules', '.vite', 'vitest');
interface Results {
  projects: Record<string, { files: Record<string, { duration?: number }> }>;
}
const table: Record<string, number> = {};
for (const entry of existsSync(cacheDir) ? readdirSync(cacheDir) : []) {
  const file = join(cacheDir, entry, 'results.json');
  if (!existsSync(file)) continue;
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  for (const [project, { files }] of Object.entries(results.projects)) {
    for (const [path, { duration }] of Object.entries(files)) {
      if (duration !== undefined && existsSync(join(root, path)))
        table[`${project}:${path}`] = Math.round(duration / 100) * 100;
    }
  }
}
const sorted = Object.fromEntries(Object.entries(table).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync(DURATIONS_FILE, `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`${Object.keys(sorted).length} files recorded in ${fileURLToPath(DURATIONS_FILE)}`);
