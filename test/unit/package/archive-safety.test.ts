import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ProblemError, type ProblemSlug } from '#core/errors.ts';
import type { ByteSource } from '#core/package/byte-source.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '#core/package/limits.ts';
import {
  buildPackage,
  defaultRawEntries,
  type RawZipEntry,
  writeRawZip,
} from '#test/support/package-builder.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

function inspect(bytes: Uint8Array, limits?: Partial<PackageLimits>) {
  return inspectPackage(byteSourceFromBuffer(bytes), { keyring: [], ...(limits ? { limits } : {}) });
}

async function expectProblem(
  promise: Promise<unknown>,
  slug: ProblemSlug,
  detail: RegExp,
): Promise<ProblemError> {
  const error = await promise.then(
    () => expect.fail('expected the package to be refused'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemError);
  const problem = error as ProblemError;
  expect({ slug: problem.slug, detail: problem.message }).toEqual({
    slug,
    detail: expect.stringMatching(detail),
  });
  return problem;
}

/** A valid package plus one hostile entry. */
function withEntry(entry: RawZipEntry): Buffer {
  return writeRawZip([...defaultRawEntries(), entry]);
}

describe('raw zip writer baseline', () => {
  it('produces a package that passes inspection', async () => {
    const pkg = await inspect(writeRawZip(defaultRawEntries()));
    expect(pkg.pluginId).toBe('langgenius/demo');
  });
});

describe('unsafe names (unsafe-archive)', () => {
  it.each([
    ['zip-slip', '../evil.py', /"\.\.\/evil\.py".*"\.\." segment/],
    ['nested zip-slip', 'tools/../../evil.py', /"\.\." segment/],
    ['absolute path', '/etc/cron.d/evil', /"\/etc\/cron\.d\/evil" is an absolute path/],
    ['drive-letter path', 'C:/Windows/evil.dll', /absolute path/],
    ['UNC path', '\\\\server\\share\\evil', /backslash/],
    ['backslash', 'tools\\evil.py', /"tools\\\\evil\.py" contains a backslash/],
    ['NUL byte', 'evil.py\u0000.txt', /NUL or control character/],
    ['control character', 'evil\u001b[2J.py', /NUL or control character/],
    ['double slash', 'tools//demo.py', /not in normalized form/],
    ['dot segment', './main2.py', /not in normalized form/],
    ['inner dot segment', 'tools/./x.py', /not in normalized form/],
  ])('refuses %s', async (_case, name, detail) => {
    await expectProblem(inspect(withEntry({ name, content: 'print(1)\n' })), 'unsafe-archive', detail);
  });

  it('refuses an empty name', async () => {
    await expectProblem(inspect(withEntry({ name: '', content: 'x' })), 'unsafe-archive', /empty name/);
  });

  it('refuses names that are not valid UTF-8', async () => {
    const name = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x70, 0x79]);
    await expectProblem(inspect(withEntry({ name, content: 'x' })), 'unsafe-archive', /not valid UTF-8/);
  });

  it('refuses non-ASCII names without the UTF-8 flag (extractors would read CP437)', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'café.py', content: 'x', flags: 0 })),
      'unsafe-archive',
      /"café\.py" has non-ASCII characters but is not marked as UTF-8/,
    );
  });

  it('accepts non-ASCII names flagged as UTF-8', async () => {
    const pkg = await inspect(withEntry({ name: 'docs/café.md', content: 'x' }));
    expect(pkg.entries).toBe(defaultRawEntries().length + 1);
  });

  it('refuses a Unicode Path extra field that renames the entry', async () => {
    const name = Buffer.from('safe.py');
    const alias = Buffer.from('../evil.py');
    const data = Buffer.alloc(5 + alias.length);
    data.writeUInt8(1, 0);
    data.writeUInt32LE((await import('node:zlib')).crc32(name), 1);
    alias.copy(data, 5);
    const extra = Buffer.alloc(4);
    extra.writeUInt16LE(0x7075, 0);
    extra.writeUInt16LE(data.length, 2);
    await expectProblem(
      inspect(withEntry({ name, content: 'x', extraField: Buffer.concat([extra, data]) })),
      'unsafe-archive',
      /"safe\.py" carries a different name in its Unicode Path extra field/,
    );
  });

  it('refuses a local header whose name differs from the central directory', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'safe.py', localName: '../a.py', content: 'x' })),
      'unsafe-archive',
      /"safe\.py" has a different name in its local header/,
    );
  });
});

