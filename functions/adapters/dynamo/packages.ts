/**
 * The package catalog. Publishing writes the package, its bytes index, its version entry and the
 * plugin's catalog entry in one transaction, so a package is either fully catalogued or absent.
 */
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PackageRecord, PluginSummary, Promotion } from '#core/catalog.ts';
import { ConflictError, NotFoundError } from '#core/errors.ts';
import type { Page } from '#core/page.ts';
import { supersedes } from '#core/trust.ts';
import { versionSortKey } from '#core/version.ts';
import { batchGetItems } from './batch-get.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { failedTransactionItem, isConditionalFailure } from './conditions.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { keys } from './keys.ts';
import { queryPrefixPage } from './query-page.ts';

const STRIP = ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'type'] as const;

function toRecord(item: Record<string, unknown>): PackageRecord {
  const record = { ...item };
  for (const name of STRIP) delete record[name];
  return record as unknown as PackageRecord;
}

export async function findPackage(uniqueIdentifier: string): Promise<PackageRecord | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.package(uniqueIdentifier) }),
  );
  return Item === undefined ? undefined : toRecord(Item);
}

export async function findPackageBySha256(sha256: string): Promise<PackageRecord | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.blob(sha256) }),
  );
  return Item === undefined ? undefined : findPackage(Item.unique_identifier as string);
}

export interface PutPackageResult {
  created: boolean;
  package: PackageRecord;
}

/**
 * Catalogues a package. Publishing the same bytes again returns the existing record
 * (`created: false`); other bytes with the same unique identifier (for example the same files
 * signed differently) are a conflict, because the identifier must pin one build.
 */
export async function putPackage(record: PackageRecord): Promise<PutPackageResult> {
  const table = mainTableName();
  const [author, name] = record.plugin_id.split('/') as [string, string];
  const sortKey = versionSortKey(record.version);
  try {
    await documentClientInstance().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: table,
              Item: packageItem(record),
              ConditionExpression: 'attribute_not_exists(PK)',
            },
          },
          blobPut(table, record),
          versionPut(table, record),
          {
            Update: {
              TableName: table,
              Key: keys.plugin(record.plugin_id),
              UpdateExpression:
                'SET #type = :type, plugin_id = :id, author = :author, #name = :name, GSI1PK = :gpk, GSI1SK = :gsk ADD versions_count :one',
              ExpressionAttributeNames: { '#type': 'type', '#name': 'name' },
              ExpressionAttributeValues: {
                ':type': 'plugin',
                ':id': record.plugin_id,
                ':author': author,
                ':name': name,
                ':gpk': keys.pluginIndex(record.plugin_id).GSI1PK,
                ':gsk': keys.pluginIndex(record.plugin_id).GSI1SK,
                ':one': 1,
              },
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const existing =
      failedTransactionItem(error) === 1
        ? await findPackageBySha256(record.sha256)
        : await findPackage(record.unique_identifier);
    if (existing !== undefined && existing.sha256 === record.sha256)
      return { created: false, package: existing };
    if (existing !== undefined && existing.unique_identifier === record.unique_identifier) {
      if (supersedes(record, existing)) return supersedePackage(existing, record);
    }
    throw new ConflictError(
      `${record.unique_identifier} is already published from different bytes (sha256 ${existing?.sha256 ?? 'unknown'}); ` +
        'a unique identifier pins one build.',
    );
  }
  await raiseLatestVersion(record.plugin_id, record.version, sortKey);
  return { created: true, package: record };
}

/**
 * The genuine build replaces a copy (docs/security.md, "No squatting"): same identifier, hence the
 * same files, but this one verifies with a stage signer and the catalogued one does not. The
 * record keeps the replaced copy's sha256 and publisher; the old bytes stay stored (in-flight
 * deployments may still read them) and their blob index keeps pointing at the identifier, so
 * re-sending them answers the genuine record. The condition on the old sha256 makes two racing
 * replacements serialise.
 */
