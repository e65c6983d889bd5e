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
 *
 * Nothing is extracted to disk and nothing buffers the whole package: reads go through the
 * {@link ByteSource} port, and only entries the caller asks for (`collect`) are kept in memory.
 */

import { createHash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import { InvalidPackageError, PackageTooLargeError, ProblemError, UnsafeArchiveError } from '#core/errors.ts';
import type { ByteSource } from './byte-source.ts';
import { exceedsEntryRatio, formatBytes, type PackageLimits } from './limits.ts';

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
}

export interface ReadArchiveOptions {
  readonly limits: PackageLimits;
  /** Entries whose content should be returned (`size` is the verified-declared inflated size). */
  readonly collect?: (name: string, size: number) => boolean;
  /** Extra rules on the full list of names, run after phase 1 (e.g. required files). */
  readonly checkNames?: (names: ReadonlySet<string>) => void;
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
      const entries: ArchiveEntry[] = [];
      const budget = { remaining: limits.maxUnpackedBytes };
      for (const entry of planned) entries.push(await readEntryContent(zip, entry, options, budget));
      return {
        entries,
        comment: Buffer.from(zip.comment as unknown as Buffer),
        unpackedSize: planned.reduce((sum, e) => sum + e.size, 0),
      };
    } finally {
      zip.close();
    }
  } catch (error) {
    throw translateError(error);
  }
}

/* ----------------------------------------------------------------------------------------------
 * Phase 1: the central directory
 * ------------------------------------------------------------------------------------------- */

interface PlannedEntry {
  readonly raw: yauzl.Entry;
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
    planned.push({ raw: entry, name, size, compressedSize, dataLimit: packageBytes });
  }
  checkNoOverlap(planned);
  if (!names.has(MANIFEST_FILE)) {
    throw new InvalidPackageError(`The package has no ${MANIFEST_FILE} at its root.`);
  }
  if (!names.has(README_FILE)) {
    throw new InvalidPackageError(`The package has no ${README_FILE} at its root.`);
  }
  options.checkNames?.(names);
  return planned;
}

function checkTotal(limits: PackageLimits, total: number, packageBytes: number, verb: string): void {
  if (total > limits.maxUnpackedBytes) {
    throw new UnsafeArchiveError(
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

async function readEntryContent(
  zip: yauzl.ZipFile,
  entry: PlannedEntry,
  options: ReadArchiveOptions,
  budget: { remaining: number },
): Promise<ArchiveEntry> {
  const quoted = JSON.stringify(entry.name);
  const header = await zip.readLocalFileHeaderPromise(entry.raw);
  if (!header.fileName.equals(entry.raw.fileNameRaw)) {
    throw new UnsafeArchiveError(`Entry ${quoted} has a different name in its local header.`);
  }
  if ((header.generalPurposeBitFlag & GP_FLAG_ENCRYPTED) !== 0) {
    throw new UnsafeArchiveError(`Entry ${quoted} is encrypted.`);
  }
  if (header.fileDataStart + entry.compressedSize > entry.dataLimit) {
    throw new UnsafeArchiveError(`Entry ${quoted} overlaps the next entry in the archive.`);
  }
  // Raw (still compressed) bytes from yauzl, inflated here: yauzl's inflater uses zlib's default
  // 16 KiB output chunks, one thread-pool round trip each, which made large packages latency-bound.
  // Byte counts are asserted below instead of by yauzl's counter. (The callback form: yauzl 3.4's
  // `openReadStreamLowLevelPromise` forwards to the wrong method.)
  const raw = await new Promise<Readable>((resolve, reject) =>
    zip.openReadStreamLowLevel(
      header.fileDataStart,
      entry.compressedSize,
      0,
      entry.compressedSize,
      false,
      null,
      (error, readStream) => (error ? reject(error) : resolve(readStream)),
    ),
  );
  const stream =
    entry.raw.compressionMethod === METHOD_DEFLATE
      ? pipeline(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES }), () => undefined)
      : raw;

  const hash = createHash('sha256');
  const chunks: Buffer[] | undefined = options.collect?.(entry.name, entry.size) ? [] : undefined;
  let crc = 0;
  let actual = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      actual += chunk.length;
      if (actual > entry.size) throw lyingSizeError(entry);
      budget.remaining -= chunk.length;
      if (budget.remaining < 0) {
        throw new UnsafeArchiveError(
          `The archive inflates to more than ${formatBytes(options.limits.maxUnpackedBytes)}.`,
        );
      }
      hash.update(chunk);
      crc = crc32(chunk, crc);
      chunks?.push(chunk);
    }
  } catch (error) {
    stream.destroy();
    raw.destroy();
    throw classifyStreamError(error, entry);
  }
  if (actual !== entry.size) {
    throw new InvalidPackageError(
      `Entry ${quoted} is truncated or corrupt: it inflates to ${actual} of its declared ${entry.size} bytes.`,
    );
  }
  if (crc !== entry.raw.crc32) {
    throw new InvalidPackageError(`Entry ${quoted} is corrupt: its CRC-32 does not match its content.`);
  }
  const result: ArchiveEntry = {
    name: entry.name,
    size: entry.size,
    compressedSize: entry.compressedSize,
    sha256: hash.digest(),
  };
  return chunks ? { ...result, content: Buffer.concat(chunks, actual) } : result;
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

/** Reads are served from one cached block when small (central directory, local headers, small files). */
const BLOCK_BYTES = 64 * 1024;
/** Inflate output chunk: large enough that thread-pool round trips do not dominate. */
const INFLATE_CHUNK_BYTES = 256 * 1024;
/** Largest read issued for streamed entry data. */
const STREAM_CHUNK_BYTES = 1024 * 1024;

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

  override _readStreamForRange(start: number, end: number): Readable {
    const self = this;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let position = start; position < end; ) {
        const bytes = await self.readRange(position, Math.min(end, position + STREAM_CHUNK_BYTES));
        if (bytes.length === 0) return;
        yield bytes;
        position += bytes.length;
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: STREAM_CHUNK_BYTES });
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
