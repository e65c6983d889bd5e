/**
 * The package bucket: presigned uploads, the immutable content-addressed store, drop-folder
 * reports. Module-scope client; the endpoint comes from `AWS_ENDPOINT_URL_S3` when set. The S3 SDK
 * is imported on first use (functions/adapters/lazy-module.ts): most API requests never touch S3.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { getConfig } from '#config/runtime-config.ts';
import { NotFoundError, PackageTooLargeError } from '#core/errors.ts';
import { lazyModule } from '../lazy-module.ts';

type S3Sdk = typeof import('@aws-sdk/client-s3');

/** `@aws-sdk/client-s3`, loaded on first use. */
export const s3Sdk: () => Promise<S3Sdk> = lazyModule(() => import('@aws-sdk/client-s3'));
const presigner = lazyModule(() => import('@aws-sdk/s3-request-presigner'));

let sharedClient: S3Client | undefined;

/** The S3 SDK and the module-scope client, both created on first use. */
export async function s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
  const sdk = await s3Sdk();
  const config = getConfig();
  sharedClient ??= new sdk.S3Client({
    region: config.region,
    forcePathStyle: config.s3ForcePathStyle,
    maxAttempts: 4,
    // Streaming uploads would otherwise be sent `aws-chunked` with a trailing checksum, which
    // S3-compatible servers (the local one included) store verbatim. We send our own SHA-256.
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return { sdk, client: sharedClient };
}

export async function s3Client(): Promise<S3Client> {
  return (await s3()).client;
}

function bucket(): string {
  return getConfig().bucket;
}

export async function presignPut(
  key: string,
  size: number,
  expiresInSeconds: number,
): Promise<{ url: string; headers: Record<string, string> }> {
  const [{ sdk, client }, { getSignedUrl }] = await Promise.all([s3(), presigner()]);
  const command = new sdk.PutObjectCommand({
    Bucket: bucket(),
    Key: key,
    ContentLength: size,
    ContentType: 'application/octet-stream',
  });
  const url = await getSignedUrl(client, command, {
    expiresIn: expiresInSeconds,
    signableHeaders: new Set(['content-type', 'content-length']),
  });
  return { url, headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } };
}

export async function presignGet(key: string, expiresInSeconds: number): Promise<string> {
  const [{ sdk, client }, { getSignedUrl }] = await Promise.all([s3(), presigner()]);
  return getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: bucket(), Key: key }), {
    expiresIn: expiresInSeconds,
  });
}

/** S3's "no such object" (GetObject's `NoSuchKey`, HeadObject's bodiless `NotFound`, any 404). */
export function isMissingObject(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return (
    name === 'NoSuchKey' ||
    name === 'NotFound' ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
  );
}

export async function objectExists(key: string): Promise<boolean> {
  try {
    const { sdk, client } = await s3();
    await client.send(new sdk.HeadObjectCommand({ Bucket: bucket(), Key: key }));
    return true;
  } catch (error) {
    if (isMissingObject(error)) return false;
    throw error;
  }
}

/**
 * Streams an object to a local file, refusing (and deleting the partial file) as soon as it
 * grows past `maxBytes`.
 */
export async function downloadObjectToFile(key: string, destPath: string, maxBytes: number): Promise<number> {
  const { sdk, client } = await s3();
  let body: Readable;
  try {
    const result = await client.send(new sdk.GetObjectCommand({ Bucket: bucket(), Key: key }));
    if ((result.ContentLength ?? 0) > maxBytes) {
      (result.Body as Readable | undefined)?.destroy();
      throw new PackageTooLargeError(
        `The object is ${result.ContentLength} bytes; the limit is ${maxBytes}.`,
      );
    }
    body = result.Body as Readable;
  } catch (error) {
    if (isMissingObject(error)) throw new NotFoundError(`Nothing was uploaded at ${key}.`);
    throw error;
  }
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes)
        callback(new PackageTooLargeError(`The object exceeds the limit of ${maxBytes} bytes.`));
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(body, cap, createWriteStream(destPath));
  } catch (error) {
    await unlink(destPath).catch(() => undefined);
    throw error;
  }
  return seen;
}

/**
 * Stores a local file under `key` unless an object is already there (keys are content-addressed).
 * The SHA-256 travels as `x-amz-checksum-sha256`, so S3 rejects bytes altered in transit.
 */
export async function putFileOnce(key: string, filePath: string, sha256Hex: string): Promise<void> {
  if (await objectExists(key)) return;
  const { size } = await stat(filePath);
  const { sdk, client } = await s3();
  await client.send(
    new sdk.PutObjectCommand({
      Bucket: bucket(),
      Key: key,
      Body: createReadStream(filePath),
      ContentLength: size,
      ContentType: 'application/octet-stream',
      ChecksumSHA256: Buffer.from(sha256Hex, 'hex').toString('base64'),
    }),
  );
}

/** The whole object (small objects only: a package is at most 50 MiB). */
export async function getObjectBytes(key: string): Promise<Uint8Array> {
  const { sdk, client } = await s3();
  try {
    const result = await client.send(new sdk.GetObjectCommand({ Bucket: bucket(), Key: key }));
    return await (result.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  } catch (error) {
    if (isMissingObject(error)) throw new NotFoundError(`Nothing is stored at ${key}.`);
    throw error;
  }
}

export async function putJson(key: string, value: unknown): Promise<void> {
  const { sdk, client } = await s3();
  await client.send(
    new sdk.PutObjectCommand({
      Bucket: bucket(),
      Key: key,
      Body: JSON.stringify(value, null, 2),
      ContentType: 'application/json',
    }),
  );
}

export async function getJson<T>(key: string): Promise<T | undefined> {
  const { sdk, client } = await s3();
  try {
    const result = await client.send(new sdk.GetObjectCommand({ Bucket: bucket(), Key: key }));
    return JSON.parse(
      await (result.Body as { transformToString(): Promise<string> }).transformToString(),
    ) as T;
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    throw error;
  }
}
