/**
 * The single sequential pass (archive.ts phase 2 + raw-sha256.ts): stored-block fast path for
 * deflate, hand-off to zlib mid-stream, chunk boundaries, the worker path and its failures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '#core/errors.ts';
import { readArchive } from '#core/package/archive.ts';
import { type ByteSource, byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { DEFAULT_PACKAGE_LIMITS } from '#core/package/limits.ts';
import { defaultRawEntries, type RawZipEntry, writeRawZip } from '#test/support/package-builder.ts';

const MiB = 1024 * 1024;
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/** Incompressible, then compressible, then incompressible again: stored, compressed, stored blocks. */
const mixed = Buffer.concat([
  randomBytes(MiB + 12_345),
  Buffer.from('hello hello, plugin world. '.repeat(8_000)),
  randomBytes(300_000),
]);

function packageWith(...entries: RawZipEntry[]): Buffer {
  return writeRawZip([...defaultRawEntries(), ...entries]);
}

/** Offset of an entry's data in a writeRawZip package (no extra field). */
function dataStart(pkg: Buffer, name: string): number {
  return pkg.indexOf(Buffer.from(name)) + Buffer.byteLength(name);
}

/** A source that also implements `readInto`, like the file adapter. */
function readIntoSource(bytes: Buffer): ByteSource {
  const base = byteSourceFromBuffer(bytes);
  return {
    size: base.size,
    read: (offset, length) => base.read(offset, length),
    readInto: async (target, offset) => target.set(await base.read(offset, target.length)),
  };
}

