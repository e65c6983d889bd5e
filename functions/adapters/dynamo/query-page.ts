/**
 * One page of a partition's items under a sort-key prefix, with a sealed cursor. Every paginated
 * list of the API reads through here, so the cursor rules (scope-bound, tamper-evident) and the
 * `{items, next_cursor}` shape live in one place.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Page } from '#core/page.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

export interface PrefixPageRequest {
  partition: { PK: string; skPrefix: string };
  /** What the cursor is valid for (e.g. `revisions:<tenant>:<plugin>`); another list rejects it. */
  scope: string;
  limit: number;
  cursor: string | undefined;
  /** Descending sort-key order. */
  newestFirst?: boolean;
  /** A filter applied after the key condition (DynamoDB's `FilterExpression`). */
  filter?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> };
}

export function queryPrefixPage(request: PrefixPageRequest): Promise<Page<Record<string, unknown>>> {
  return queryPage(
    {
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      FilterExpression: request.filter?.expression,
      ExpressionAttributeNames: request.filter?.names,
      ExpressionAttributeValues: {
        ':pk': request.partition.PK,
        ':prefix': request.partition.skPrefix,
        ...request.filter?.values,
      },
      ScanIndexForward: !request.newestFirst,
    },
    request,
  );
}

export interface IndexPageRequest {
  /** A GSI partition: its index name and the partition key's attribute and value. */
  partition: { index: string; attribute: string; value: string };
  /** What the cursor is valid for; another list rejects it. */
  scope: string;
  limit: number;
  cursor: string | undefined;
  /** Descending sort-key order. */
  newestFirst?: boolean;
}

/** One page of a GSI partition, with a sealed cursor (same rules as {@link queryPrefixPage}). */
export function queryIndexPage(request: IndexPageRequest): Promise<Page<Record<string, unknown>>> {
  return queryPage(
    {
      IndexName: request.partition.index,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': request.partition.attribute },
      ExpressionAttributeValues: { ':pk': request.partition.value },
      ScanIndexForward: !request.newestFirst,
    },
    request,
  );
}

/** One query of the main table: `limit` items from the cursor's position, and the next cursor. */
async function queryPage(
  input: Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>,
  page: { scope: string; limit: number; cursor: string | undefined },
): Promise<Page<Record<string, unknown>>> {
  const result = await documentClientInstance().send(
    new QueryCommand({
      ...input,
      TableName: mainTableName(),
      Limit: page.limit,
      ExclusiveStartKey: decodeCursor(page.cursor, page.scope),
    }),
  );
  return {
    items: result.Items ?? [],
    next_cursor: encodeCursor(result.LastEvaluatedKey, page.scope),
  };
}
