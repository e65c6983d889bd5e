/**
 * Defensive, streaming zip reading for untrusted packages.
 *
 * One pass in two phases:
 * 1. **Central directory.** Every entry's metadata is read and judged (names, types, encryption,
 *    compression method, duplicates, declared sizes and ratios, overlapping data) before a single
 *    byte is inflated, so a hostile archive costs almost nothing to refuse.
 * 2. **Contents.** Entries are streamed in zip order through inflate; each one's SHA-256 and CRC-32
 *    are computed on the fly and the actual byte counts are checked against the declared ones and
 *    the caps, so a lying header is stopped within one inflate chunk (256 KiB) of its declared size.
 *    CRC-32s of bytes stored as is are computed by the pass's worker (see `raw-sha256.ts`) and
 *    checked once the pass ends, before anything is returned.
 *
 * Nothing is extracted to disk and nothing buffers the whole package: reads go through the
 * {@link ByteSource} port, and only entries the caller asks for (`collect`) are kept in memory.
 */

import { createHash } from 'node:crypto';
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import { InvalidPackageError, PackageTooLargeError, ProblemError, UnsafeArchiveError } from '#core/errors.ts';
import type { ByteSource } from './byte-source.ts';
import { crc32Combine } from './crc32.ts';
import { exceedsEntryRatio, formatBytes, type PackageLimits } from './limits.ts';
import { type ChunkChecksums, type RawSha256Options, scanSource } from './raw-sha256.ts';

/** One file of the archive after the pass, in zip (central directory) order. */
export interface ArchiveEntry {
  /** Validated name: UTF-8, relative, normalized, `/`-separated. Identical to its raw bytes. */
  readonly name: string;
  /** Inflated size in bytes (declared, and verified while streaming). */
  readonly size: number;
  readonly compressedSize: number;
  /** SHA-256 of the inflated content (raw 32 bytes). */
  readonly sha256: Buffer;
  /** The content, only for entries selected by {@link ReadArchiveOptions.collect}. */
  readonly content?: Buffer;
}

export interface ArchiveContents {
  /** Every entry in zip order. */
  readonly entries: ReadonlyArray<ArchiveEntry>;
  /** The raw archive comment bytes (Dify keeps its signature there). */
  readonly comment: Buffer;
  /** Sum of the inflated sizes. */
  readonly unpackedSize: number;
  /** Hex SHA-256 of the whole package, when asked for with {@link ReadArchiveOptions.rawSha256}. */
  readonly rawSha256?: string;
}

export interface ReadArchiveOptions {
  readonly limits: PackageLimits;
  /** Entries whose content should be returned (`size` is the verified-declared inflated size). */
  readonly collect?: (name: string, size: number) => boolean;
  /** Extra rules on the full list of names, run after phase 1 (e.g. required files). */
  readonly checkNames?: (names: ReadonlySet<string>) => void;
  /**
   * Also hash the raw package bytes in the same pass (on a worker thread for large sources, see
   * `raw-sha256.ts`); the result is {@link ArchiveContents.rawSha256}.
   */
  readonly rawSha256?: RawSha256Options;
  /**
   * Called once every entry has been read and has passed its size checks, while the last CRC-32s
   * and the raw hash may still be computing on the worker, so the caller's own work on the
   * entries overlaps with theirs. The entries are **not verified yet**: use what it computes only
   * once `readArchive` resolves. Anything it throws is rethrown by `readArchive` only if the
   * archive passes every check (the archive's own errors come first).
   */
  readonly onEntriesRead?: (entries: ReadonlyArray<ArchiveEntry>, comment: Buffer) => void;
}

/** Root files Dify needs to read a package. */
export const MANIFEST_FILE = 'manifest.yaml';
export const README_FILE = 'README.md';

