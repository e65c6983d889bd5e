/**
 * Drop folder: S3 "Object Created" events (EventBridge on AWS, the local S3 server's events
 * locally) for keys under `drop/`. `drop/catalog/…` publishes to the catalog as an operator;
 * `drop/tenants/<tenant_id>/…` publishes under that tenant's policy and starts an install (or
 * upgrade) deployment of it on that tenant (its id is in the report). Every dropped file gets a
 * report at `drop-results/<same key>.json`, failures included; the dropped file is never deleted.
 * Duplicate events are harmless: the same bytes resolve to the same catalog entry.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { findTenant } from '#adapters/dynamo/tenants.ts';
import { downloadObjectToFile, putJson } from '#adapters/s3/blob-store.ts';
import { withTempFile } from '#adapters/temp-file.ts';
import { InvalidPackageError, NotFoundError, toProblem } from '#core/errors.ts';
import { deployDroppedPackage } from '#services/deploy.ts';
import { publishBundleFile, publishPackageFile } from '#services/publish.ts';
import { MAX_PACKAGE_BYTES } from '#services/sources.ts';
import { logger } from '#shared/logger.ts';

export interface ObjectCreatedDetail {
  bucket: { name: string };
  object: { key: string; size?: number; etag?: string };
}

export type ObjectCreatedEvent = EventBridgeEvent<'Object Created', ObjectCreatedDetail>;

export interface DropReport {
  status: 'published' | 'already_published' | 'failed';
  source_key: string;
  unique_identifier?: string;
  /** For bundles: every embedded package, in the bundle's order. */
  unique_identifiers?: string[];
  deployment_id?: string;
  problem?: ReturnType<typeof toProblem>;
  processed_at: string;
}

type DropTarget = { kind: 'catalog' } | { kind: 'tenant'; tenantId: string };

/** Where a drop key points, or `undefined` for keys that are not drops (folder markers, others). */
export function parseDropKey(key: string): DropTarget | undefined {
  if (key.endsWith('/')) return undefined;
  if (/^drop\/catalog\/.+/.test(key)) return { kind: 'catalog' };
  const tenant = /^drop\/tenants\/([a-z0-9][a-z0-9_-]{0,62})\/.+/.exec(key);
  if (tenant?.[1] !== undefined) return { kind: 'tenant', tenantId: tenant[1] };
  if (key.startsWith('drop/')) return { kind: 'catalog' };
  return undefined;
}

export function reportKeyFor(key: string): string {
  return `drop-results/${key}.json`;
}

async function processDrop(key: string, target: DropTarget, now: Date): Promise<DropReport> {
  const lower = key.toLowerCase();
  if (!lower.endsWith('.difypkg') && !lower.endsWith('.difybndl')) {
    throw new InvalidPackageError(
      'Only .difypkg packages and .difybndl bundles are published from the drop folder.',
    );
  }
  if (target.kind === 'tenant' && (await findTenant(target.tenantId)) === undefined) {
    throw new NotFoundError(`Tenant "${target.tenantId}" does not exist.`);
  }
  const caller = { tenantId: target.kind === 'tenant' ? target.tenantId : null };
  if (lower.endsWith('.difybndl')) return processBundleDrop(key, caller, now);
  return withTempFile('drop.difypkg', async (file) => {
    await downloadObjectToFile(key, file, MAX_PACKAGE_BYTES);
    const result = await publishPackageFile(file, { type: 'package', drop_key: key }, caller, now);
    const report: DropReport = {
      status: result.created ? 'published' : 'already_published',
      source_key: key,
      unique_identifier: result.package.unique_identifier,
      processed_at: now.toISOString(),
    };
    if (target.kind === 'tenant') {
      try {
        const started = await deployDroppedPackage(
          target.tenantId,
          result.package.unique_identifier,
          key,
          now,
        );
        if (started !== undefined) report.deployment_id = started.deployment_id;
      } catch (error) {
        // Published, but the deployment could not start (e.g. another deployment holds the plugin).
        if (toProblem(error).status >= 500) throw error;
        return { ...report, status: 'failed', problem: toProblem(error, key) };
      }
    }
    return report;
  });
}

/**
 * A dropped bundle publishes every embedded package (all or nothing). It installs nothing, even
 * under `drop/tenants/…`: a bundle is a set to choose from; deploy its packages explicitly.
 */
async function processBundleDrop(
  key: string,
  caller: { tenantId: string | null },
  now: Date,
): Promise<DropReport> {
  return withTempFile('drop.difybndl', async (file) => {
    await downloadObjectToFile(key, file, MAX_PACKAGE_BYTES);
    const result = await publishBundleFile(file, { type: 'package', drop_key: key }, caller, now);
    return {
      status: result.created ? 'published' : 'already_published',
      source_key: key,
      unique_identifiers: result.packages.map((record) => record.unique_identifier),
      processed_at: now.toISOString(),
    };
  });
}

export async function handler(event: ObjectCreatedEvent): Promise<DropReport | undefined> {
  const key = event.detail.object.key;
  const target = parseDropKey(key);
  if (target === undefined) return undefined;
  const now = new Date();
  let report: DropReport;
  try {
    report = await processDrop(key, target, now);
  } catch (error) {
    const problem = toProblem(error, key);
    if (problem.status >= 500) logger.error('drop failed', { key, error: error as Error });
    report = { status: 'failed', source_key: key, problem, processed_at: now.toISOString() };
  }
  await putJson(reportKeyFor(key), report);
  logger.info('drop processed', { key, status: report.status, unique_identifier: report.unique_identifier });
  // A service fault (not the file's fault) is rethrown after the report so the event is retried.
  if ((report.problem?.status ?? 0) >= 500) throw new Error(`drop of ${key} failed; retrying`);
  return report;
}