async function supersedePackage(existing: PackageRecord, record: PackageRecord): Promise<PutPackageResult> {
  const table = mainTableName();
  const replaced: PackageRecord = {
    ...record,
    superseded: [
      ...(existing.superseded ?? []),
      {
        sha256: existing.sha256,
        signature_status: existing.signature.status,
        publisher: existing.publisher ?? null,
        superseded_at: record.published_at,
      },
    ],
  };
  try {
    await documentClientInstance().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: table,
              Item: packageItem(replaced),
              ConditionExpression: 'sha256 = :old',
              ExpressionAttributeValues: { ':old': existing.sha256 },
            },
          },
          blobPut(table, replaced),
          versionPut(table, replaced),
        ],
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const current = await findPackage(record.unique_identifier);
    if (current !== undefined && current.sha256 === record.sha256)
      return { created: false, package: current };
    throw new ConflictError(
      `${record.unique_identifier} changed while its genuine build was being catalogued; retry.`,
    );
  }
  return { created: true, package: replaced };
}

/** The catalogue's item of a build. */
function packageItem(record: PackageRecord) {
  return { ...keys.package(record.unique_identifier), type: 'package', ...record };
}

/** The blob index of a build's bytes (sha256 → identifier), written once per sha256. */
function blobPut(table: string, record: PackageRecord) {
  return {
    Put: {
      TableName: table,
      Item: { ...keys.blob(record.sha256), type: 'blob', unique_identifier: record.unique_identifier },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

/** The build's line in its plugin's version list: the record without its manifest. */
function versionPut(table: string, record: PackageRecord) {
  const { manifest: _manifest, ...summary } = record;
  return {
    Put: {
      TableName: table,
      Item: {
        ...keys.pluginVersion(record.plugin_id, versionSortKey(record.version), record.checksum),
        type: 'version',
        ...summary,
      },
    },
  };
}

/**
 * Moves the plugin's `latest_version` forward only. A separate conditional update because a
 * transaction cannot touch the plugin item twice; if the process dies in between, the next
 * publish of that plugin repairs it (the condition compares sort keys, never rewinds).
 */
async function raiseLatestVersion(pluginId: string, version: string, sortKey: string): Promise<void> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.plugin(pluginId),
        UpdateExpression: 'SET latest_version = :v, latest_sort_key = :s',
        ConditionExpression: 'attribute_not_exists(latest_sort_key) OR latest_sort_key < :s',
        ExpressionAttributeValues: { ':v': version, ':s': sortKey },
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}

export async function listPlugins(options: {
  q?: string | undefined;
  author?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}): Promise<Page<PluginSummary>> {
  const partition = keys.pluginsPartition();
  const scope = `plugins:${options.author ?? ''}:${options.q ?? ''}`;
  const values: Record<string, unknown> = { ':pk': partition.GSI1PK };
  let condition = 'GSI1PK = :pk';
  if (options.author !== undefined) {
    condition += ' AND begins_with(GSI1SK, :author)';
    values[':author'] = `${options.author}/`;
  }
  let filter: string | undefined;
  if (options.q !== undefined && options.q !== '') {
    filter = 'contains(plugin_id, :q)';
    values[':q'] = options.q.toLowerCase();
  }
  // DynamoDB applies Limit before the filter: a search reads on until it has `limit` matches (or
  // has read SEARCH_READ_BUDGET plugins, then answers with fewer and a cursor), so a match is never
  // hidden behind pages that came back empty.
  const found: Record<string, unknown>[] = [];
  let start = decodeCursor(options.cursor, scope);
  let read = 0;
  let next: Record<string, unknown> | undefined;
  for (;;) {
    const result = await documentClientInstance().send(
      new QueryCommand({
        TableName: mainTableName(),
        IndexName: partition.index,
        KeyConditionExpression: condition,
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        Limit: filter === undefined ? options.limit : SEARCH_PAGE,
        ExclusiveStartKey: start,
      }),
    );
    read += result.ScannedCount ?? 0;
    const items = result.Items ?? [];
    const room = options.limit - found.length;
    found.push(...items.slice(0, room));
    // Cut inside the page: the next one starts after the last plugin returned.
    next =
      items.length > room
        ? pluginIndexKey(items[room - 1] as Record<string, unknown>)
        : result.LastEvaluatedKey;
    if (found.length >= options.limit || next === undefined || read >= SEARCH_READ_BUDGET) break;
    start = next;
  }
  return {
    items: found.map((item) => ({
      plugin_id: item.plugin_id as string,
      latest_version: (item.latest_version as string | undefined) ?? null,
      versions_count: (item.versions_count as number | undefined) ?? 0,
    })),
    next_cursor: encodeCursor(next, scope),
  };
}

/** Plugins a search reads per query, and per request at most. */
const SEARCH_PAGE = 100;
const SEARCH_READ_BUDGET = 1_000;

/** The position of a plugin in the plugins index, as DynamoDB's LastEvaluatedKey carries it. */
function pluginIndexKey(item: Record<string, unknown>): Record<string, unknown> {
  return { PK: item.PK, SK: item.SK, GSI1PK: item.GSI1PK, GSI1SK: item.GSI1SK };
}

/** Versions of one plugin, newest semver first (the sort key orders like semver). */
export async function listPluginVersions(
  pluginId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<PackageRecord>> {
  const page = await queryPrefixPage({
    partition: keys.pluginVersionsPartition(pluginId),
    scope: `versions:${pluginId}`,
    limit,
    cursor,
    newestFirst: true,
  });
  const identifiers = page.items.map((item) => item.unique_identifier as string);
  const full = new Map<string, PackageRecord>();
  // Throttling may leave keys unprocessed; batchGetItems asks again (and throws rather than drop).
  for (const item of await batchGetItems(identifiers.map((id) => keys.package(id)))) {
    const record = toRecord(item);
    full.set(record.unique_identifier, record);
  }
  return {
    items: identifiers.flatMap((id) => {
      const record = full.get(id);
      return record === undefined ? [] : [record];
    }),
    next_cursor: page.next_cursor,
  };
}

/**
 * Marks a build stage-wide (docs/security.md). The version entry carries the full record too,
 * since listings read visibility from it; both change in one transaction. Promoting twice keeps
 * the first promotion.
 */
export async function promotePackage(uniqueIdentifier: string, promotion: Promotion): Promise<PackageRecord> {
  const record = await findPackage(uniqueIdentifier);
  if (record === undefined) throw new NotFoundError(`Package ${uniqueIdentifier} is not in the catalog.`);
  if (record.promoted !== undefined) return record;
  const update = {
    UpdateExpression: 'SET promoted = if_not_exists(promoted, :p)',
    ExpressionAttributeValues: { ':p': promotion },
  };
  await documentClientInstance().send(
    new TransactWriteCommand({
      TransactItems: [
        { Update: { TableName: mainTableName(), Key: keys.package(uniqueIdentifier), ...update } },
        {
          Update: {
            TableName: mainTableName(),
            Key: keys.pluginVersion(record.plugin_id, versionSortKey(record.version), record.checksum),
            ...update,
          },
        },
      ],
    }),
  );
  return { ...record, promoted: promotion };
}

/**
 * A tenant published bytes another tenant catalogued privately first: it had the exact bytes and
 * passed its own author and policy checks, so it may use the build too (docs/security.md).
 */
export async function addTenantPublisher(record: PackageRecord, tenantId: string): Promise<PackageRecord> {
  const others = record.also_published_by ?? [];
  if (others.includes(tenantId)) return record;
  const update = {
    UpdateExpression:
      'SET also_published_by = list_append(if_not_exists(also_published_by, :empty), :tenant)',
    ExpressionAttributeValues: { ':empty': [], ':tenant': [tenantId] },
  };
  await documentClientInstance().send(
    new TransactWriteCommand({
      TransactItems: [
        { Update: { TableName: mainTableName(), Key: keys.package(record.unique_identifier), ...update } },
        {
          Update: {
            TableName: mainTableName(),
            Key: keys.pluginVersion(record.plugin_id, versionSortKey(record.version), record.checksum),
            ...update,
          },
        },
      ],
    }),
  );
  return { ...record, also_published_by: [...others, tenantId] };
}
