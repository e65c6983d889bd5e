/**
 * Helpers for integration tests against the shared local stack started by global-setup.ts:
 * its endpoints, an HTTP helper with a deadline, AWS clients for its engines, and a poll helper.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { LocalStackInfo } from './global-setup.ts';
import { claimPrivateStage } from './private-stages.ts';

export type { LocalStackInfo } from './global-setup.ts';

export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export function stackInfo(): LocalStackInfo {
  return inject('localStack');
}

/**
 * Options for a test file's private stack (its own gateway, S3, workflow engine and settings) that
 * shares the run's second DynamoDB Local (the one for private stacks; the shared stack has the
 * first) instead of starting another JVM (~5 CPU-seconds each on these 2-core machines). The
 * stage names its tables, so it must be unique among the stacks running at once: by default one
 * of the stages global setup created and seeded (test/support/private-stages.ts says why), else a
 * random one.
 */
export function sharedEngineOptions(
  stage = claimPrivateStage(stackInfo().privateStages) ?? `t${randomBytes(4).toString('hex')}`,
): {
  dynamodbEndpoint: string;
  stage: string;
} {
  return { dynamodbEndpoint: stackInfo().privateDynamodbEndpoint, stage };
}

export interface ApiOptions {
  /** API key sent as `Authorization: Bearer`; `'bootstrap'` uses the stack's operator key. */
  key?: string | 'bootstrap';
  /** Objects and arrays are sent as JSON; bytes as application/octet-stream; strings as given. */
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Base URL of another stack (default: the shared one). */
  baseUrl?: string;
}

export interface ApiResult<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed body for JSON and problem+json responses, otherwise undefined. */
  json: T;
  text: string;
}

export async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  options: ApiOptions = {},
): Promise<ApiResult<T>> {
  const baseUrl = options.baseUrl ?? stackInfo().baseUrl;
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) {
    headers.authorization = `Bearer ${options.key === 'bootstrap' ? stackInfo().bootstrapKey : options.key}`;
  }
  let body: RequestInit['body'];
  if (options.body instanceof Uint8Array) {
    body = options.body;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (typeof options.body === 'string') {
    body = options.body;
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  const json = (/json/.test(type) && text !== '' ? JSON.parse(text) : undefined) as T;
  return { status: response.status, headers: response.headers, json, text };
}

/** An S3 client for the shared stack (or `info`), path-style as s3rver needs. */
export function s3Client(info: Pick<LocalStackInfo, 's3Endpoint'> = stackInfo()): S3Client {
  return new S3Client({
    endpoint: info.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
}

export function dynamoClient(info: Pick<LocalStackInfo, 'dynamodbEndpoint'> = stackInfo()): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: info.dynamodbEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}
