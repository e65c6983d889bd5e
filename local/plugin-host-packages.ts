/**
 * How the local plugin host "loads" a package: the object must exist at `package_key`, its bytes
 * must hash to the desired `sha256`, and it must be a valid package. The identifier the host then
 * reports is the one computed from those bytes (as Dify's daemon does), not the one it was told,
 * so a desired state that points at the wrong bytes shows up as a version mismatch.
 *
 * Results are cached by key, sha256 and ETag: a probe costs one HeadObject once a package is known,
 * and a deleted or replaced object is noticed on the next probe.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DesiredPlugin } from '#adapters/runtime-host.ts';
import { ProblemError } from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';

export type LoadedPackage =
  | { ok: true; uniqueIdentifier: string; pluginId: string }
  | { ok: false; reason: string };

export interface PackageLoader {
  load(plugin: DesiredPlugin): Promise<LoadedPackage>;
}

export function createPackageLoader(s3: S3Client, bucket: string): PackageLoader {
  const cache = new Map<string, { etag: string | undefined; result: LoadedPackage }>();

  async function verify(plugin: DesiredPlugin): Promise<LoadedPackage> {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: plugin.package_key }));
    const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== plugin.sha256) {
      return {
        ok: false,
        reason: `package ${plugin.package_key} has sha256 ${sha256}, not ${plugin.sha256}`,
      };
    }
    try {
      const inspected = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
      return { ok: true, uniqueIdentifier: inspected.uniqueIdentifier, pluginId: inspected.pluginId };
    } catch (error) {
      if (error instanceof ProblemError) {
        return { ok: false, reason: `package ${plugin.package_key} cannot be loaded: ${error.message}` };
      }
      throw error;
    }
  }

  return {
    async load(plugin) {
      let etag: string | undefined;
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: plugin.package_key }));
        etag = head.ETag;
      } catch (error) {
        if (isMissing(error)) {
          return { ok: false, reason: `package ${plugin.package_key} is not in the bucket` };
        }
        throw error;
      }
      const cacheKey = `${plugin.package_key}\n${plugin.sha256}`;
      const hit = cache.get(cacheKey);
      if (hit !== undefined && hit.etag === etag) return hit.result;
      const result = await verify(plugin);
      cache.set(cacheKey, { etag, result });
      return result;
    },
  };
}

export function isMissing(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return (
    name === 'NotFound' ||
    name === 'NoSuchKey' ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
  );
}
