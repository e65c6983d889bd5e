/**
 * The random-access byte-source port. Package code reads archives only through it, so the same
 * parser works on an in-memory upload, a local file or an S3 object (range GETs) without ever
 * holding the whole package in memory.
 */

/** Random access to an immutable sequence of bytes. */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Reads `length` bytes starting at `offset`. Implementations must return exactly the bytes
   * asked for (a short read is an error: the caller has already checked the range against
   * `size`). The returned array may be a view the caller must not mutate.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads `target.length` bytes starting at `offset` into `target` (same range rules as
   * `read`). Sources that would otherwise allocate per read implement it so sequential passes can
   * reuse one buffer; callers fall back to `read` and a copy.
   */
  readInto?(target: Uint8Array, offset: number): Promise<void>;
}

/**
 * Wraps bytes already in memory (uploads in tests, packages built by the signer).
 * Reads are zero-copy views into `buf`.
 *
 * @example
 * const pkg = await inspectPackage(byteSourceFromBuffer(body), { keyring });
 */
export function byteSourceFromBuffer(buf: Uint8Array): ByteSource {
  return {
    size: buf.byteLength,
    read(offset, length) {
      assertRange(offset, length, buf.byteLength);
      return Promise.resolve(buf.subarray(offset, offset + length));
    },
  };
}

/** Throws a `RangeError` when `[offset, offset + length)` is not inside `[0, size)`. */
export function assertRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`invalid read range: offset ${offset}, length ${length}`);
  }
  if (offset + length > size) {
    throw new RangeError(`read past end of source: ${offset} + ${length} > ${size}`);
  }
}
