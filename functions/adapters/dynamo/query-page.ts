/**
 * One page of a partition's items under a sort-key prefix, with a sealed cursor. Every paginated
 * list of the API reads through here, so the cursor rules (scope-bound, tamper-evident) and the
 * `{items, next_cursor}` shape live in one place.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
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

export async function queryPrefixPage(request: PrefixPageRequest): Promise<Page<Record<string, unknown>>> {
  const result = await documentClientInstance().send(
    new QueryCommand({
      TableName: mainTableName(),
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      FilterExpression: request.filter?.expression,
      ExpressionAttributeNames: request.filter?.names,
      ExpressionAttributeValues: {
        ':pk': request.partition.PK,
        ':prefix': request.partition.skPrefix,
        ...request.filter?.values,
      },
      ScanIndexForward: !request.newestFirst,
      Limit: request.limit,
      ExclusiveStartKey: decodeCursor(request.cursor, request.scope),
    }),
  );
  return {
    items: result.Items ?? [],
    next_cursor: encodeCursor(result.LastEvaluatedKey, request.scope),
  };
}