const GP_FLAG_ENCRYPTED = 0x0001;
const GP_FLAG_UTF8 = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const INFO_ZIP_UNICODE_PATH = 0x7075;
/** Minimum size of a local file header before its name and extra field. */
const LOCAL_HEADER_FIXED_BYTES = 30;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads and checks every entry of the archive in `source`. Throws only {@link ProblemError}s for
 * anything wrong with the bytes; a failing `source.read` is rethrown as is (an I/O fault is not
 * the caller's fault).
 *
 * @example
 * const { entries } = await readArchive(source, { limits, collect: (n) => n === 'manifest.yaml' });
 */
export async function readArchive(source: ByteSource, options: ReadArchiveOptions): Promise<ArchiveContents> {
  const { limits } = options;
  if (source.size > limits.maxPackageBytes) {
    throw new PackageTooLargeError(
      `The package is ${formatBytes(source.size)}; the limit is ${formatBytes(limits.maxPackageBytes)}.`,
    );
  }
  const reader = new ByteSourceReader(source);
  // What `onEntriesRead` threw: rethrown as is, and only once the archive passed every check.
  let callerFailure: { error: unknown } | undefined;
  let contents: ArchiveContents;
  try {
    const zip = await openZip(reader, source.size);
    try {
      if (zip.entryCount > limits.maxEntries) {
        throw new UnsafeArchiveError(
          `The archive has ${zip.entryCount} entries; at most ${limits.maxEntries} are allowed.`,
        );
      }
      const raw = await readCentralDirectory(zip);
      const planned = planEntries(raw, source.size, options);
      // Phase 2: one sequential pass over the whole file feeds the raw hash and the entries.
      const scanner = new EntryScanner(planned, source.size, options);
      const comment = Buffer.from(zip.comment as unknown as Buffer);
      const { onEntriesRead } = options;
      let scan: Awaited<ReturnType<typeof scanSource>>;
      try {
        scan = await scanSource(guardReads(source), {
          ...options.rawSha256,
          hash: options.rawSha256 !== undefined,
          onChunk: (offset, bytes, checksums) => scanner.consume(offset, bytes, checksums),
          onChunksDone: () => {
            const entries = scanner.entriesRead();
            try {
              onEntriesRead?.(entries, comment);
            } catch (error) {
              callerFailure = { error };
            }
          },
        });
      } finally {
        scanner.destroy();
      }
      const entries = scanner.finish(scan.crc32);
      const rawSha256 = scan.sha256;
      contents = {
        entries,
        comment,
        unpackedSize: planned.reduce((sum, e) => sum + e.size, 0),
        ...(rawSha256 === undefined ? {} : { rawSha256 }),
      };
    } finally {
      zip.close();
    }
  } catch (error) {
    throw translateError(error);
  }
  if (callerFailure !== undefined) throw callerFailure.error;
  return contents;
}

/* ----------------------------------------------------------------------------------------------
 * Phase 1: the central directory
 * ------------------------------------------------------------------------------------------- */

interface PlannedEntry {
  readonly raw: yauzl.Entry;
  /** Position in the central directory (zip order). */
  readonly index: number;
  readonly name: string;
  readonly size: number;
  readonly compressedSize: number;
  /** Where the next local header (or the end of the file) starts: this entry's data must end before. */
  dataLimit: number;
}

function openZip(reader: ByteSourceReader, size: number): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader,
      size,
      // decodeStrings: false — names and the comment stay raw bytes; we decode and judge them
      // ourselves (Dify hashes the raw name bytes, and yauzl's own name checks are weaker).
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true },
      (error, zip) => (error ? reject(error) : resolve(zip)),
    );
  });
}

