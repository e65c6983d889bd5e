/**
 * Runs the real `bin/pluginops.js` (Node 22 from node_modules, tsx at runtime) on packages and
 * plugin directories built in code.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArchive } from '#core/package/archive.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { DEFAULT_PACKAGE_LIMITS } from '#core/package/limits.ts';
import { validManifestYaml } from '#test/support/manifest-fixture.ts';
import { buildPackage, packageFiles } from '#test/support/package-builder.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const nodeBinary = join(repoRoot, 'node_modules/.bin/node');
const cliEntry = join(repoRoot, 'bin/pluginops.js');
/** Every run has a deadline: a hung CLI fails the test instead of the suite. */
const RUN_DEADLINE_MS = 20_000;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      nodeBinary,
      [cliEntry, ...args],
      { cwd, timeout: RUN_DEADLINE_MS, killSignal: 'SIGKILL', env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`pluginops ${args.join(' ')} did not finish: ${error.message}\n${stderr}`));
          return;
        }
        resolvePromise({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

function json(result: RunResult): Record<string, unknown> {
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

async function writeTree(root: string, files: Map<string, string | Uint8Array>): Promise<void> {
  for (const [name, content] of files) {
    const path = join(root, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

async function entryNames(file: string): Promise<string[]> {
  const archive = await readArchive(byteSourceFromBuffer(await readFile(file)), {
    limits: DEFAULT_PACKAGE_LIMITS,
  });
  return archive.entries.map((entry) => entry.name);
}

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pluginops-cli-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function pluginDir(name: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  await writeTree(dir, packageFiles());
  await writeTree(dir, new Map(Object.entries(extra)));
  return dir;
}

describe('pluginops pack', () => {
  it('packs a directory into a package whose identifier inspect and Dify-style hashing agree on', async () => {
    const dir = await pluginDir('demo');
    const packed = await run(['pack', dir, '-o', 'demo.difypkg'], work);
    expect(packed.code, packed.stderr).toBe(0);
    const uniqueIdentifier = packed.stdout.trim();
    expect(uniqueIdentifier).toMatch(/^langgenius\/demo:0\.0\.1@[a-f0-9]{64}$/);

    const inspected = await run(['inspect', join(work, 'demo.difypkg'), '--json'], work);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(json(inspected)).toMatchObject({
      unique_identifier: uniqueIdentifier,
      plugin_id: 'langgenius/demo',
      version: '0.0.1',
      signature: { status: 'unsigned' },
      permissions: ['tool', 'model.llm', 'storage (1 MiB)'],
    });

    // The checksum depends on names and contents only: the same files zipped differently agree.
    const reference = await inspectPackage(byteSourceFromBuffer(await buildPackage()), { keyring: [] });
    expect(uniqueIdentifier).toBe(reference.uniqueIdentifier);
  });

  it('writes files only, sorted, skipping VCS/caches and .difyignore patterns', async () => {
    const dir = await pluginDir('ignored', {
      '.git/HEAD': 'ref: refs/heads/main\n',
      'node_modules/x/index.js': 'x',
      '__pycache__/main.cpython-312.pyc': 'x',
      'tools/__pycache__/demo.pyc': 'x',
      '.DS_Store': 'x',
      'debug.log': 'x',
      'keep.log': 'x',
      'build/out.txt': 'x',
      '.difyignore': '# comment\n*.log\n!keep.log\n/build/\n',
    });
    const packed = await run(['pack', dir, '-o', 'ignored.difypkg', '--json'], work);
    expect(packed.code, packed.stderr).toBe(0);
    const names = await entryNames(join(work, 'ignored.difypkg'));
    expect(names).toEqual([...names].sort());
    expect(names.some((name) => name.endsWith('/'))).toBe(false);
    expect(names).toContain('keep.log');
    expect(names).toContain('.difyignore');
    for (const skipped of [
      '.git/HEAD',
      'node_modules/x/index.js',
      '.DS_Store',
      'debug.log',
      'build/out.txt',
    ]) {
      expect(names).not.toContain(skipped);
    }
    expect(names.some((name) => name.includes('__pycache__'))).toBe(false);
    expect(json(packed)).toMatchObject({ files: names.length });
  });

  it('is reproducible: packing the same tree twice gives the same bytes', async () => {
    const dir = await pluginDir('twice');
    expect((await run(['pack', dir, '-o', 'one.difypkg'], work)).code).toBe(0);
    expect((await run(['pack', dir, '-o', 'two.difypkg'], work)).code).toBe(0);
    expect(
      Buffer.compare(await readFile(join(work, 'one.difypkg')), await readFile(join(work, 'two.difypkg'))),
    ).toBe(0);
  });

  it('refuses symlinks (exit 2, unsafe-archive) and writes nothing', async () => {
    const dir = await pluginDir('linked');
    await symlink('/etc/passwd', join(dir, 'passwd'));
    const result = await run(['pack', dir, '-o', 'linked.difypkg', '--json'], work);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ type: 'urn:pluginops:problem:unsafe-archive', status: 422 });
    await expect(stat(join(work, 'linked.difypkg'))).rejects.toThrow();
  });

  it('refuses a directory whose manifest is invalid, naming the field', async () => {
    const dir = await pluginDir('badmanifest', {
      'manifest.yaml': validManifestYaml({ resource: { permission: { storage: { size: 1 } } } }),
    });
    const result = await run(['pack', dir, '-o', 'bad.difypkg'], work);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error[invalid-manifest]');
    expect(result.stderr).toContain('resource.permission.storage.size');
    await expect(stat(join(work, 'bad.difypkg'))).rejects.toThrow();
  });

  it('refuses a path that is not a directory', async () => {
    const result = await run(['pack', join(work, 'missing'), '--json'], work);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ type: 'urn:pluginops:problem:validation-failed' });
  });
});

describe('pluginops keygen → sign → inspect --trust', () => {
  it('verifies a package signed with a fresh key and reports its category', async () => {
    const keys = join(work, 'keys');
    await mkdir(keys);
    const keygen = await run(['keygen', '--out-dir', keys, '--name', 'ci', '--bits', '2048'], work);
    expect(keygen.code, keygen.stderr).toBe(0);
    expect((await stat(join(keys, 'ci.private.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(keys, 'ci.public.pem'), 'utf8')).toContain('BEGIN RSA PUBLIC KEY');

    const again = await run(['keygen', '--out-dir', keys, '--name', 'ci', '--bits', '2048'], work);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');

    await writeFile(join(work, 'unsigned.difypkg'), await buildPackage());
    const signed = await run(
      [
        'sign',
        'unsigned.difypkg',
        '--key',
        join(keys, 'ci.private.pem'),
        '--category',
        'partner',
        '-o',
        'signed.difypkg',
      ],
      work,
    );
    expect(signed.code, signed.stderr).toBe(0);

    const trusted = await run(
      ['inspect', 'signed.difypkg', '--json', '--trust', join(keys, 'ci.public.pem')],
      work,
    );
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(json(trusted)).toMatchObject({
      signature: { status: 'verified', key_id: 'ci', authorized_category: 'partner' },
    });

    const human = await run(['inspect', 'signed.difypkg', '--trust', join(keys, 'ci.public.pem')], work);
    expect(human.stdout).toMatch(/signature:\s+verified \(key ci, category partner/);

    const untrusted = await run(['inspect', 'signed.difypkg', '--json'], work);
    expect(json(untrusted)).toMatchObject({ signature: { status: 'invalid' } });
  });

  it('refuses a key file that is not a private key', async () => {
    await writeFile(join(work, 'plain.difypkg'), await buildPackage());
    await writeFile(join(work, 'not-a-key.pem'), 'hello');
    const result = await run(['sign', 'plain.difypkg', '--key', 'not-a-key.pem', '--json'], work);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ type: 'urn:pluginops:problem:validation-failed' });
  });
});

describe('pluginops inspect: failures and usage', () => {
  it('exits 2 with the problem as JSON on stdout for a file that is not a zip', async () => {
    await writeFile(join(work, 'garbage.difypkg'), 'definitely not a zip archive');
    const result = await run(['inspect', 'garbage.difypkg', '--json'], work);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ type: 'urn:pluginops:problem:invalid-package', status: 422 });
  });

  it('prints error[slug]: detail and field errors to stderr without --json', async () => {
    await writeFile(
      join(work, 'noicon.difypkg'),
      await buildPackage({ files: { '_assets/icon.svg': null } }),
    );
    const result = await run(['inspect', 'noicon.difypkg'], work);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error\[invalid-manifest\]: /);
    expect(result.stderr).toContain('  - icon: _assets/icon.svg does not exist in the package');
  });

  it('exits 2 for a missing file and for a trust key that is not a public key', async () => {
    expect((await run(['inspect', 'nope.difypkg'], work)).code).toBe(2);
    await writeFile(join(work, 'ok.difypkg'), await buildPackage());
    const badTrust = await run(['inspect', 'ok.difypkg', '--trust', 'ok.difypkg', '--json'], work);
    expect(badTrust.code).toBe(2);
    expect(json(badTrust)).toMatchObject({ errors: [{ path: 'trust' }] });
  });

  it('documents exit codes in --help and exits 2 on usage errors', async () => {
    const help = await run(['--help'], work);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    expect(help.stdout).toMatch(/2\s+bad input/);
    expect((await run(['inspect'], work)).code).toBe(2);
    expect((await run(['frobnicate'], work)).code).toBe(2);
    expect((await run(['sign', 'x.difypkg', '--key', 'k', '--category', 'vip'], work)).code).toBe(2);
  });
});
