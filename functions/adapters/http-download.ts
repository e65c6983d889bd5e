/**
 * Streams an HTTP(S) resource to a file with a hard size cap, the shared download path of every
 * package source (GitHub release assets, marketplaces). The body is never held in memory: bytes go
 * through a hashing/counting transform straight to disk, and the transfer is aborted the moment
 * the count passes the cap.
 *
 * Redirects are followed by hand (`redirect: 'manual'`) so credentials cannot leak: GitHub answers
 * an asset download with a 302 to a storage host that must not see the API token. Like the Fetch
 * standard, credential headers are dropped at the first hop to another origin and never re-added;
 * unlike undici we also refuse https → http downgrades and non-HTTP schemes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { NotFoundError, PackageTooLargeError, ProblemError } from '#core/errors.ts';

export interface DownloadOptions {
  /** Hard cap in bytes; a larger body fails with `package-too-large` (413). */
  maxBytes: number;
  /** Request headers. Credential headers only reach the origin of `url` (see module comment). */
  headers?: Record<string, string>;
  /** Deadline for the whole transfer, headers and body, across redirects. Default 120 s. */
  timeoutMs?: number;
  /** Caller cancellation; an abort rejects with the signal's reason, not a problem. */
  signal?: AbortSignal;
  /** Maximum redirect hops. Default 5. */
  maxRedirects?: number;
  /** When the source declared the exact size up front, a body of another size is an upstream failure. */
  expectedSize?: number;
  /** Words naming the source in problem details ("GitHub", "the marketplace"). Default "the upstream source". */
  sourceName?: string;
  /** Tests inject a fetch; production uses the global one. */
  fetchImpl?: typeof fetch;
}

export interface DownloadResult {
  size: number;
  /** Lowercase hex SHA-256 of the bytes written. */
  sha256: string;
}

export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_REDIRECTS = 5;

const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Downloads `url` into `destPath` (created or truncated, mode 0600).
 * On any failure the partial file is removed before the promise rejects.
 *
 * @example
 * const { size, sha256 } = await downloadToFile(assetUrl, tmp, { maxBytes: 50 * 1024 * 1024 });
 */
export async function downloadToFile(
  url: string,
  destPath: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const source = options.sourceName ?? 'the upstream source';
  const timeoutMs = options.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  // Our own controller lets a failed write or a blown cap tear down the socket immediately.
  const teardown = new AbortController();
  const signals = [deadline, teardown.signal];
  if (options.signal !== undefined) signals.push(options.signal);
  const signal = AbortSignal.any(signals);

  let fileOpened = false;
  try {
    const response = await fetchFollowingRedirects(url, options, signal, source);
    checkDeclaredLength(response, options.maxBytes, source);
    if (response.body === null) throw upstreamFailed(`${source} answered without a body.`);

    const meter = new SizeMeter(options.maxBytes, source);
    const file = createWriteStream(destPath, { flags: 'w', mode: 0o600 });
    fileOpened = true;
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), meter, file, { signal });
    if (options.expectedSize !== undefined && meter.size !== options.expectedSize) {
      throw upstreamFailed(
        `${source} sent ${meter.size} bytes but declared ${options.expectedSize}; the download is incomplete or altered.`,
      );
    }
    return { size: meter.size, sha256: meter.digest() };
  } catch (error) {
    teardown.abort();
    if (fileOpened) await rm(destPath, { force: true });
    throw translateError(error, { deadline, callerSignal: options.signal, timeoutMs, source });
  }
}

/** Counts and hashes bytes in flight; fails as soon as the count passes the cap. */
class SizeMeter extends Transform {
  size = 0;
  readonly #hash = createHash('sha256');