function readCentralDirectory(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    const cleanup = () => {
      zip.removeListener('entry', onEntry);
      zip.removeListener('end', onEnd);
      zip.removeListener('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    };
    const onEnd = () => {
      cleanup();
      resolve(entries);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function planEntries(raw: yauzl.Entry[], packageBytes: number, options: ReadArchiveOptions): PlannedEntry[] {
  const { limits } = options;
  const names = new Set<string>();
  const planned: PlannedEntry[] = [];
  let declaredTotal = 0;
  for (const entry of raw) {
    const name = decodeEntryName(entry);
    checkEntryKind(entry, name);
    if (names.has(name)) {
      throw new UnsafeArchiveError(
        `Entry "${name}" appears more than once; extractors disagree on which wins.`,
      );
    }
    names.add(name);

    const size = entry.uncompressedSize;
    const compressedSize = entry.compressedSize;
    if (exceedsEntryRatio(limits, size, compressedSize)) {
      throw new UnsafeArchiveError(
        `Entry "${name}" declares ${formatBytes(size)} from ${formatBytes(compressedSize)} ` +
          `(ratio above ${limits.maxCompressionRatio}:1): refused as a zip bomb.`,
      );
    }
    if (name === MANIFEST_FILE && size > limits.maxManifestBytes) {
      throw new UnsafeArchiveError(
        `${MANIFEST_FILE} is ${formatBytes(size)}; the limit is ${formatBytes(limits.maxManifestBytes)}.`,
      );
    }
    declaredTotal += size;
    checkTotal(limits, declaredTotal, packageBytes, 'declares');
    planned.push({ raw: entry, index: planned.length, name, size, compressedSize, dataLimit: packageBytes });
  }
  checkNoOverlap(planned);
  if (!names.has(MANIFEST_FILE)) {
    throw new InvalidPackageError(`The package has no ${MANIFEST_FILE} at its root.`);
  }
  // README.md is optional: Dify's decoder installs packages without one (its own test packages
  // have none) and only reads it for display.
  options.checkNames?.(names);
  return planned;
}

function checkTotal(limits: PackageLimits, total: number, packageBytes: number, verb: string): void {
  if (total > limits.maxUnpackedBytes) {
    // The daemon applies MAX_PLUGIN_PACKAGE_SIZE to the unpacked total too.
    throw new PackageTooLargeError(
      `The archive ${verb} more than ${formatBytes(limits.maxUnpackedBytes)} of content once unpacked.`,
    );
  }
  const ratioCap = limits.maxCompressionRatio * Math.max(packageBytes, limits.compressionRatioFloorBytes);
  if (total > ratioCap) {
    throw new UnsafeArchiveError(
      `The archive ${verb} more than ${formatBytes(ratioCap)} unpacked from ${formatBytes(packageBytes)} ` +
        `(ratio above ${limits.maxCompressionRatio}:1): refused as a zip bomb.`,
    );
  }
}

/**
 * Turns the raw name bytes into a name, refusing anything an extractor could place outside the
 * target directory or read differently than Dify does. Dify (Go) uses the raw bytes as the name,
 * so a name must be valid UTF-8, and non-ASCII names must carry the UTF-8 flag (otherwise most
 * extractors decode them as CP437) with no conflicting Info-ZIP Unicode Path extra field.
 */
function decodeEntryName(entry: yauzl.Entry): string {
  const rawName = entry.fileNameRaw;
  const shown = JSON.stringify(rawName.toString('latin1'));
  if (rawName.length === 0) throw new UnsafeArchiveError('An entry has an empty name.');
  let name: string;
  try {
    name = utf8.decode(rawName);
  } catch {
    throw new UnsafeArchiveError(`Entry name ${shown} is not valid UTF-8.`);
  }
  const quoted = JSON.stringify(name);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new UnsafeArchiveError(`Entry name ${quoted} contains a NUL or control character.`);
  }
  if (rawName.some((byte) => byte >= 0x80) && (entry.generalPurposeBitFlag & GP_FLAG_UTF8) === 0) {
    throw new UnsafeArchiveError(
      `Entry name ${quoted} has non-ASCII characters but is not marked as UTF-8; extractors disagree on it.`,
    );
  }
  const unicodePath = entry.extraFields.some((field) => field.id === INFO_ZIP_UNICODE_PATH);
  if (
    unicodePath &&
    yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, rawName, entry.extraFields, false) !== name
  ) {
    throw new UnsafeArchiveError(`Entry ${quoted} carries a different name in its Unicode Path extra field.`);
  }
  if (name.includes('\\')) {
    throw new UnsafeArchiveError(`Entry name ${quoted} contains a backslash; use "/" as the separator.`);
  }
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) {
    throw new UnsafeArchiveError(`Entry name ${quoted} is an absolute path.`);
  }
  const isDirectory = name.endsWith('/');
  const segments = (isDirectory ? name.slice(0, -1) : name).split('/');
  if (segments.includes('..')) {
    throw new UnsafeArchiveError(`Entry name ${quoted} contains a ".." segment (path traversal).`);
  }
  if (segments.some((segment) => segment === '' || segment === '.')) {
    throw new UnsafeArchiveError(`Entry name ${quoted} is not in normalized form (empty or "." segment).`);
  }
  return name;
}

function checkEntryKind(entry: yauzl.Entry, name: string): void {
  const quoted = JSON.stringify(name);
  if ((entry.generalPurposeBitFlag & GP_FLAG_ENCRYPTED) !== 0) {
    throw new UnsafeArchiveError(`Entry ${quoted} is encrypted.`);
  }
  const fileType = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (fileType === S_IFLNK) {
    throw new UnsafeArchiveError(`Entry ${quoted} is a symbolic link.`);
  }
  if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) {
    throw new UnsafeArchiveError(`Entry ${quoted} is a special file (device, FIFO or socket).`);
  }
  if (name.endsWith('/')) {
    throw new InvalidPackageError(
      `Archive has a directory entry ${quoted}, which Dify cannot read; repack without directory entries ` +
        '(e.g. `zip -D`).',
    );
  }
  if (entry.compressionMethod !== METHOD_STORED && entry.compressionMethod !== METHOD_DEFLATE) {
    throw new InvalidPackageError(
      `Entry ${quoted} uses unsupported compression method ${entry.compressionMethod}; ` +
        'only stored (0) and deflate (8) are supported.',
    );
  }
}

