import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readArchive } from '#core/package/archive.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { computeDifyChecksum } from '#core/package/checksum.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { DEFAULT_PACKAGE_LIMITS } from '#core/package/limits.ts';
import { buildPackage, type FileContent, packageFiles, writeRawZip } from '#test/support/package-builder.ts';

/**
 * Dify's algorithm (dify-plugin-daemon `decoder.CalculateChecksum`), written out independently of
 * `checksum.ts`, from the files we put into the zip rather than from what the reader returns:
 *   1. for every file, sha256(content) keyed by its path;
 *   2. sort the paths as Go sorts strings: by their UTF-8 bytes;
 *   3. concatenate, per path, sha256(path bytes) then sha256(content) — raw 32-byte digests;
 *   4. checksum = hex(sha256(concatenation)).
 */
function difyChecksumByHand(files: Map<string, FileContent>): string {
  const digestOf = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest();
  const contentDigests = new Map<string, Buffer>();
  for (const [path, content] of files) contentDigests.set(path, digestOf(content));
  const paths = [...contentDigests.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const data: Buffer[] = [];
  for (const path of paths) {
    data.push(digestOf(Buffer.from(path, 'utf8')));
    data.push(contentDigests.get(path) as Buffer);
  }
  return digestOf(Buffer.concat(data)).toString('hex');
}

describe('Dify checksum', () => {
  it('matches the algorithm computed by hand from the files put into the package', async () => {
    const bytes = await buildPackage();
    const pkg = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
    const expected = difyChecksumByHand(packageFiles());
    expect(pkg.checksum).toBe(expected);
    expect(pkg.uniqueIdentifier).toBe(`langgenius/demo:0.0.1@${expected}`);
    expect(pkg.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('pins a golden value cross-checked with Python zipfile + hashlib running the Go algorithm', async () => {
    const zip = writeRawZip([
      { name: 'manifest.yaml', content: 'author: a\n', method: 0 },
      { name: 'README.md', content: '# r\n', method: 8 },
      { name: 'b/ｚ.txt', content: 'z', method: 8 },
      { name: 'b/😀.txt', content: 'smile', method: 0 },
      { name: '_assets/icon.svg', content: '<svg/>', method: 8 },
    ]);
    const archive = await readArchive(byteSourceFromBuffer(zip), { limits: DEFAULT_PACKAGE_LIMITS });
    expect(computeDifyChecksum(archive.entries)).toBe(
      'daa641a67cc4179fe939738257c39f109f177daa0a392b0c7088c06268ca339a',
    );
  });

  it('sorts names by UTF-8 bytes like Go, not by UTF-16 code units like Array.prototype.sort', () => {
    const digest = createHash('sha256').update('x').digest();
    // U+FF5A is EF BD 9A in UTF-8 (sorts first) but 0xFF5A in UTF-16 (sorts after the surrogate D83D).
    const entries = [
      { name: '😀.txt', sha256: digest },
      { name: 'ｚ.txt', sha256: digest },
    ];
    const byHand = difyChecksumByHand(
      new Map([
        ['😀.txt', 'x'],
        ['ｚ.txt', 'x'],
      ]),
    );
    const utf16Sorted = createHash('sha256');
    for (const name of ['😀.txt', 'ｚ.txt'].sort()) {
      utf16Sorted.update(createHash('sha256').update(name).digest()).update(digest);
    }
    expect(computeDifyChecksum(entries)).toBe(byHand);
    expect(computeDifyChecksum(entries)).not.toBe(utf16Sorted.digest('hex'));
  });

  it('depends on names and contents only, not on zip order or compression', async () => {
    const files = [...packageFiles()];
    const deflated = await buildPackage();
    const storedReversed = writeRawZip(
      files.reverse().map(([name, content]) => ({ name, content, method: 0 })),
    );
    const a = await inspectPackage(byteSourceFromBuffer(deflated), { keyring: [] });
    const b = await inspectPackage(byteSourceFromBuffer(storedReversed), { keyring: [] });
    expect(b.checksum).toBe(a.checksum);
    expect(b.sha256).not.toBe(a.sha256);
  });

  it('changes when any content byte or name changes', async () => {
    const base = await inspectPackage(byteSourceFromBuffer(await buildPackage()), { keyring: [] });
    const edited = await inspectPackage(
      byteSourceFromBuffer(await buildPackage({ files: { 'main.py': '#\n' } })),
      {
        keyring: [],
      },
    );
    const renamed = await inspectPackage(
      byteSourceFromBuffer(
        await buildPackage({ files: { 'requirements.txt': null, 'requirements2.txt': 'x' } }),
      ),
      { keyring: [] },
    );
    expect(new Set([base.checksum, edited.checksum, renamed.checksum]).size).toBe(3);
  });
});
