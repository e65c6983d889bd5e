/**
 * Shared helpers of the security suites: a fingerprint of everything stored for one test run
 * (DynamoDB items whose key or tenant mentions the run id, and the run's events), so a case can
 * prove that a refused request changed nothing.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { dynamoClient, type LocalStackInfo } from '#test/support/local-stack.ts';

export const PROBLEM = 'urn:pluginops:problem:';

export interface StoredFingerprint {
  /** Items of the main table that belong to the run (by key or `tenant_id`). */
  items: number;
  /** SHA-256 over those items, sorted by key: any attribute change shows. */
  digest: string;
  /** Lines of the events file that mention the run. */
  events: number;
}

export function documentClient(info: LocalStackInfo): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamoClient(info));
}

/** Everything stored that mentions `run`; two equal fingerprints mean nothing the run owns changed. */
export async function fingerprint(
  info: LocalStackInfo,
  db: DynamoDBDocumentClient,
  run: string,
): Promise<StoredFingerprint> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({
        TableName: info.mainTable,
        FilterExpression: 'contains(PK, :run) OR contains(tenant_id, :run)',
        ExpressionAttributeValues: { ':run': run },
        ExclusiveStartKey: start,
      }),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (start !== undefined);
  const canonical = items
    .map((item) => JSON.stringify(item, Object.keys(item).sort()))
    .sort()
    .join('\n');
  let events = 0;
  try {
    const text = await readFile(join(info.dataDir, 'events.jsonl'), 'utf8');
    events = text.split('\n').filter((line) => line.includes(run)).length;
  } catch {
    // No event was ever written.
  }
  return { items: items.length, digest: createHash('sha256').update(canonical).digest('hex'), events };
}

/** The package bytes were not catalogued (no `BLOB#` record) nor stored in S3. */
export async function expectBytesNotStored(
  info: LocalStackInfo,
  db: DynamoDBDocumentClient,
  s3: S3Client,
  bytes: Uint8Array,
): Promise<void> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const blob = await db.send(
    new GetCommand({ TableName: info.mainTable, Key: { PK: `BLOB#${sha256}`, SK: 'META' } }),
  );
  expect(blob.Item).toBeUndefined();
  const head = await s3
    .send(new HeadObjectCommand({ Bucket: info.bucket, Key: `packages/sha256/${sha256}.difypkg` }))
    .then(
      () => 'present',
      () => 'absent',
    );
  expect(head).toBe('absent');
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON for JSON and problem+json bodies. */
  body: any;
}

/**
 * One request with the path sent byte for byte (fetch would normalise `%2e%2e` and `//`), to a
 * loopback base URL only, with a deadline.
 */
export function sendRaw(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Uint8Array,
  timeoutMs = 30_000,
): Promise<RawResponse> {
  const base = new URL(baseUrl);
  if (base.hostname !== '127.0.0.1' && base.hostname !== 'localhost')
    throw new Error(`not loopback: ${baseUrl}`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const type = String(res.headers['content-type'] ?? '');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            body: /json/.test(type) && text !== '' ? JSON.parse(text) : undefined,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