/**
 * Refuses entries whose data overlap (the "overlapping files" zip bomb reuses one compressed
 * stream for many entries). Uses a lower bound of each local header's size; the exact bound is
 * re-checked once the local header is read.
 */
function checkNoOverlap(planned: PlannedEntry[]): void {
  const byOffset = [...planned].sort(
    (a, b) => a.raw.relativeOffsetOfLocalHeader - b.raw.relativeOffsetOfLocalHeader,
  );
  for (let i = 0; i + 1 < byOffset.length; i++) {
    const current = byOffset[i] as PlannedEntry;
    const next = byOffset[i + 1] as PlannedEntry;
    const minEnd =
      current.raw.relativeOffsetOfLocalHeader +
      LOCAL_HEADER_FIXED_BYTES +
      current.raw.fileNameLength +
      current.compressedSize;
    if (minEnd > next.raw.relativeOffsetOfLocalHeader) {
      throw new UnsafeArchiveError(
        `Entries ${JSON.stringify(current.name)} and ${JSON.stringify(next.name)} overlap in the archive.`,
      );
    }
    current.dataLimit = next.raw.relativeOffsetOfLocalHeader;
  }
}

/* ----------------------------------------------------------------------------------------------
 * Phase 2: contents
 * ------------------------------------------------------------------------------------------- */

/**
 * Walks the entries in file order over the chunks of one sequential pass: skips gaps, parses each
 * local header (the checks yauzl's `readLocalFileHeader` makes, plus ours), then feeds the entry's
 * data to an {@link EntrySink}. Chunks are views into reused memory: nothing is kept past a call.
 */
class EntryScanner {
  /** Entries sorted by local header offset (checked strictly increasing by `checkNoOverlap`). */
  private readonly byOffset: PlannedEntry[];
  private readonly results: ArchiveEntry[] = [];
  /** Per finished entry, in file order: the CRC-32 of its last `length` bytes (computed here). */
  private readonly crcs: Array<{ entry: PlannedEntry; crc: number; length: number }> = [];
  private next = 0;
  private phase: 'seek' | 'header' | 'name' | 'data' = 'seek';
  private readonly header = Buffer.alloc(LOCAL_HEADER_FIXED_BYTES);
  private name = Buffer.alloc(0);
  private filled = 0;
  private dataStart = 0;
  private dataEnd = 0;
  private sink: EntrySink | undefined;
  private readonly budget: { remaining: number };

  constructor(
    planned: PlannedEntry[],
    private readonly packageBytes: number,
    private readonly options: ReadArchiveOptions,
  ) {
    this.byOffset = [...planned].sort(
      (a, b) => a.raw.relativeOffsetOfLocalHeader - b.raw.relativeOffsetOfLocalHeader,
    );
    this.budget = { remaining: options.limits.maxUnpackedBytes };
  }

  async consume(offset: number, bytes: Uint8Array, checksums: ChunkChecksums): Promise<void> {
    const end = offset + bytes.length;
    let position = offset;
    while (this.next < this.byOffset.length) {
      const entry = this.byOffset[this.next] as PlannedEntry;
      if (this.phase === 'data' && position >= this.dataStart && position === this.dataEnd) {
        await this.finishEntry(entry);
        continue;
      }
      if (position >= end) return;
      switch (this.phase) {
        case 'seek': {
          const start = entry.raw.relativeOffsetOfLocalHeader;
          if (position < start) position = Math.min(start, end);
          else this.phase = 'header';
          break;
        }
        case 'header': {
          position = this.gather(this.header, bytes, offset, position, end);
          if (this.filled === this.header.length) this.parseHeader(entry);
          break;
        }
        case 'name': {
          position = this.gather(this.name, bytes, offset, position, end);
          if (this.filled === this.name.length) this.startEntry(entry);
          break;
        }
        case 'data': {
          if (position < this.dataStart) {
            position = Math.min(this.dataStart, end); // the extra field
            break;
          }
          const stop = Math.min(end, this.dataEnd);
          await (this.sink as EntrySink).write(bytes.subarray(position - offset, stop - offset), checksums);
          position = stop;
          break;
        }
      }
    }
  }

  /** After the last chunk: every entry must have been read whole (CRC-32s not checked yet). */
  entriesRead(): ArchiveEntry[] {
    // Only a header can be cut off: an entry's data is checked to fit in the file first.
    if (this.next < this.byOffset.length) throw new Error('unexpected EOF');
    return this.results;
  }

