/**
 * The CLI bundle (local/cli-build.ts, bin/cli-bundle.js): built once, reused while its inputs are
 * unchanged, and never used once any input changed (the CLI then runs from source).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCliBuilt } from '#local/cli-build.ts';
import { currentBundle } from '../../../bin/cli-bundle.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pluginops-cli-build-'));
  await mkdir(join(root, 'cli'));
  await writeFile(join(root, 'package-lock.json'), '{}\n');
  await writeFile(join(root, 'cli', 'greeting.ts'), "export const greeting: string = 'hello';\n");
  await writeFile(
    join(root, 'cli', 'main.ts'),
    "import { greeting } from './greeting.ts';\nexport async function main(): Promise<number> { console.log(greeting); return 0; }\n",
  );
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('CLI bundle', () => {
  it('is built once, then reused while its inputs are unchanged', async () => {
    const first = await ensureCliBuilt({ root });
    expect(first.built).toBe(true);
    expect(currentBundle(root, join(root, 'dist', 'cli'))).toBe(first.bundle);
    const second = await ensureCliBuilt({ root });
    expect(second.built).toBe(false);
    const { main } = await import(`${first.bundle}?${Date.now()}`);
    expect(typeof main).toBe('function');
  });

  it('is not used once a source changes, and the next build picks the change up', async () => {
    const { bundle } = await ensureCliBuilt({ root });
    await writeFile(join(root, 'cli', 'greeting.ts'), "export const greeting: string = 'bonjour';\n");
    expect(currentBundle(root, join(root, 'dist', 'cli'))).toBeUndefined();
    const rebuilt = await ensureCliBuilt({ root });
    expect(rebuilt.built).toBe(true);
    expect(await readFile(bundle, 'utf8')).toContain('bonjour');
  });

  it('is not used when a source keeps its size but was touched, or when the lock file changed', async () => {
    await ensureCliBuilt({ root });
    const later = new Date(Date.now() + 5_000);
    await utimes(join(root, 'cli', 'main.ts'), later, later);
    expect(currentBundle(root, join(root, 'dist', 'cli'))).toBeUndefined();
    await ensureCliBuilt({ root });
    await writeFile(join(root, 'package-lock.json'), '{ }\n');
    expect(currentBundle(root, join(root, 'dist', 'cli'))).toBeUndefined();
  });

  it('is not used without its stamp or when the stamp is corrupt', async () => {
    const { bundle } = await ensureCliBuilt({ root });
    await writeFile(join(root, 'dist', 'cli', 'inputs.json'), '{"version":1,"inputs":');
    expect(currentBundle(root, join(root, 'dist', 'cli'))).toBeUndefined();
    await rm(join(root, 'dist', 'cli', 'inputs.json'));
    expect(currentBundle(root, join(root, 'dist', 'cli'))).toBeUndefined();
    expect(bundle).toContain('pluginops.mjs');
  });

  it("the repository's own bundle runs the real CLI through bin/pluginops.js", async () => {
    await ensureCliBuilt();
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/pluginops.js', '--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
