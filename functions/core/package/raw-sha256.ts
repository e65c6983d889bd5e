/**
 * One sequential pass over a package's raw bytes: their SHA-256 (the content address) and, for
 * the archive reader, every chunk in order.
 *
 * Inspecting a package hashes every byte twice: once raw (here) and once inflated (per entry, for
 * the Dify checksum and signature), and checksums every inflated byte with CRC-32. All of it is fed
 * from the same sequential read: each chunk is read once into a reusable slot of shared memory and
 * handed to a worker thread, which hashes it raw while the caller (`onChunk`) inflates and hashes
 * the entries on the main thread; then the worker computes the CRC-32 of the ranges the caller
 * asked for (entry bytes stored as is, which are views into the same slot) and frees the slot. On
 * a multi-core machine the two threads work on the same chunk at once, with no copy and no
 * per-chunk allocation. Small sources are handled inline, where a worker round trip costs more
 * than it saves.
 */

import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import type { ByteSource } from './byte-source.ts';

export interface RawSha256Options {
  /** Stops reading early (the result then rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Sources at least this large are hashed on a worker thread; `Infinity` disables it. */
  readonly workerThresholdBytes?: number;
}

export interface ScanOptions extends RawSha256Options {
  /** Whether to hash the raw bytes (default `true`); without it the pass only feeds `onChunk`. */
  readonly hash?: boolean;
  /**
   * Receives every chunk, in order and once each. `bytes` is only valid until the returned promise
   * settles (its memory is reused for a later chunk); copy what must outlive it. A rejection stops
   * the pass and is rethrown. `checksums` takes CRC-32 work on parts of this chunk.
   */
  readonly onChunk?: (offset: number, bytes: Uint8Array, checksums: ChunkChecksums) => void | Promise<void>;
  /**
   * Called once after the last `onChunk`, while the worker may still be busy with the last slots:
   * work done here overlaps with theirs. A rejection stops the pass and is rethrown.
   */
  readonly onChunksDone?: () => void | Promise<void>;
}

/** CRC-32 work the caller hands to the pass, computed off the main thread when it uses the worker. */
export interface ChunkChecksums {
  /**
   * Continues the CRC-32 accumulated under `key` with `part`, which must be a view into the chunk
   * being handed over (only valid during its `onChunk` call). Parts of one key are accumulated in
   * the order given; the result is in {@link ScanResult.crc32}.
   */
  crc32(key: number, part: Uint8Array): void;
}

export interface ScanResult {
  /** Hex SHA-256 of the whole source, unless the pass ran with `hash: false`. */
  readonly sha256: string | undefined;
  /** CRC-32 per key given to {@link ChunkChecksums.crc32}; keys never given are absent. */
  readonly crc32: ReadonlyMap<number, number>;
}

/** A failure of the hashing worker itself (it died or could not start); not a property of the bytes. */
export class HashWorkerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HashWorkerError';
  }
}

/** Sources from 4 MiB are hashed on the worker: below that, inline hashing takes a few ms. */
export const DEFAULT_WORKER_THRESHOLD_BYTES = 4 * 1024 * 1024;
/** Bytes per sequential read. */
const CHUNK_BYTES = 1024 * 1024;
/**
 * Shared-memory slots per worker job (~4 MiB): one being read, one with the caller, the rest queued
 * on the worker. A slot is reused once the worker has hashed it and the caller is done with it.
 */
const SLOTS = 4;

/**
 * Hex SHA-256 of every byte of `source`, read sequentially in 1 MiB chunks.
 *
 * @example
 * const sha256 = await sha256OfSource(source); // 'e3b0c442…'
 */
export async function sha256OfSource(source: ByteSource, options: RawSha256Options = {}): Promise<string> {
  return (await scanSource(source, options)).sha256 as string;
}

/**
 * Reads `source` once, front to back, hashing it (unless `hash: false`) and handing each chunk to
 * `onChunk`. Resolves to the hex SHA-256 (`undefined` without hashing) and the CRC-32s asked for.
 */
export async function scanSource(source: ByteSource, options: ScanOptions = {}): Promise<ScanResult> {
  const hashing = options.hash ?? true;
  const threshold = options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES;
  if (hashing && source.size >= threshold) return scanOnWorker(source, options);
  return scanInline(source, hashing, options);
}