  /**
   * After the last chunk: every entry must have been read whole, and every CRC-32 must match (in
   * file order), its parts from the pass (`passCrcs`, by entry index) followed by the sink's own.
   */
  finish(passCrcs: ReadonlyMap<number, number>): ArchiveEntry[] {
    this.entriesRead();
    for (const { entry, crc, length } of this.crcs) {
      const actual = crc32Combine(passCrcs.get(entry.index) ?? 0, crc, length);
      if (actual !== entry.raw.crc32) {
        throw new InvalidPackageError(
          `Entry ${JSON.stringify(entry.name)} is corrupt: its CRC-32 does not match its content.`,
        );
      }
    }
    return this.results;
  }

  private gather(target: Buffer, bytes: Uint8Array, offset: number, position: number, end: number): number {
    const take = Math.min(target.length - this.filled, end - position);
    target.set(bytes.subarray(position - offset, position - offset + take), this.filled);
    this.filled += take;
    return position + take;
  }

  private parseHeader(entry: PlannedEntry): void {
    const signature = this.header.readUInt32LE(0);
    if (signature !== 0x04034b50) {
      throw new Error(`invalid local file header signature: 0x${signature.toString(16)}`);
    }
    const fileNameLength = this.header.readUInt16LE(26);
    const extraFieldLength = this.header.readUInt16LE(28);
    const start = entry.raw.relativeOffsetOfLocalHeader;
    this.dataStart = start + LOCAL_HEADER_FIXED_BYTES + fileNameLength + extraFieldLength;
    if (this.dataStart + entry.compressedSize > this.packageBytes) {
      throw new Error(
        `file data overflows file bounds: ${this.dataStart} + ${entry.compressedSize} > ${this.packageBytes}`,
      );
    }
    this.name = Buffer.alloc(fileNameLength);
    this.filled = 0;
    this.phase = 'name';
    if (fileNameLength === 0) this.startEntry(entry);
  }

  private startEntry(entry: PlannedEntry): void {
    const quoted = JSON.stringify(entry.name);
    if (!this.name.equals(entry.raw.fileNameRaw)) {
      throw new UnsafeArchiveError(`Entry ${quoted} has a different name in its local header.`);
    }
    if ((this.header.readUInt16LE(6) & GP_FLAG_ENCRYPTED) !== 0) {
      throw new UnsafeArchiveError(`Entry ${quoted} is encrypted.`);
    }
    if (this.dataStart + entry.compressedSize > entry.dataLimit) {
      throw new UnsafeArchiveError(`Entry ${quoted} overlaps the next entry in the archive.`);
    }
    this.dataEnd = this.dataStart + entry.compressedSize;
    this.sink = new EntrySink(entry, this.options, this.budget);
    this.phase = 'data';
  }

  private async finishEntry(entry: PlannedEntry): Promise<void> {
    const sink = this.sink as EntrySink;
    this.sink = undefined;
    const { result, crc, crcLength } = await sink.end();
    this.results[entry.index] = result;
    this.crcs.push({ entry, crc, length: crcLength });
    this.next += 1;
    this.phase = 'seek';
    this.filled = 0;
  }

  /** Releases the inflater of an entry left half-read by a failure. */
  destroy(): void {
    this.sink?.destroy();
  }
}

/**
 * Inflates (deflate) or passes through (stored) one entry's data, checking the actual byte counts
 * against the declared size and the caps as they are produced, and computing SHA-256 and CRC-32.
 * The CRC-32 of bytes passed through from the read buffer is handed to the pass (its worker
 * computes it); the sink computes that of what zlib inflates, which always comes after them.
 *
 * Deflate streams start on a fast path: as long as the stream is made of *stored* blocks (what
 * zlib emits for incompressible data such as archives, images or model weights), their payload is
 * hashed straight from the read buffer, with no copy through zlib. At the first compressed block
 * the rest of the stream goes to zlib, primed with the last 32 KiB of output as its window, which
 * is exactly the state a single inflate of the whole stream would be in. Corrupt stored blocks
 * fail with zlib's own messages.
 */
class EntrySink {
  private readonly hash = createHash('sha256');
  private readonly chunks: Buffer[] | undefined;
  /** CRC-32 of the bytes inflated here (the entry's last `crcLength` bytes). */
  private crc = 0;
  private crcLength = 0;
  private actual = 0;
  private inflater: InflateRaw | undefined;
  private failure: unknown;
  /** Fast path state (deflate only): undefined once handed to zlib or for stored entries. */
  private blocks: StoredBlocks | undefined;

