import { readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { assertRange, type ByteSource } from '#core/package/byte-source.ts';

/** A {@link ByteSource} over a local file, read with positioned reads (no whole-file buffer). */
export interface FileByteSource extends ByteSource {
  close(): Promise<void>;
}

/**
 * Opens `path` read-only. The size is taken once at open time: the file is expected not to
 * change while it is being read (packages are immutable once written).
 *
 * @example
 * const source = await openFileByteSource('/tmp/plugin.difypkg');
 * try { return await inspectPackage(source, { keyring }); } finally { await source.close(); }
 */
export async function openFileByteSource(path: string): Promise<FileByteSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return new FileHandleByteSource(handle, size);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

class FileHandleByteSource implements FileByteSource {
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    assertRange(offset, length, this.size);
    // A fresh, unpooled buffer per read: callers may transfer it to a worker thread.
    const buffer = Buffer.allocUnsafeSlow(length);
    await this.fill(buffer, offset);
    return buffer;
  }

  /**
   * Reads straight into the caller's buffer (e.g. a reused slot): no allocation per read. The
   * positioned read runs on the calling thread: the package scan asks for 1 MiB at a time of a
   * file it has just written or downloaded (in the page cache), a copy of ~0.1–0.3 ms — less than
   * the SHA-256 the same thread then runs over those bytes, which blocks it just the same. Through
   * the thread pool the read was a third busy thread beside the scan's two hashing ones, and on
   * two cores it slowed both (bench/verify 1.86–1.99 → 1.53–1.58 on a 2-core host).
   */
  async readInto(target: Uint8Array, offset: number): Promise<void> {
    assertRange(offset, target.length, this.size);
    let filled = 0;
    while (filled < target.length) {
      const bytesRead = readSync(this.handle.fd, target, filled, target.length - filled, offset + filled);
      if (bytesRead === 0) throw this.endOfFile(offset + filled);
      filled += bytesRead;
    }
  }

  private async fill(target: Uint8Array, offset: number): Promise<void> {
    const length = target.length;
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(target, filled, length - filled, offset + filled);
      if (bytesRead === 0) throw this.endOfFile(offset + filled);
      filled += bytesRead;
    }
  }

  /** The file ended before `position`: it shrank after it was opened. */
  private endOfFile(position: number): Error {
    return new Error(`unexpected end of file at ${position} (size ${this.size})`);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