describe('single-pass reading', () => {
  it('hashes mixed stored/compressed deflate streams and stored entries across chunk boundaries', async () => {
    // The stream really starts with a stored block and has compressed blocks later.
    const deflated = deflateRawSync(mixed);
    expect((deflated[0] as number) & 0x06).toBe(0);
    expect(deflated.length).toBeLessThan(mixed.length - 100_000);
    const stored = randomBytes(2 * MiB + 7);
    const pkg = packageWith(
      { name: 'lib/mixed.bin', content: mixed },
      { name: 'lib/stored.bin', content: stored, method: 0 },
      { name: 'lib/random.bin', content: randomBytes(1_500_000) },
    );
    for (const source of [byteSourceFromBuffer(pkg), readIntoSource(pkg)]) {
      for (const workerThresholdBytes of [0, Number.POSITIVE_INFINITY]) {
        const archive = await readArchive(source, {
          limits: DEFAULT_PACKAGE_LIMITS,
          rawSha256: { workerThresholdBytes },
          collect: (name) => name === 'lib/mixed.bin',
        });
        const byName = new Map(archive.entries.map((entry) => [entry.name, entry]));
        expect(byName.get('lib/mixed.bin')?.sha256.equals(sha(mixed))).toBe(true);
        expect(byName.get('lib/mixed.bin')?.content?.equals(mixed)).toBe(true);
        expect(byName.get('lib/stored.bin')?.sha256.equals(sha(stored))).toBe(true);
        expect(archive.rawSha256).toBe(sha(pkg).toString('hex'));
        expect(archive.entries.map((entry) => entry.name)).toEqual(
          defaultRawEntries()
            .map((entry) => entry.name)
            .concat(['lib/mixed.bin', 'lib/stored.bin', 'lib/random.bin']),
        );
      }
    }
  });

  it('refuses a CRC-32 mismatch whichever thread computes it (stored, fast path, fast path then zlib)', async () => {
    const cases: RawZipEntry[] = [
      { name: 'lib/stored.bin', content: randomBytes(2 * MiB + 7), method: 0 },
      { name: 'lib/random.bin', content: randomBytes(1_500_000) },
      { name: 'lib/mixed.bin', content: mixed },
    ];
    for (const entry of cases) {
      const content = entry.content as Buffer;
      // One flipped bit in the CRC, and in a valid package one flipped content bit with the CRC kept.
      const wrongCrc = packageWith({ ...entry, crc32: crc32(content) ^ 0x10 });
      const flipped = Buffer.from(content);
      flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] as number) ^ 0x01;
      const corrupt = packageWith({ ...entry, content: flipped, crc32: crc32(content) });
      for (const pkg of [wrongCrc, corrupt]) {
        for (const workerThresholdBytes of [0, Number.POSITIVE_INFINITY]) {
          const error = await inspectPackage(readIntoSource(pkg), {
            keyring: [],
            workerThresholdBytes,
          }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ProblemError);
          expect((error as ProblemError).slug).toBe('invalid-package');
          expect((error as ProblemError).message).toContain(
            `${JSON.stringify(entry.name)} is corrupt: its CRC-32 does not match`,
          );
        }
      }
    }
  });

  it('reports an archive fault before a manifest fault found while the worker finished', async () => {
    // The manifest is judged while the last checksums are still computing; a CRC-32 mismatch
    // found after that must still win, as it did when the manifest was judged afterwards.
    const content = randomBytes(2 * MiB);
    const pkg = writeRawZip([
      ...defaultRawEntries({ manifestYaml: 'version: [not a manifest' }),
      { name: 'lib/stored.bin', content, method: 0, crc32: crc32(content) ^ 1 },
    ]);
    for (const workerThresholdBytes of [0, Number.POSITIVE_INFINITY]) {
      const error = await inspectPackage(readIntoSource(pkg), { keyring: [], workerThresholdBytes }).catch(
        (e: unknown) => e,
      );
      expect((error as ProblemError).message).toContain('"lib/stored.bin" is corrupt: its CRC-32');
    }
    const valid = writeRawZip([
      ...defaultRawEntries({ manifestYaml: 'version: [not a manifest' }),
      { name: 'lib/stored.bin', content, method: 0 },
    ]);
    const error = await inspectPackage(readIntoSource(valid), { keyring: [], workerThresholdBytes: 0 }).catch(
      (e: unknown) => e,
    );
    expect((error as ProblemError).slug).toBe('invalid-manifest');
  });

  it('continues a stream with a short stored prefix in zlib with that prefix as its window', async () => {
    // Two non-final stored blocks, then compressed blocks that copy all of them (deflated with the
    // stored bytes as dictionary): the hand-off must give zlib exactly those bytes.
    const stored = (payload: Buffer) => {
      const header = Buffer.alloc(5);
      header.writeUInt16LE(payload.length, 1);
      header.writeUInt16LE(~payload.length & 0xffff, 3);
      return Buffer.concat([header, payload]);
    };
    const first = randomBytes(1000);
    const second = randomBytes(2000);
    const prefix = Buffer.concat([first, second]);
    const rest = Buffer.concat([prefix, Buffer.from('tail')]);
    const compressed = deflateRawSync(rest, { dictionary: prefix });
    expect((compressed[0] as number) & 0x06).not.toBe(0);
    const deflated = Buffer.concat([stored(first), stored(second), compressed]);
    const content = Buffer.concat([prefix, rest]);
    const pkg = packageWith({ name: 'lib/window.bin', content, deflated });
    for (const workerThresholdBytes of [0, Number.POSITIVE_INFINITY]) {
      const archive = await readArchive(readIntoSource(pkg), {
        limits: DEFAULT_PACKAGE_LIMITS,
        rawSha256: { workerThresholdBytes },
        collect: (name) => name === 'lib/window.bin',
      });
      const entry = archive.entries.find((e) => e.name === 'lib/window.bin');
      expect(entry?.content?.equals(content)).toBe(true);
      expect(entry?.sha256.equals(sha(content))).toBe(true);
    }
  });

  it('refuses a stored deflate block whose NLEN does not match LEN', async () => {
    const pkg = packageWith({ name: 'lib/random.bin', content: randomBytes(200_000) });
    const at = dataStart(pkg, 'lib/random.bin') + 3;
    pkg[at] = (pkg[at] as number) ^ 0x01;
    for (const workerThresholdBytes of [0, Number.POSITIVE_INFINITY]) {
      const error = await inspectPackage(byteSourceFromBuffer(pkg), {
        keyring: [],
        workerThresholdBytes,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProblemError);
      expect((error as ProblemError).slug).toBe('invalid-package');
      expect((error as ProblemError).message).toMatch(
        /"lib\/random\.bin" cannot be read: invalid stored block lengths/,
      );
    }
  });

  it('refuses a deflate stream of stored blocks cut before its final block', async () => {
    const content = randomBytes(200_000);
    const pkg = packageWith({ name: 'lib/random.bin', content, declaredCompressedSize: 100_000 });
    const error = await inspectPackage(byteSourceFromBuffer(pkg), { keyring: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).message).toMatch(
      /"lib\/random\.bin" cannot be read: unexpected end of file/,
    );
  });

  it('refuses a lying size on the stored fast path', async () => {
    const pkg = packageWith({ name: 'lib/random.bin', content: randomBytes(300_000), declaredSize: 100_000 });
    const error = await inspectPackage(byteSourceFromBuffer(pkg), { keyring: [] }).catch((e: unknown) => e);
    expect((error as ProblemError).slug).toBe('unsafe-archive');
    expect((error as ProblemError).message).toMatch(/"lib\/random\.bin" inflates beyond its declared size/);
  });

  it('refuses a local header that lies past the end of the file', async () => {
    const pkg = packageWith({ name: 'lib/random.bin', content: randomBytes(1000) });
    // Cut the file inside the last local header, keeping a valid central directory after it.
    const start = pkg.indexOf(Buffer.from('lib/random.bin')) - 30;
    const cd = pkg.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), start);
    const truncated = Buffer.concat([pkg.subarray(0, start + 10), pkg.subarray(cd)]);
    const error = await inspectPackage(byteSourceFromBuffer(truncated), { keyring: [] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).slug).toBe('invalid-package');
  });

  it.each([
    ['read', false],
    ['readInto', true],
  ])(
    'rethrows a source failure in the middle of the pass unchanged (%s, worker and inline)',
    async (_, into) => {
      const pkg = packageWith({ name: 'lib/random.bin', content: randomBytes(3 * MiB) });
      const failure = new Error('connection reset');
      const base = byteSourceFromBuffer(pkg);
      const fail = (offset: number) => offset >= MiB && offset < pkg.length - 64 * 1024;
      const flaky: ByteSource = {
        size: pkg.length,
        read: (offset, length) => (fail(offset) ? Promise.reject(failure) : base.read(offset, length)),
        ...(into
          ? {
              readInto: async (target: Uint8Array, offset: number) => {
                if (fail(offset)) throw failure;
                target.set(await base.read(offset, target.length));
              },
            }
          : {}),
      };
      for (const workerThresholdBytes of [0, Number.POSITIVE_INFINITY]) {
        await expect(inspectPackage(flaky, { keyring: [], workerThresholdBytes })).rejects.toBe(failure);
      }
      // The shared worker is still usable afterwards.
      const ok = await inspectPackage(base, { keyring: [], workerThresholdBytes: 0 });
      expect(ok.sha256).toBe(sha(pkg).toString('hex'));
    },
  );
});