  constructor(
    private readonly entry: PlannedEntry,
    private readonly options: ReadArchiveOptions,
    private readonly budget: { remaining: number },
  ) {
    this.chunks = options.collect?.(entry.name, entry.size) ? [] : undefined;
    // The window never needs more than the entry's declared size (`take` refuses more output).
    if (entry.raw.compressionMethod === METHOD_DEFLATE)
      this.blocks = new StoredBlocks(Math.min(DEFLATE_WINDOW_BYTES, entry.size));
  }

  /** Consumes a piece of the entry's raw data; `piece` may be reused once this resolves. */
  async write(piece: Uint8Array, checksums: ChunkChecksums): Promise<void> {
    if (this.inflater === undefined && this.blocks === undefined) {
      this.take(piece, checksums);
      return;
    }
    let rest = piece;
    if (this.blocks !== undefined) {
      const blocks = this.blocks;
      let handOff: Uint8Array | undefined;
      try {
        handOff = blocks.feed(piece, (payload) => this.take(payload, checksums));
      } catch (error) {
        throw classifyStreamError(error, this.entry);
      }
      if (handOff === undefined) return;
      this.blocks = undefined;
      this.startInflater(blocks.window());
      rest = handOff;
    }
    const inflater = this.inflater as InflateRaw;
    if (rest.length > 0) await this.settle(inflater, (done) => inflater.write(rest, done));
  }

  /** The entry, once its sizes are checked; its CRC-32 is checked by the caller after the pass. */
  async end(): Promise<{ result: ArchiveEntry; crc: number; crcLength: number }> {
    if (this.blocks !== undefined && !this.blocks.done) {
      throw classifyStreamError(zlibLikeError('unexpected end of file', 'Z_BUF_ERROR'), this.entry);
    }
    const inflater = this.inflater;
    if (inflater !== undefined) {
      // Done once the readable side ends: every inflated byte has been through `take`.
      await this.settle(inflater, (done) => {
        inflater.once('end', done);
        inflater.end();
      });
    }
    const { entry } = this;
    const quoted = JSON.stringify(entry.name);
    if (this.actual !== entry.size) {
      throw new InvalidPackageError(
        `Entry ${quoted} is truncated or corrupt: it inflates to ${this.actual} of its declared ${entry.size} bytes.`,
      );
    }
    const result: ArchiveEntry = {
      name: entry.name,
      size: entry.size,
      compressedSize: entry.compressedSize,
      sha256: this.hash.digest(),
    };
    return {
      result: this.chunks ? { ...result, content: Buffer.concat(this.chunks, this.actual) } : result,
      crc: this.crc,
      crcLength: this.crcLength,
    };
  }

  destroy(): void {
    this.inflater?.destroy();
  }

  private startInflater(window: Buffer): void {
    // 256 KiB output chunks: zlib's default 16 KiB made inflate latency-bound (one thread-pool
    // round trip per chunk). A lying size is stopped within one chunk of its declared size.
    const inflater = createInflateRaw({
      chunkSize: INFLATE_CHUNK_BYTES,
      ...(window.length > 0 ? { dictionary: window } : {}),
    });
    inflater.on('data', (chunk: Buffer) => {
      if (this.failure !== undefined) return;
      try {
        this.take(chunk);
      } catch (error) {
        this.failure = error;
        inflater.destroy();
      }
    });
    // Zlib errors also reach `settle`; this keeps one between two writes from going unhandled.
    inflater.on('error', (error) => {
      this.failure ??= error;
    });
    this.inflater = inflater;
  }

  /**
   * Runs a write or end on the inflater and waits until it has consumed its input (or failed, or
   * was destroyed by a check), then surfaces the first failure.
   */
  private async settle(inflater: InflateRaw, start: (done: (error?: Error | null) => void) => void) {
    try {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          inflater.off('error', onError);
          inflater.off('close', onClose);
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        const onClose = () => {
          cleanup();
          resolve();
        };
        inflater.once('error', onError);
        inflater.once('close', onClose);
        start((error) => {
          cleanup();
          if (error) reject(error);
          else resolve();
        });
      });
    } catch (error) {
      inflater.destroy();
      throw classifyStreamError(this.failure ?? error, this.entry);
    }
    if (this.failure !== undefined) throw classifyStreamError(this.failure, this.entry);
  }

  /**
   * Counts, checks and hashes output. With `borrowed` (the pass's checksums), `chunk` is a view into
   * the read buffer: its CRC-32 goes to the pass and a collected copy is taken; otherwise it is
   * zlib's own output, checksummed here.
   */
  private take(chunk: Uint8Array, borrowed?: ChunkChecksums): void {
    const { entry } = this;
    this.actual += chunk.length;
    if (this.actual > entry.size) throw lyingSizeError(entry);
    this.budget.remaining -= chunk.length;
    if (this.budget.remaining < 0) {
      throw new UnsafeArchiveError(
        `The archive inflates to more than ${formatBytes(this.options.limits.maxUnpackedBytes)}.`,
      );
    }
    this.hash.update(chunk);
    if (borrowed !== undefined) {
      // The pass's parts come first in the entry: nothing may follow what zlib produced here.
      if (this.crcLength > 0)
        throw new RangeError('CRC-32 parts out of order: borrowed bytes after inflated ones');
      borrowed.crc32(entry.index, chunk);
    } else {
      this.crc = crc32(chunk, this.crc);
      this.crcLength += chunk.length;
    }
    // Borrowed bytes are a view into the reader's reused memory: keep a copy.
    this.chunks?.push(borrowed ? Buffer.from(chunk) : (chunk as Buffer));
  }
}