  constructor(
    private readonly maxBytes: number,
    private readonly source: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(
        new PackageTooLargeError(
          `The package from ${this.source} is larger than the ${formatBytes(this.maxBytes)} cap.`,
          { extensions: { max_bytes: this.maxBytes } },
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

async function fetchFollowingRedirects(
  url: string,
  options: DownloadOptions,
  signal: AbortSignal,
  source: string,
): Promise<Response> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = parseHttpUrl(url, source);
  const credentialOrigin = current.origin;
  let sendCredentials = true;

  for (let hop = 0; ; hop++) {
    if (current.origin !== credentialOrigin) sendCredentials = false;
    const headers = new Headers();
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (sendCredentials || !CREDENTIAL_HEADERS.has(name.toLowerCase())) headers.set(name, value);
    }

    const response = await fetchImpl(current, { method: 'GET', headers, redirect: 'manual', signal });
    if (REDIRECT_STATUSES.has(response.status)) {
      await discardBody(response);
      if (hop >= maxRedirects) {
        throw upstreamFailed(`${source} redirected more than ${maxRedirects} times.`);
      }
      const location = response.headers.get('location');
      if (location === null) throw upstreamFailed(`${source} answered a redirect without a Location.`);
      const next = parseHttpUrl(new URL(location, current).href, source);
      if (current.protocol === 'https:' && next.protocol === 'http:') {
        throw upstreamFailed(
          `${source} redirected from https to plain http (${describeUrl(next)}); refused.`,
        );
      }
      current = next;
      continue;
    }
    if (response.ok) return response;

    await discardBody(response);
    throw statusProblem(response.status, current, source);
  }
}

function checkDeclaredLength(response: Response, maxBytes: number, source: string): void {
  const header = response.headers.get('content-length');
  if (header === null) return;
  const declared = Number(header);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new PackageTooLargeError(
      `The package from ${source} is ${formatBytes(declared)}, over the ${formatBytes(maxBytes)} cap.`,
      { extensions: { max_bytes: maxBytes, declared_bytes: declared } },
    );
  }
}

function statusProblem(status: number, url: URL, source: string): ProblemError {
  if (status === 404 || status === 410) {
    return new NotFoundError(`${source} has nothing at ${describeUrl(url)} (HTTP ${status}).`);
  }
  if (status === 401 || status === 403) {
    return upstreamFailed(
      `${source} refused the request for ${describeUrl(url)} (HTTP ${status}); check the configured token and its access.`,
    );
  }
  return upstreamFailed(`${source} answered HTTP ${status} for ${describeUrl(url)}.`);
}

interface TranslateContext {
  deadline: AbortSignal;
  callerSignal: AbortSignal | undefined;
  timeoutMs: number;
  source: string;
}

function translateError(error: unknown, context: TranslateContext): unknown {
  if (error instanceof ProblemError) return error;
  if (context.callerSignal?.aborted === true) return context.callerSignal.reason;
  if (context.deadline.aborted) {
    return upstreamFailed(`${context.source} did not finish within ${context.timeoutMs} ms.`, error);
  }
  // A file-system error (ENOSPC, EACCES) is an internal failure, not the source's fault.
  if (isSystemError(error) && typeof error.syscall === 'string' && error.path !== undefined) return error;
  // undici reports network failures as TypeError('fetch failed' | 'terminated') with the socket
  // error as cause. Only the error code goes into the detail: messages may quote URLs.
  const code = networkErrorCode(error);
  return upstreamFailed(
    `Could not reach ${context.source}${code === undefined ? '' : ` (${code})`}; the transfer failed.`,
    error,
  );
}

function networkErrorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && depth < 4; depth++) {
    if (isSystemError(current) && typeof current.code === 'string') return current.code;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}

/** An `upstream-failed` problem (502). The cause is kept for logs; the detail stays token-free. */
export function upstreamFailed(detail: string, cause?: unknown): ProblemError {
  return new ProblemError('upstream-failed', detail, cause === undefined ? {} : { cause });
}

/**
 * Host and path of a URL, for problem details: user info and query strings (presigned storage
 * URLs carry signatures there) are left out.
 */
export function describeUrl(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.host}${parsed.pathname}`;
}

function parseHttpUrl(raw: string, source: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw upstreamFailed(`${source} gave an invalid URL.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw upstreamFailed(`${source} pointed to a ${parsed.protocol} URL; only http(s) is fetched.`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw upstreamFailed(`${source} gave a URL with embedded credentials; refused.`);
  }
  return parsed;
}

async function discardBody(response: Response): Promise<void> {
  // Cancelling (rather than draining) frees the socket without reading an unbounded error page.
  await response.body?.cancel().catch(() => undefined);
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${bytes} bytes`;
}
