/** Reads a whole (bounded) object of the package bucket into memory. */
import { getConfig } from '#shared/config.ts';
import { s3 } from './blob-store.ts';

export async function getObjectBytes(key: string): Promise<Buffer> {
  const { sdk, client } = await s3();
  const result = await client.send(new sdk.GetObjectCommand({ Bucket: getConfig().bucket, Key: key }));
  if (result.Body === undefined) return Buffer.alloc(0);
  return Buffer.from(await result.Body.transformToByteArray());
}