async function scanInline(source: ByteSource, hashing: boolean, options: ScanOptions): Promise<ScanResult> {
  const hash = hashing ? createHash('sha256') : undefined;
  const crcs = new Map<number, number>();
  const checksums: ChunkChecksums = {
    crc32: (key, part) => {
      crcs.set(key, crc32(part, crcs.get(key) ?? 0));
    },
  };
  const slot = source.readInto ? new Uint8Array(Math.min(CHUNK_BYTES, source.size)) : undefined;
  for (let offset = 0; offset < source.size; offset += CHUNK_BYTES) {
    options.signal?.throwIfAborted();
    const length = Math.min(CHUNK_BYTES, source.size - offset);
    const bytes = await readChunk(source, offset, length, slot?.subarray(0, length));
    hash?.update(bytes);
    await options.onChunk?.(offset, bytes, checksums);
  }
  await options.onChunksDone?.();
  options.signal?.throwIfAborted();
  return { sha256: hash?.digest('hex'), crc32: crcs };
}

/** Reads into `target` when the source can, otherwise returns its own bytes (copied into `target` if given). */
async function readChunk(
  source: ByteSource,
  offset: number,
  length: number,
  target: Uint8Array | undefined,
): Promise<Uint8Array> {
  if (target === undefined) return source.read(offset, length);
  if (source.readInto) {
    await source.readInto(target, offset);
  } else {
    target.set(await source.read(offset, length));
  }
  return target;
}

/** Slots of the last job that finished cleanly, for the next one. */
let spareMemory: SharedArrayBuffer | undefined;

async function scanOnWorker(source: ByteSource, options: ScanOptions): Promise<ScanResult> {
  const { signal, onChunk, onChunksDone } = options;
  // Reuse the slots of a finished job: fresh memory costs page faults and waits for GC to go away.
  const memory = spareMemory ?? new SharedArrayBuffer(SLOTS * CHUNK_BYTES);
  spareMemory = undefined;
  const job = HashWorker.shared().start(memory);
  const count = Math.ceil(source.size / CHUNK_BYTES);
  // The source's own buffers are never transferred: they are read (or copied) into the job's
  // shared slots, which the worker only reads.
  const read = async (index: number): Promise<Uint8Array> => {
    const slot = index % SLOTS;
    await job.slotFree(slot);
    const offset = index * CHUNK_BYTES;
    const view = new Uint8Array(memory, slot * CHUNK_BYTES, Math.min(CHUNK_BYTES, source.size - offset));
    return readChunk(source, offset, view.length, view);
  };
  let next = count > 0 ? read(0) : undefined;
  try {
    for (let index = 0; index < count; index++) {
      signal?.throwIfAborted();
      const bytes = await (next as Promise<Uint8Array>);
      // Read ahead while the caller works on this chunk.
      next = index + 1 < count ? read(index + 1) : undefined;
      // The raw hash needs nothing from the caller: the worker starts on it while the caller works.
      job.hashRaw(index % SLOTS, bytes.byteOffset, bytes.length);
      // [key, offset in `memory`, length] per CRC-32 part, for the worker.
      const parts: number[] = [];
      let open = true;
      const checksums: ChunkChecksums = {
        crc32: (key, part) => {
          const start = part.byteOffset;
          if (
            !open ||
            part.buffer !== memory ||
            start < bytes.byteOffset ||
            start + part.length > bytes.byteOffset + bytes.length
          ) {
            throw new RangeError('a CRC-32 part must be a view into the chunk being handed over');
          }
          if (part.length > 0) parts.push(key, start, part.length);
        },
      };
      try {
        await onChunk?.(index * CHUNK_BYTES, bytes, checksums);
      } finally {
        open = false;
      }
      // After the caller: the worker checksums the parts it was given, then frees the slot.
      job.checksum(index % SLOTS, parts);
    }
    await onChunksDone?.();
    signal?.throwIfAborted();
    const result = await job.finish();
    // Only after a clean finish: every slot is acknowledged and no read is in flight.
    spareMemory = memory;
    return result;
  } catch (error) {
    next?.catch(() => undefined);
    job.abort();
    throw error;
  }
}

