/**
 * The package bucket: presigned uploads, the immutable content-addressed store, drop-folder
 * reports. Module-scope client; the endpoint comes from `AWS_ENDPOINT_URL_S3` when set.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { getConfig } from '#config/runtime-config.ts';
import { NotFoundError, PackageTooLargeError } from '#core/errors.ts';

let client: S3Client | undefined;

export function s3Client(): S3Client {
  const config = getConfig();
  client ??= new S3Client({
    region: config.region,
    forcePathStyle: config.s3ForcePathStyle,
    maxAttempts: 4,
    // Streaming uploads would otherwise be sent `aws-chunked` with a trailing checksum, which
    // S3-compatible servers (the local one included) store verbatim. We send our own SHA-256.
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return client;
}

function bucket(): string {
  return getConfig().bucket;
}

export async function presignPut(
  key: string,
  size: number,
  expiresInSeconds: number,
): Promise<{ url: string; headers: Record<string, string> }> {
  const command = new PutObjectCommand({
    Bucket: bucket(),
    Key: key,
    ContentLength: size,
    ContentType: 'application/octet-stream',
  });
  const url = await getSignedUrl(s3Client(), command, {
    expiresIn: expiresInSeconds,
    signableHeaders: new Set(['content-type', 'content-length']),
  });
  return { url, headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } };
}

export async function presignGet(key: string, expiresInSeconds: number): Promise<string> {
  return getSignedUrl(s3Client(), new GetObjectCommand({ Bucket: bucket(), Key: key }), {
    expiresIn: expiresInSeconds,
  });
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof NoSuchKey ||
    error instanceof NotFound ||
    (error as { name?: string }).name === 'NotFound' ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
  );
}

export async function objectExists(key: string): Promise<boolean> {
  try {
    await s3Client().send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Streams an object to a local file, refusing (and deleting the partial file) as soon as it
 * grows past `maxBytes`.
 */
export async function downloadObjectToFile(key: string, destPath: string, maxBytes: number): Promise<number> {
  let body: Readable;
  try {
    const result = await s3Client().send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
    if ((result.ContentLength ?? 0) > maxBytes) {
      (result.Body as Readable | undefined)?.destroy();
      throw new PackageTooLargeError(
        `The object is ${result.ContentLength} bytes; the limit is ${maxBytes}.`,
      );
    }
    body = result.Body as Readable;
  } catch (error) {
    if (isMissing(error)) throw new NotFoundError(`Nothing was uploaded at ${key}.`);
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
  await s3Client().send(
    new PutObjectCommand({
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
  try {
    const result = await s3Client().send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
    return await (result.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  } catch (error) {
    if (isMissing(error)) throw new NotFoundError(`Nothing is stored at ${key}.`);
    throw error;
  }
}

export async function putJson(key: string, value: unknown): Promise<void> {
  await s3Client().send(
    new PutObjectCommand({
      Bucket: bucket(),
      Key: key,
      Body: JSON.stringify(value, null, 2),
      ContentType: 'application/json',
    }),
  );
}

export async function getJson<T>(key: string): Promise<T | undefined> {
  try {
    const result = await s3Client().send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
    return JSON.parse(
      await (result.Body as { transformToString(): Promise<string> }).transformToString(),
    ) as T;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
