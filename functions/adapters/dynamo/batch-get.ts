/**
 * `BatchGetItem` over any number of keys of the main table. Keys go in chunks of 100 (the API's
 * limit). DynamoDB may answer part of a chunk and hand the rest back as `UnprocessedKeys`
 * (throttling, or the 16 MB response cap); those are asked again after an exponential backoff
 * with full jitter, as AWS advises for batch calls. When keys are still unprocessed after
 * `maxRounds` calls the lookup throws {@link UnprocessedKeysError}: a listing, a dependency
 * resolution or a sweep that silently loses items is worse than one that fails and is retried.
 */
import { BatchGetCommand, type BatchGetCommandOutput } from '@aws-sdk/lib-dynamodb';
import { documentClientInstance, mainTableName } from './client.ts';
import type { ItemKey } from './keys.ts';

const BATCH_GET_LIMIT = 100;

export interface BatchGetOptions {
  /** `ProjectionExpression` (plain attribute names only). */
  projection?: string;
  consistentRead?: boolean;
  /** Calls per chunk before giving up (first call included); default 8. */
  maxRounds?: number;
  /** Backoff before the second call; doubles each round up to `maxDelayMs`. Default 50 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected in tests; `setTimeout` otherwise. */
  sleep?: (ms: number) => Promise<void>;
}

/** DynamoDB kept returning keys unprocessed: the items behind them were never read. */
export class UnprocessedKeysError extends Error {
  readonly unprocessed: number;
  constructor(unprocessed: number, rounds: number) {
    super(`BatchGetItem left ${unprocessed} key(s) unprocessed after ${rounds} attempts`);
    this.name = 'UnprocessedKeysError';
    this.unprocessed = unprocessed;
  }
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every item found for `itemKeys` (in no particular order; keys without an item are left out). */
export async function batchGetItems(
  itemKeys: readonly ItemKey[],
  options: BatchGetOptions = {},
): Promise<Record<string, unknown>[]> {
  const { maxRounds = 8, baseDelayMs = 50, maxDelayMs = 1_000, sleep = sleepFor } = options;
  const table = mainTableName();
  const client = documentClientInstance();
  const items: Record<string, unknown>[] = [];
  for (let offset = 0; offset < itemKeys.length; offset += BATCH_GET_LIMIT) {
    let pending: Record<string, unknown>[] = itemKeys
      .slice(offset, offset + BATCH_GET_LIMIT)
      .map((key) => ({ PK: key.PK, SK: key.SK }));
    for (let round = 1; pending.length > 0; round += 1) {
      if (round > maxRounds) throw new UnprocessedKeysError(pending.length, maxRounds);
      if (round > 1) await sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (round - 2)));
      const result: BatchGetCommandOutput = await client.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: pending,
              ...(options.projection === undefined ? {} : { ProjectionExpression: options.projection }),
              ...(options.consistentRead ? { ConsistentRead: true } : {}),
            },
          },
        }),
      );
      items.push(...(result.Responses?.[table] ?? []));
      pending = result.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return items;
}
