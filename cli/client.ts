/**
 * The pluginops HTTP API as the CLI calls it: bearer key, a deadline on every request, bounded
 * retries where a retry is safe, and every failure turned into a {@link RemoteProblemError} with
 * its exit code. The key goes to the configured endpoint only and is never printed: messages name
 * the endpoint and profile, error details come from the server (which never echoes keys).
 */
import { randomUUID } from 'node:crypto';
import type { Problem } from '#core/errors.ts';
import { EXIT_CODES, exitCodeForProblem, RemoteProblemError } from './output.ts';
import type { Connection } from './profiles.ts';

export interface RequestOptions {
  /** Sent as JSON. */
  json?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /** Mutating requests: an `Idempotency-Key`; one is generated when omitted, which makes retries safe. */
  idempotencyKey?: string;
  /** Overrides the connection's request deadline. */
  timeoutMs?: number;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Statuses worth one more try: the request did not happen, or the service asked us to come back. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 3;

export const USER_AGENT = 'pluginops-cli/0.1.0';

export class ApiClient {
  readonly connection: Connection;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    connection: Connection,
    options: { fetchImpl?: typeof fetch; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.connection = connection;
    this.fetchImpl = options.fetchImpl ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Where requests go, for messages: `http://host:port` and the profile name. */
  describe(): string {
    const where = this.connection.endpoint;
    return this.connection.profile === undefined ? where : `${where} (profile ${this.connection.profile})`;
  }

  url(path: string, query: RequestOptions['query'] = {}): URL {
    const url = new URL(`${this.connection.endpoint}${path}`);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url;
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, options);
  }

  /**
   * One API call. 2xx resolves with the parsed body (`undefined` for 204); anything else throws a
   * {@link RemoteProblemError}. GETs, and mutations (which always carry an `Idempotency-Key`, so a
   * replay returns the first answer), are retried on network errors and 429/502/503/504 with
   * backoff; each attempt has the full deadline.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      'user-agent': USER_AGENT,
      ...options.headers,
      authorization: `Bearer ${this.connection.key}`,
    };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    if (method !== 'GET' && method !== 'HEAD')
      headers['idempotency-key'] = options.idempotencyKey ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? this.connection.requestTimeoutMs;

    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method,
          headers,
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const failure = this.transportFailure(method, url, error, timeoutMs);
        if (attempt < MAX_ATTEMPTS && failure.exitCode !== EXIT_CODES.timeout) {
          await this.sleep(backoffMs(attempt));
          continue;
        }
        throw failure;
      }
      if (RETRYABLE_STATUSES.has(response.status) && attempt < MAX_ATTEMPTS) {
        await response.body?.cancel().catch(() => undefined);
        await this.sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoffMs(attempt));
        continue;
      }
      return this.read<T>(method, url, response, timeoutMs);
    }
  }

  private async read<T>(
    method: string,
    url: URL,
    response: Response,
    timeoutMs: number,
  ): Promise<ApiResponse<T>> {
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.transportFailure(method, url, error, timeoutMs);
    }
    const type = response.headers.get('content-type') ?? '';
    let parsed: unknown;
    if (text !== '' && /json/.test(type)) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (response.ok) return { status: response.status, body: parsed as T, headers: response.headers };
    const problem = isProblem(parsed) ? parsed : syntheticProblem(response, method, url, text);
    throw new RemoteProblemError(problem, exitCodeForProblem(response.status, slugOfType(problem.type)));
  }

  private transportFailure(method: string, url: URL, error: unknown, timeoutMs: number): RemoteProblemError {
    const name = (error as { name?: string } | undefined)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new RemoteProblemError(
        {
          type: 'urn:pluginops:problem:request-timeout',
          title: 'Request timed out',
          status: 0,
          detail: `${method} ${url.pathname} at ${this.describe()} did not answer within ${timeoutMs} ms (raise --request-timeout).`,
        },
        EXIT_CODES.timeout,
        { cause: error },
      );
    }
    const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    return new RemoteProblemError(
      {
        type: 'urn:pluginops:problem:unreachable',
        title: 'Endpoint unreachable',
        status: 0,
        detail: `Could not reach ${this.describe()} for ${method} ${url.pathname}: ${reason}.`,
      },
      EXIT_CODES.unexpected,
      { cause: error },
    );
  }
}

export function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Problem).type === 'string' &&
    typeof (value as Problem).title === 'string' &&
    typeof (value as Problem).status === 'number'
  );
}

function slugOfType(type: string): string {
  return type.replace(/^urn:pluginops:problem:/, '');
}

/** A problem for an answer that is not problem+json (a proxy's HTML page, an empty 502). */
function syntheticProblem(response: Response, method: string, url: URL, text: string): Problem {
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return {
    type: `urn:pluginops:problem:http-${response.status}`,
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: `${method} ${url.pathname} answered ${response.status}${snippet === '' ? '' : `: ${snippet}`}`,
  };
}

function backoffMs(attempt: number): number {
  return 250 * 2 ** (attempt - 1) + Math.floor(Math.random() * 100);
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 10) * 1000 : undefined;
}

/** `author/name` → `author/name` with each part percent-encoded, for paths like `/installations/{author}/{name}`. */
export function pluginPath(pluginId: string): string {
  const [author = '', name = ''] = pluginId.split('/');
  return `${encodeURIComponent(author)}/${encodeURIComponent(name)}`;
}

export function tenantPath(tenantId: string): string {
  return `/v1/tenants/${encodeURIComponent(tenantId)}`;
}
