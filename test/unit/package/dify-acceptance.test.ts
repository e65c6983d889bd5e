/**
 * Package acceptance parity with Dify's plugin daemon (docs/dify-acceptance.md): a corpus of
 * packages laid out like Dify's real plugins is accepted with Dify's identifier and category;
 * packages the daemon refuses are refused with specific problems.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { isPep440Version } from '#core/pep440.ts';
import { buildCorpusPackage, DIFY_ACCEPTED_CORPUS, DIFY_REFUSED_CORPUS } from '#test/support/dify-corpus.ts';
import { packageFiles } from '#test/support/package-builder.ts';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest();

/** Dify's checksum, written from `decoder/checksum.go` independently of our implementation. */
function difyChecksum(files: Map<string, string | Uint8Array>): string {
  const names = [...files.keys()].sort();
  const data = Buffer.concat(
    names.flatMap((name) => [sha256(name), sha256(files.get(name) as string | Uint8Array)]),
  );
  return sha256(data).toString('hex');
}

async function problemOf(bytes: Buffer): Promise<ProblemError> {
  const error = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] }).then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemError);
  return error as ProblemError;
}

describe('packages Dify accepts', () => {
  it.each(DIFY_ACCEPTED_CORPUS.map((entry) => [entry.name, entry] as const))(
    '%s is accepted with Dify’s identifier and category',
    async (_name, entry) => {
      const bytes = await buildCorpusPackage(entry.options);
      const pkg = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
      const files = packageFiles(entry.options);
      expect(pkg.uniqueIdentifier).toBe(`langgenius/${entry.name}:${pkg.version}@${difyChecksum(files)}`);
      expect(pkg.category).toBe(entry.category);
    },
  );

  it('accepts packages without README.md, like the daemon’s own test packages', async () => {
    const noReadme = DIFY_ACCEPTED_CORPUS.filter((entry) => entry.options.files?.['README.md'] === null);
    expect(noReadme.map((entry) => entry.name)).toEqual(['openai', 'webhook']);
    const bare = await buildCorpusPackage({ files: { 'README.md': null } });
    await expect(inspectPackage(byteSourceFromBuffer(bare), { keyring: [] })).resolves.toMatchObject({
      pluginId: 'langgenius/demo',
    });
  });
});

describe('packages Dify refuses', () => {
  it.each(DIFY_REFUSED_CORPUS.map((entry) => [entry.title, entry] as const))(
    'refuses %s',
    async (_title, entry) => {
      const problem = await problemOf(await buildCorpusPackage(entry.options));
      expect(problem.slug).toBe(entry.slug);
      expect(problem.errors?.map((error) => error.path)).toContain(entry.mentions);
    },
  );

  it('refuses more than 50 MiB unpacked even when the package is small', async () => {
    const mebibyte = Buffer.alloc(1024 * 1024, 0x61);
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 51; i++) files[`data/chunk-${i}.bin`] = mebibyte;
    const bytes = await buildCorpusPackage({ files });
    expect(bytes.length).toBeLessThan(1024 * 1024);
    const problem = await problemOf(bytes);
    expect(problem.slug).toBe('package-too-large');
    expect(problem.message).toMatch(/more than 50 MiB of content once unpacked/);
  });
});

describe('PEP 440 where Dify’s API applies it', () => {
  it.each([
    ['1.0.0', true],
    ['0.0.1', true],
    ['1.0.0-rc1', true],
    ['1.0.0-beta', true],
    ['1.0.0-1', true],
    ['1.0.0-dev3', true],
    ['1.0.0-post_2', true],
    ['1.0.0-hotfix', false],
    ['1.0.0-abc', false],
    ['1.0.0-rc1x', false],
  ])('%s → %s', (version, valid) => {
    expect(isPep440Version(version)).toBe(valid);
  });

  it('refuses a minimum_dify_version Dify cannot parse', async () => {
    const problem = await problemOf(
      await buildCorpusPackage({ manifest: { meta: { minimum_dify_version: '1.9.0-hotfix' } } }),
    );
    expect(problem.slug).toBe('invalid-manifest');
    expect(problem.errors).toContainEqual({
      path: 'meta.minimum_dify_version',
      message: expect.stringContaining('PEP 440'),
    });
  });
});
