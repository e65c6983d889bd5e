/**
 * SHA-256 of a package's raw bytes (its content address), streamed in chunks.
 *
 * Inspecting a package hashes every byte twice: once raw (this) and once inflated (per entry, for
 * the Dify checksum and signature). On one thread that is ~2× a plain hash; large sources are
 * therefore hashed on a worker thread while the main thread inflates and hashes entries, so both
 * passes overlap on a multi-core machine. Small sources are hashed inline, where starting a job
 * costs more than it saves.
 */

import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ByteSource } from './byte-source.ts';

export interface RawSha256Options {
  /** Stops reading early (the result then rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Sources at least this large are hashed on a worker thread; `Infinity` disables it. */
  readonly workerThresholdBytes?: number;
}

/** Sources from 4 MiB are hashed on the worker: below that, inline hashing takes a few ms. */
export const DEFAULT_WORKER_THRESHOLD_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
/** Chunks handed to the worker but not yet hashed; bounds memory at ~4 MiB per job. */
const MAX_IN_FLIGHT = 4;

/**
 * Hex SHA-256 of every byte of `source`, read sequentially in 1 MiB chunks.
 *
 * @example
 * const sha256 = await sha256OfSource(source); // 'e3b0c442…'
 */
export async function sha256OfSource(source: ByteSource, options: RawSha256Options = {}): Promise<string> {
  const threshold = options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES;
  if (source.size >= threshold) return hashOnWorker(source, options.signal);
  const hash = createHash('sha256');
  for (let offset = 0; offset < source.size; offset += CHUNK_BYTES) {
    options.signal?.throwIfAborted();
    hash.update(await source.read(offset, Math.min(CHUNK_BYTES, source.size - offset)));
  }
  return hash.digest('hex');
}

async function hashOnWorker(source: ByteSource, signal: AbortSignal | undefined): Promise<string> {
  const job = HashWorker.shared().start();
  try {
    for (let offset = 0; offset < source.size; offset += CHUNK_BYTES) {
      signal?.throwIfAborted();
      const bytes = await source.read(offset, Math.min(CHUNK_BYTES, source.size - offset));
      // Copy into a buffer we own so it can be transferred: the source may keep or share its own
      // (and `Buffer#slice` would be a view: transferring it would detach the caller's memory).
      await job.push(new Uint8Array(bytes));
    }
    signal?.throwIfAborted();
    return await job.finish();
  } catch (error) {
    job.abort();
    throw error;
  }
}

/** The worker: one incremental hash per job id; acknowledges every chunk for backpressure. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (message) => {
  const { type, id } = message;
  if (type === 'chunk') {
    let hash = jobs.get(id);
    if (hash === undefined) { hash = createHash('sha256'); jobs.set(id, hash); }
    hash.update(new Uint8Array(message.buffer));
    parentPort.postMessage({ type: 'ack', id });
  } else if (type === 'finish') {
    const hash = jobs.get(id) ?? createHash('sha256');
    jobs.delete(id);
    parentPort.postMessage({ type: 'digest', id, hex: hash.digest('hex') });
  } else if (type === 'abort') {
    jobs.delete(id);
  }
});
`;

type WorkerReply = { type: 'ack'; id: number } | { type: 'digest'; id: number; hex: string };

interface JobState {
  inFlight: number;
  waiters: Array<{ resolve: () => void; reject: (error: Error) => void }>;
  digest?: { resolve: (hex: string) => void; reject: (error: Error) => void };
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
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited with code ${code}`)));
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

  start() {
    const id = this.nextId++;
    const state: JobState = { inFlight: 0, waiters: [] };
    this.track(id, state);
    return {
      push: (bytes: Uint8Array): Promise<void> => {
        if (this.failure) return Promise.reject(this.failure);
        const buffer = bytes.buffer as ArrayBuffer;
        this.worker.postMessage({ type: 'chunk', id, buffer }, [buffer]);
        state.inFlight += 1;
        if (state.inFlight < MAX_IN_FLIGHT) return Promise.resolve();
        return new Promise((resolve, reject) => state.waiters.push({ resolve, reject }));
      },
      finish: (): Promise<string> =>
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
      state.inFlight -= 1;
      state.waiters.shift()?.resolve();
    } else {
      this.track(reply.id, undefined);
      state.digest?.resolve(reply.hex);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (HashWorker.instance === this) HashWorker.instance = undefined;
    for (const state of this.jobs.values()) {
      for (const waiter of state.waiters) waiter.reject(error);
      state.digest?.reject(error);
    }
    this.jobs.clear();
    this.worker.unref();
  }
}