/**
 * The worker: per job, one incremental hash over its shared slots and one CRC-32 per key;
 * acknowledges every slot once done with it.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { crc32 } = require('node:zlib');
const jobs = new Map();
parentPort.on('message', (message) => {
  const { type, id } = message;
  if (type === 'start') {
    jobs.set(id, { hash: createHash('sha256'), crcs: new Map(), memory: message.memory });
  } else if (type === 'raw') {
    const job = jobs.get(id);
    if (job !== undefined) job.hash.update(new Uint8Array(job.memory, message.offset, message.length));
  } else if (type === 'crc') {
    const job = jobs.get(id);
    if (job !== undefined) {
      const parts = message.parts;
      for (let i = 0; i < parts.length; i += 3) {
        const key = parts[i];
        job.crcs.set(key, crc32(new Uint8Array(job.memory, parts[i + 1], parts[i + 2]), job.crcs.get(key) ?? 0));
      }
    }
    parentPort.postMessage({ type: 'ack', id, slot: message.slot });
  } else if (type === 'finish') {
    const job = jobs.get(id);
    jobs.delete(id);
    const hex = (job ? job.hash : createHash('sha256')).digest('hex');
    parentPort.postMessage({ type: 'digest', id, hex, crcs: job ? [...job.crcs] : [] });
  } else if (type === 'abort') {
    jobs.delete(id);
  }
});
`;

type WorkerReply =
  | { type: 'ack'; id: number; slot: number }
  | { type: 'digest'; id: number; hex: string; crcs: Array<[number, number]> };

interface JobState {
  /** Slots posted to the worker and not yet acknowledged, with whoever waits to reuse them. */
  readonly busy: Map<number, Array<{ resolve: () => void; reject: (error: Error) => void }>>;
  digest?: { resolve: (result: ScanResult) => void; reject: (error: Error) => void };
}

/**
 * One long-lived, unref'd worker shared by every inspection in the process (a worker costs tens of
 * milliseconds to start). If it dies, pending jobs fail and the next job starts a new one.
 */
class HashWorker {
  private static instance: HashWorker | undefined;
  private readonly worker: Worker;
  private readonly jobs = new Map<number, JobState>();
  private nextId = 1;
  private failure: Error | undefined;

  static shared(): HashWorker {
    HashWorker.instance ??= new HashWorker();
    return HashWorker.instance;
  }

  private constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    this.worker.on('error', (error) =>
      this.fail(new HashWorkerError('hash worker failed', { cause: error })),
    );
    this.worker.on('exit', (code) => this.fail(new HashWorkerError(`hash worker exited with code ${code}`)));
    // After the listeners: attaching a 'message' listener refs the worker again.
    this.worker.unref();
  }

  /** Keeps the process alive exactly while a job waits on the worker. */
  private track(id: number, state: JobState | undefined): void {
    const before = this.jobs.size;
    if (state === undefined) this.jobs.delete(id);
    else this.jobs.set(id, state);
    if (before === 0 && this.jobs.size > 0) this.worker.ref();
    if (before > 0 && this.jobs.size === 0) this.worker.unref();
  }

  start(memory: SharedArrayBuffer) {
    const id = this.nextId++;
    const state: JobState = { busy: new Map() };
    if (this.failure === undefined) {
      this.track(id, state);
      this.worker.postMessage({ type: 'start', id, memory });
    }
    return {
      /** Resolves once the worker no longer reads `slot`. */
      slotFree: (slot: number): Promise<void> => {
        if (this.failure) return Promise.reject(this.failure);
        const waiters = state.busy.get(slot);
        if (waiters === undefined) return Promise.resolve();
        return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
      },
      /** Hands `slot` to the worker: the raw hash of its `length` bytes at `offset`. */
      hashRaw: (slot: number, offset: number, length: number): void => {
        if (this.failure) throw this.failure;
        state.busy.set(slot, []);
        this.worker.postMessage({ type: 'raw', id, offset, length });
      },
      /** The CRC-32 parts of `slot` (after its {@link hashRaw}); the worker frees the slot after them. */
      checksum: (slot: number, parts: number[]): void => {
        if (this.failure) throw this.failure;
        this.worker.postMessage({ type: 'crc', id, slot, parts });
      },
      finish: (): Promise<ScanResult> =>
        new Promise((resolve, reject) => {
          if (this.failure) return reject(this.failure);
          state.digest = { resolve, reject };
          this.worker.postMessage({ type: 'finish', id });
        }),
      abort: (): void => {
        if (!this.jobs.has(id)) return;
        this.track(id, undefined);
        this.worker.postMessage({ type: 'abort', id });
      },
    };
  }

  private onReply(reply: WorkerReply): void {
    const state = this.jobs.get(reply.id);
    if (state === undefined) return;
    if (reply.type === 'ack') {
      const waiters = state.busy.get(reply.slot) ?? [];
      state.busy.delete(reply.slot);
      for (const waiter of waiters) waiter.resolve();
    } else {
      this.track(reply.id, undefined);
      state.digest?.resolve({ sha256: reply.hex, crc32: new Map(reply.crcs) });
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (HashWorker.instance === this) HashWorker.instance = undefined;
    for (const state of this.jobs.values()) {
      for (const waiters of state.busy.values()) for (const waiter of waiters) waiter.reject(error);
      state.digest?.reject(error);
    }
    this.jobs.clear();
    this.worker.unref();
  }
}