/** Deflate's window: how far back a compressed block may copy from. */
const DEFLATE_WINDOW_BYTES = 32 * 1024;
const STORED_HEADER_BYTES = 5;

/**
 * Reads a deflate stream for as long as it consists of stored blocks (RFC 1951 §3.2.4: a header
 * byte with BTYPE 00, which leaves the stream byte-aligned, then LEN, NLEN and LEN raw bytes).
 */
class StoredBlocks {
  /** The final block has ended; like zlib, anything after it is ignored. */
  done = false;
  private readonly header = Buffer.alloc(STORED_HEADER_BYTES);
  private headerFilled = 0;
  private remaining = 0;
  private final = false;
  /**
   * The last output (up to `capacity` bytes), saved at the end of every piece (pieces are reused
   * memory). Allocated at the first output, then reused: no allocation per piece.
   */
  private tail: Buffer | undefined;
  private tailLength = 0;

  /** @param capacity the window to keep: 32 KiB, or less when the whole output is smaller. */
  constructor(private readonly capacity: number) {}

  /**
   * Emits the payload of `piece`. Returns undefined when the whole piece was consumed, or the rest
   * of it, starting at a compressed block's header, for zlib to take over.
   */
  feed(piece: Uint8Array, emit: (payload: Uint8Array) => void): Uint8Array | undefined {
    const outputs: Uint8Array[] = [];
    let position = 0;
    let handOff: Uint8Array | undefined;
    while (position < piece.length && !this.done) {
      if (this.remaining > 0) {
        const payload = piece.subarray(
          position,
          position + Math.min(this.remaining, piece.length - position),
        );
        emit(payload);
        outputs.push(payload);
        this.remaining -= payload.length;
        position += payload.length;
        if (this.remaining === 0 && this.final) this.done = true;
        continue;
      }
      if (this.headerFilled === 0 && ((piece[position] as number) & 0x06) !== 0) {
        handOff = piece.subarray(position); // BTYPE 01, 10 (or the invalid 11): zlib's job
        break;
      }
      const take = Math.min(STORED_HEADER_BYTES - this.headerFilled, piece.length - position);
      this.header.set(piece.subarray(position, position + take), this.headerFilled);
      this.headerFilled += take;
      position += take;
      if (this.headerFilled < STORED_HEADER_BYTES) continue;
      this.headerFilled = 0;
      const length = this.header.readUInt16LE(1);
      if (length !== (~this.header.readUInt16LE(3) & 0xffff)) {
        throw zlibLikeError('invalid stored block lengths', 'Z_DATA_ERROR');
      }
      this.final = ((this.header[0] as number) & 0x01) !== 0;
      this.remaining = length;
      if (length === 0 && this.final) this.done = true;
    }
    this.keepTail(outputs);
    return handOff;
  }

  /** The dictionary zlib needs to continue the stream. */
  window(): Buffer {
    return this.tail === undefined ? Buffer.alloc(0) : this.tail.subarray(0, this.tailLength);
  }

  private keepTail(outputs: Uint8Array[]): void {
    let fresh = 0;
    for (const output of outputs) fresh += output.length;
    if (fresh === 0) return;
    this.tail ??= Buffer.allocUnsafe(this.capacity);
    const tail = this.tail;
    const keptNew = Math.min(fresh, this.capacity);
    const keptOld = Math.min(this.tailLength, this.capacity - keptNew);
    // The old bytes still in the window slide to the front; the newest output follows them.
    tail.copyWithin(0, this.tailLength - keptOld, this.tailLength);
    let end = keptOld + keptNew;
    for (let i = outputs.length - 1; i >= 0 && end > keptOld; i--) {
      const output = outputs[i] as Uint8Array;
      const take = Math.min(output.length, end - keptOld);
      tail.set(output.subarray(output.length - take), end - take);
      end -= take;
    }
    this.tailLength = keptOld + keptNew;
  }
}