describe('unsafe entries (unsafe-archive)', () => {
  it('refuses symlinks', async () => {
    await expectProblem(
      inspect(
        withEntry({ name: 'link', content: '/etc/passwd', method: 0, externalAttributes: 0o120777 << 16 }),
      ),
      'unsafe-archive',
      /"link" is a symbolic link/,
    );
  });

  it('refuses special files', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'fifo', content: '', method: 0, externalAttributes: 0o010644 << 16 })),
      'unsafe-archive',
      /"fifo" is a special file/,
    );
  });

  it('refuses duplicate names', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'main.py', content: 'import os; os.system("evil")\n' })),
      'unsafe-archive',
      /"main\.py" appears more than once/,
    );
  });

  it('refuses encrypted entries', async () => {
    await expectProblem(
      inspect(
        withEntry({ name: 'secret.py', content: 'x', method: 0, flags: 0x1, declaredCompressedSize: 13 }),
      ),
      'unsafe-archive',
      /"secret\.py" is encrypted/,
    );
  });

  it('refuses strongly encrypted entries', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'secret.py', content: 'x', flags: 0x41 })),
      'unsafe-archive',
      /encryption/,
    );
  });

  it('refuses entries that share (overlap) compressed data', async () => {
    const entries = defaultRawEntries();
    await expectProblem(
      inspect(
        writeRawZip([...entries, { name: 'copy.py', content: 'x', sharesDataWith: entries.length - 1 }]),
      ),
      'unsafe-archive',
      /overlap/,
    );
  });
});

describe('zip bombs and size caps', () => {
  const spaces = (bytes: number) => Buffer.alloc(bytes, 0x20);

  it('accepts small, highly compressible files (a 4 KiB file of spaces is not a bomb)', async () => {
    const deflated = deflateRawSync(spaces(4 * KiB)).length;
    expect((4 * KiB) / deflated).toBeGreaterThan(100);
    const pkg = await inspect(withEntry({ name: 'blank.txt', content: spaces(4 * KiB) }));
    expect(pkg.unpackedSize).toBeGreaterThan(4 * KiB);
  });

  it('refuses an entry above the ratio cap', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'bomb.txt', content: spaces(20 * MiB) })),
      'unsafe-archive',
      /"bomb\.txt" declares 20 MiB from .*ratio above 100:1.*zip bomb/,
    );
  });

  it('caps the total ratio even when every entry stays under the floor', async () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ name: `blank/${i}.txt`, content: spaces(MiB) }));
    await expectProblem(
      // Above Dify's 50 MiB unpacked cap too: raise that cap so the ratio rule is what trips.
      inspect(writeRawZip([...defaultRawEntries(), ...many]), { maxUnpackedBytes: 500 * MiB }),
      'unsafe-archive',
      /archive declares more than 100 MiB unpacked from 1\d\d\.\d KiB \(ratio above 100:1\)/,
    );
  });

  it('stops an entry whose header lies about its inflated size', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'liar.txt', content: spaces(5 * MiB), declaredSize: 1000 })),
      'unsafe-archive',
      /"liar\.txt" inflates beyond its declared size/,
    );
  });

  it('treats an entry that inflates to less than declared as corrupt', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'short.txt', content: 'hello', declaredSize: 50 })),
      'invalid-package',
      /"short\.txt"/,
    );
  });

  it('refuses more entries than allowed, before reading them', async () => {
    await expectProblem(
      inspect(writeRawZip(defaultRawEntries()), { maxEntries: 5 }),
      'unsafe-archive',
      /has 10 entries; at most 5 are allowed/,
    );
  });

  it('refuses 10 001 entries with the default limits', async () => {
    const entries = Array.from({ length: DEFAULT_PACKAGE_LIMITS.maxEntries + 1 }, (_, i) => ({
      name: `f/${i}`,
      content: '',
      method: 0,
    }));
    await expectProblem(inspect(writeRawZip(entries)), 'unsafe-archive', /10001 entries; at most 10000/);
  });

  it('refuses an oversize manifest.yaml', async () => {
    const manifest = `# ${'x'.repeat(300 * KiB)}\n`;
    await expectProblem(
      inspect(await buildPackage({ manifestYaml: manifest })),
      'unsafe-archive',
      /manifest\.yaml is 300 KiB; the limit is 256 KiB/,
    );
  });

  it('refuses a package above the size cap with package-too-large', async () => {
    const pkg = await buildPackage();
    await expectProblem(
      inspect(pkg, { maxPackageBytes: 1000 }),
      'package-too-large',
      /is 2 KiB; the limit is 1000 B/,
    );
  });

  it('refuses content above the unpacked cap', async () => {
    const noise = Buffer.alloc(300 * KiB);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    await expectProblem(
      inspect(withEntry({ name: 'big.bin', content: noise, method: 0 }), { maxUnpackedBytes: 200 * KiB }),
      'package-too-large',
      /more than 200 KiB of content once unpacked/,
    );
  });
});

