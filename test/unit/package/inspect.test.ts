import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { ProblemError } from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { resolvePackageLimits } from '#core/package/limits.ts';
import { sha256OfSource } from '#core/package/raw-sha256.ts';
import { validManifest } from '#test/support/manifest-fixture.ts';
import { buildPackage, packageFiles } from '#test/support/package-builder.ts';

function inspect(bytes: Uint8Array) {
  return inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
}

async function manifestProblem(bytes: Uint8Array): Promise<ProblemError> {
  const error = await inspect(bytes).then(
    () => expect.fail('expected invalid-manifest'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemError);
  expect((error as ProblemError).slug).toBe('invalid-manifest');
  return error as ProblemError;
}

describe('inspectPackage', () => {
  it('describes a valid package', async () => {
    const bytes = await buildPackage();
    const pkg = await inspect(bytes);
    const files = packageFiles();
    expect(pkg).toEqual({
      uniqueIdentifier: `langgenius/demo:0.0.1@${pkg.checksum}`,
      pluginId: 'langgenius/demo',
      version: '0.0.1',
      checksum: expect.stringMatching(/^[a-f0-9]{64}$/),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      entries: files.size,
      unpackedSize: [...files.values()].reduce((sum, c) => sum + Buffer.byteLength(c), 0),
      manifest: expect.objectContaining({
        author: 'langgenius',
        name: 'demo',
        plugins: { tools: ['provider/demo.yaml'] },
      }),
      category: 'tool',
      signature: { status: 'unsigned', reason: expect.any(String) },
    });
    expect(pkg.manifest).toMatchObject(validManifest({ meta: { minimum_dify_version: undefined } }));
  });

  it('reports YAML syntax errors as invalid-manifest', async () => {
    const error = await manifestProblem(await buildPackage({ manifestYaml: 'author: [unclosed\n' }));
    expect(error.message).toMatch(/manifest\.yaml/);
  });

  it('reports schema violations with field paths', async () => {
    const error = await manifestProblem(
      await buildPackage({ manifest: { author: 'Not Valid', version: 'one' } }),
    );
    expect(error.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['author', 'version']));
  });

  it('refuses a manifest that is not UTF-8', async () => {
    const error = await manifestProblem(
      await buildPackage({ manifestYaml: Buffer.from([0x61, 0x3a, 0x20, 0xff, 0x0a]) as unknown as string }),
    );
    expect(error.message).toBe('manifest.yaml is not valid UTF-8 text.');
  });

  it('requires the icon under _assets/', async () => {
    const error = await manifestProblem(
      await buildPackage({ files: { '_assets/icon.svg': null, 'icon.svg': '<svg/>' } }),
    );
    expect(error.errors).toEqual([
      { path: 'icon', message: '_assets/icon.svg does not exist in the package' },
    ]);
    expect(error.message).toBe(
      'manifest.yaml references missing files: icon: _assets/icon.svg does not exist in the package.',
    );
  });

  it('requires the dark icon when one is declared', async () => {
    const error = await manifestProblem(await buildPackage({ manifest: { icon_dark: 'icon-dark.svg' } }));
    expect(error.errors).toEqual([
      { path: 'icon_dark', message: '_assets/icon-dark.svg does not exist in the package' },
    ]);
    const ok = await inspect(
      await buildPackage({
        manifest: { icon_dark: 'icon-dark.svg' },
        files: { '_assets/icon-dark.svg': '<svg/>' },
      }),
    );
    expect(ok.manifest.icon_dark).toBe('icon-dark.svg');
  });

  it('requires every declaration file listed under plugins.*', async () => {
    const error = await manifestProblem(
      await buildPackage({
        manifest: {
          plugins: {
            tools: ['provider/demo.yaml', 'provider/missing.yaml'],
            endpoints: ['endpoints/x.yaml'],
          },
        },
      }),
    );
    expect(error.errors).toEqual([
      { path: 'plugins.tools.1', message: 'provider/missing.yaml does not exist in the package' },
      { path: 'plugins.endpoints.0', message: 'endpoints/x.yaml does not exist in the package' },
    ]);
  });

  it('refuses a package whose listed tool file is missing', async () => {
    const error = await manifestProblem(await buildPackage({ files: { 'provider/demo.yaml': null } }));
    expect(error.errors).toEqual([
      { path: 'plugins.tools.0', message: 'provider/demo.yaml does not exist in the package' },
    ]);
  });

  it('rejects nonsensical limit overrides as programming errors', () => {
    expect(() => resolvePackageLimits({ maxEntries: -1 })).toThrow(RangeError);
    expect(resolvePackageLimits({ maxEntries: 5 }).maxEntries).toBe(5);
  });
});

describe('file byte source and the raw hash worker', () => {
  let dir: string;
  let path: string;
  let bytes: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pluginops-inspect-'));
    path = join(dir, 'demo.difypkg');
    // ~6 MiB of incompressible content: large enough for several 1 MiB hashing chunks.
    bytes = await buildPackage({ files: { 'lib/blob.bin': randomBytes(6 * 1024 * 1024 + 123) } });
    await writeFile(path, bytes);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('inspects from a file with the same result as from memory', async () => {
    const source = await openFileByteSource(path);
    try {
      const fromFile = await inspectPackage(source, { keyring: [] });
      const fromMemory = await inspectPackage(byteSourceFromBuffer(bytes), {
        keyring: [],
        workerThresholdBytes: Infinity,
      });
      expect(fromFile).toEqual(fromMemory);
      expect(fromFile.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    } finally {
      await source.close();
    }
  });

  it('hashes the same on the worker and inline, also for concurrent jobs and a subarray source', async () => {
    const padded = Buffer.concat([Buffer.from('junk'), bytes, Buffer.from('junk')]);
    const view = byteSourceFromBuffer(padded.subarray(4, 4 + bytes.length));
    const expected = createHash('sha256').update(bytes).digest('hex');
    const results = await Promise.all([
      sha256OfSource(view, { workerThresholdBytes: 0 }),
      sha256OfSource(view, { workerThresholdBytes: 0 }),
      sha256OfSource(view, { workerThresholdBytes: Infinity }),
      sha256OfSource(byteSourceFromBuffer(Buffer.alloc(0)), { workerThresholdBytes: 0 }),
    ]);
    expect(results).toEqual([expected, expected, expected, createHash('sha256').digest('hex')]);
    // The source buffer was copied, never transferred away.
    expect(padded.subarray(4, 8).equals(bytes.subarray(0, 4))).toBe(true);
  });

  it('reads exact ranges and refuses reads past the end', async () => {
    const source = await openFileByteSource(path);
    try {
      expect(Buffer.from(await source.read(10, 20)).equals(bytes.subarray(10, 30))).toBe(true);
      await expect(source.read(bytes.length - 1, 2)).rejects.toThrow(RangeError);
      const slot = new Uint8Array(new SharedArrayBuffer(64), 8, 32);
      await source.readInto?.(slot, 100);
      expect(Buffer.from(slot).equals(bytes.subarray(100, 132))).toBe(true);
      await expect(source.readInto?.(slot, bytes.length - 16)).rejects.toThrow(RangeError);
    } finally {
      await source.close();
    }
  });

  it('fails a read into a slot, not hangs, when the file shrank after it was opened', async () => {
    const shrinking = join(dir, 'shrinking.difypkg');
    await writeFile(shrinking, bytes);
    const source = await openFileByteSource(shrinking);
    try {
      await truncate(shrinking, 1_000);
      await expect(source.readInto?.(new Uint8Array(4_096), 0)).rejects.toThrow(/unexpected end of file/);
    } finally {
      await source.close();
    }
  });
});