/** An error shaped like zlib's own (plain `Error` with a `Z_…` code), for the same handling. */
function zlibLikeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function lyingSizeError(entry: PlannedEntry): UnsafeArchiveError {
  return new UnsafeArchiveError(
    `Entry ${JSON.stringify(entry.name)} inflates beyond its declared size of ${formatBytes(entry.size)}.`,
  );
}

function classifyStreamError(error: unknown, entry: PlannedEntry): unknown {
  if (error instanceof ProblemError || error instanceof SourceReadFailure || isProgrammingError(error))
    return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('too many bytes in the stream')) return lyingSizeError(entry);
  if (message.startsWith('not enough bytes in the stream')) {
    return new InvalidPackageError(
      `Entry ${JSON.stringify(entry.name)} is truncated or corrupt: it inflates to fewer bytes than declared.`,
      { cause: error },
    );
  }
  return new InvalidPackageError(
    `Entry ${JSON.stringify(entry.name)} cannot be read: ${message.replace(/\.$/, '')}.`,
    { cause: error },
  );
}

/* ----------------------------------------------------------------------------------------------
 * Errors and the yauzl reader
 * ------------------------------------------------------------------------------------------- */

/** Wraps a failure of the byte source itself so it is not mistaken for a corrupt archive. */
class SourceReadFailure extends Error {
  constructor(cause: unknown) {
    super('reading the package failed', { cause });
    this.name = 'SourceReadFailure';
  }
}

/**
 * yauzl and zlib report bad archives with plain `Error`s; a `TypeError`, `RangeError` etc. is a bug
 * in this code and must surface as one (a 500), not be disguised as a bad package.
 */
function isProgrammingError(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.constructor !== Error &&
    !('code' in error && /^Z_/.test(String(error.code)))
  );
}

function translateError(error: unknown): unknown {
  if (error instanceof SourceReadFailure) return error.cause;
  if (error instanceof ProblemError || isProgrammingError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/encryption/i.test(message)) {
    return new UnsafeArchiveError(`The archive uses encryption: ${message}.`, { cause: error });
  }
  return new InvalidPackageError(
    `The package is not a readable zip archive: ${message.replace(/\.$/, '')}.`,
    {
      cause: error,
    },
  );
}

/** The source with its read failures marked, so they are rethrown as is and not taken for a bad archive. */
function guardReads(source: ByteSource): ByteSource {
  const guard = (error: unknown): never => {
    throw new SourceReadFailure(error);
  };
  const { readInto } = source;
  return {
    size: source.size,
    read: (offset, length) => source.read(offset, length).catch(guard),
    ...(readInto === undefined
      ? {}
      : { readInto: (target, offset) => readInto.call(source, target, offset).catch(guard) }),
  };
}

/** Reads are served from one cached block when small (central directory, local headers, small files). */
const BLOCK_BYTES = 64 * 1024;
/** Inflate output chunk: large enough that thread-pool round trips do not dominate. */
const INFLATE_CHUNK_BYTES = 256 * 1024;

/**
 * Adapts a {@link ByteSource} to yauzl's `RandomAccessReader`. Small reads go through a one-block
 * cache: reading the central directory and local headers would otherwise cost one source read per
 * field (fatal on S3 range GETs). Ranges past the end of the source are clamped, which yauzl then
 * reports as a truncated archive.
 */
class ByteSourceReader extends yauzl.RandomAccessReader {
  private block: { start: number; bytes: Uint8Array } | undefined;

  constructor(private readonly source: ByteSource) {
    super();
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null, bytesRead?: number) => void,
  ): void {
    this.readRange(position, position + length).then(
      (bytes) => {
        buffer.set(bytes, offset);
        callback(null, bytes.length);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private async readRange(start: number, end: number): Promise<Uint8Array> {
    const size = this.source.size;
    const from = Math.max(0, Math.min(start, size));
    const to = Math.max(from, Math.min(end, size));
    const cached = this.block;
    if (cached && from >= cached.start && to <= cached.start + cached.bytes.length) {
      return cached.bytes.subarray(from - cached.start, to - cached.start);
    }
    if (to - from >= BLOCK_BYTES) return this.sourceRead(from, to - from);
    const blockEnd = Math.min(size, from + BLOCK_BYTES);
    const bytes = await this.sourceRead(from, blockEnd - from);
    this.block = { start: from, bytes };
    return bytes.subarray(0, to - from);
  }

  private async sourceRead(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    try {
      return await this.source.read(offset, length);
    } catch (error) {
      throw new SourceReadFailure(error);
    }
  }
}