describe('broken archives (invalid-package)', () => {
  it('refuses bytes that are not a zip', async () => {
    await expectProblem(
      inspect(Buffer.from('definitely not a zip file')),
      'invalid-package',
      /not a readable zip archive: End of central directory record signature not found/,
    );
  });

  it('refuses an empty file', async () => {
    await expectProblem(inspect(Buffer.alloc(0)), 'invalid-package', /not a readable zip archive/);
  });

  it.each([0.3, 0.6, 0.9, 0.99])('refuses a package truncated to %s of its size', async (fraction) => {
    const pkg = await buildPackage();
    await expectProblem(inspect(pkg.subarray(0, Math.floor(pkg.length * fraction))), 'invalid-package', /./);
  });

  it('refuses a package whose central directory points past its end', async () => {
    const pkg = writeRawZip(defaultRawEntries());
    const eocd = pkg.length - 22;
    pkg.writeUInt32LE(pkg.length * 2, eocd + 16);
    await expectProblem(inspect(pkg), 'invalid-package', /not a readable zip archive/);
  });

  it('refuses a CRC mismatch', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'bad.py', content: 'print(1)\n', crc32: 0x12345678 })),
      'invalid-package',
      /"bad\.py" is corrupt: its CRC-32 does not match/,
    );
  });

  it('refuses corrupt deflate data', async () => {
    const pkg = writeRawZip([
      ...defaultRawEntries(),
      { name: 'z.txt', content: 'hello hello hello', method: 8 },
    ]);
    const at = pkg.indexOf(Buffer.from('z.txt')) + 5;
    pkg[at] = 0xff;
    pkg[at + 1] = 0xff;
    await expectProblem(inspect(pkg), 'invalid-package', /"z\.txt" (cannot be read|is corrupt)/);
  });

  it('refuses unsupported compression methods', async () => {
    await expectProblem(
      inspect(withEntry({ name: 'x.bz2', content: 'x', method: 12 })),
      'invalid-package',
      /"x\.bz2" uses unsupported compression method 12/,
    );
  });

  it('refuses directory entries because Dify cannot read them', async () => {
    await expectProblem(
      inspect(await buildPackage({ directories: ['tools/'] })),
      'invalid-package',
      /directory entry "tools\/", which Dify cannot read; repack without directory entries/,
    );
  });

  it.each(['manifest.yaml'])('refuses a package without %s at its root', async (file) => {
    await expectProblem(
      inspect(await buildPackage({ files: { [file]: null, [`sub/${file}`]: 'x' } })),
      'invalid-package',
      new RegExp(`no ${file.replace('.', '\\.')} at its root`),
    );
  });
});

describe('byte source failures', () => {
  it('rethrows I/O errors from the source unchanged (not a bad package)', async () => {
    const pkg = await buildPackage();
    const failure = new Error('connection reset');
    const flaky: ByteSource = {
      size: pkg.length,
      read: () => Promise.reject(failure),
    };
    await expect(inspectPackage(flaky, { keyring: [], workerThresholdBytes: Infinity })).rejects.toBe(
      failure,
    );
  });
});
