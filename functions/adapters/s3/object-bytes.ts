/** Reads a whole (bounded) object of the package bucket into memory. */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getConfig } from '#shared/config.ts';
import { s3Client } from './blob-store.ts';

export async function getObjectBytes(key: string): Promise<Buffer> {
  const result = await s3Client().send(new GetObjectCommand({ Bucket: getConfig().bucket, Key: key }));
  if (result.Body === undefined) return Buffer.alloc(0);
  return Buffer.from(await result.Body.transformToByteArray());
}
