import { describe, expect, it } from 'vitest';
import { readBundle, validateBundleManifest } from '#core/bundle.ts';
import {
  InvalidManifestError,
  InvalidPackageError,
  PackageTooLargeError,
  ProblemError,
} from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { buildBundle, bundleManifest } from '#test/support/bundle-builder.ts';
import { buildPackage, writeRawZip } from '#test/support/package-builder.ts';

async function failure(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemError);
  return error as ProblemError;
}

describe('validateBundleManifest', () => {
  it("normalizes Dify's {type, value} dependencies", () => {
    const manifest = validateBundleManifest(
      bundleManifest({
        manifest: {
          dependencies: [
            { type: 'marketplace', value: { marketplace_pattern: 'langgenius/openai:^0.0.5' } },
            { type: 'github', value: { repo_pattern: 'acme/tools:1.2.0/tools.difypkg' } },
            { type: 'package', value: { path: 'abc123' } },
          ],
        },
      }),
    );
    expect(manifest).toMatchObject({
      type: 'bundle',
      author: 'langgenius',
      name: 'demo-bundle',
      version: '0.0.1',
    });
    expect(manifest.dependencies).toEqual([
      { type: 'marketplace', plugin: 'langgenius/openai', version: '^0.0.5' },
      { type: 'github', repo: 'acme/tools', release: '1.2.0', package: 'tools.difypkg' },
      { type: 'embedded', path: 'abc123' },
    ]);
    expect(manifest.labels).toEqual({ en_US: 'Demo bundle' });
  });

  it("accepts pluginops' flat dependency shape too", () => {
    const manifest = validateBundleManifest(
      bundleManifest({
        manifest: { dependencies: [{ type: 'marketplace', plugin: 'a/b', version: '1.x' }] },
      }),
    );
    expect(manifest.dependencies).toEqual([{ type: 'marketplace', plugin: 'a/b', version: '1.x' }]);
  });

  it('names every offending field', () => {
    let error: unknown;
    try {
      validateBundleManifest({
        type: 'bundle',
        author: 'Bad Author',
        name: 'x',
        version: '1',
        dependencies: [
          { type: 'marketplace', value: { marketplace_pattern: 'no-version' } },
          { type: 'package', value: { path: '../escape' } },
        ],
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidManifestError);
    const paths = (error as InvalidManifestError).errors?.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['author', 'version']));
    expect(paths?.some((path) => path.startsWith('dependencies.0'))).toBe(true);
    expect(paths?.some((path) => path.startsWith('dependencies.1'))).toBe(true);
  });

  it('refuses a plugin manifest and a bundle without dependencies', () => {
    expect(() => validateBundleManifest({ ...bundleManifest(), type: 'plugin' })).toThrow(
      InvalidManifestError,
    );
    expect(() => validateBundleManifest(bundleManifest())).toThrow(/at least one dependency/);
  });
});

describe('readBundle', () => {
  it('returns the manifest and every embedded package, listed ones first', async () => {
    const a = await buildPackage({ manifest: { name: 'a' } });
    const b = await buildPackage({ manifest: { name: 'b' } });
    const extra = await buildPackage({ manifest: { name: 'c' } });
    const bytes = await buildBundle({
      packages: { 'zz-checksum': a, 'aa-checksum': b },
      files: { '_assets/extra.difypkg': extra, '_assets/icon.svg': '<svg/>' },
    });
    const bundle = await readBundle(byteSourceFromBuffer(bytes));
    expect(bundle.packages.map((p) => p.path)).toEqual([
      '_assets/zz-checksum',
      '_assets/aa-checksum',
      '_assets/extra.difypkg',
    ]);
    expect(bundle.packages[0]?.content.equals(a)).toBe(true);
    expect(bundle.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(bundle.size).toBe(bytes.length);
  });

  it('refuses a listed package the archive lacks', async () => {
    const bytes = await buildBundle({
      manifest: { dependencies: [{ type: 'package', value: { path: 'missing' } }] },
    });
    const error = await failure(readBundle(byteSourceFromBuffer(bytes)));
    expect(error).toBeInstanceOf(InvalidPackageError);
    expect(error.message).toContain('_assets/missing');
  });

  it('applies the package limits to the bundle and to what it embeds', async () => {
    const pkg = await buildPackage();
    const bytes = await buildBundle({ packages: { one: pkg, two: pkg } });
    const tooBig = await failure(
      readBundle(byteSourceFromBuffer(bytes), { limits: { maxPackageBytes: pkg.length + pkg.length / 2 } }),
    );
    expect(tooBig).toBeInstanceOf(PackageTooLargeError);
    const overall = await failure(
      readBundle(byteSourceFromBuffer(bytes), { limits: { maxPackageBytes: 100 } }),
    );
    expect(overall).toBeInstanceOf(PackageTooLargeError);
  });

  it('is refused like a package when the archive is unsafe', async () => {
    const evil = writeRawZip([
      { name: 'manifest.yaml', content: 'type: bundle\n' },
      { name: '../escape.difypkg', content: 'x' },
    ]);
    const error = await failure(readBundle(byteSourceFromBuffer(evil)));
    expect(error.slug).toBe('unsafe-archive');
  });

  it('refuses a missing or invalid manifest', async () => {
    const noManifest = await buildBundle({ manifestYaml: 'x', files: {} });
    const invalid = await failure(readBundle(byteSourceFromBuffer(noManifest)));
    expect(invalid.slug).toBe('invalid-manifest');
  });
});
