/**
 * Table definitions shared by the CDK storage construct and the local runtime, so DynamoDB Local
 * gets exactly the key schema that AWS gets. Plain data: no CDK imports here.
 */

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface IndexDefinition {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
}

export interface TableDefinition {
  /** Logical id used in CDK and as the suffix of the physical name (`pluginops-<stage>-<id>`). */
  id: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  globalSecondaryIndexes: IndexDefinition[];
  /** Attribute holding an epoch-seconds expiry (DynamoDB TTL). */
  timeToLiveAttribute?: string;
  /** Stream of item images (the main table's carries outbox events to EventBridge). */
  stream?: 'NEW_IMAGE';
}

/** The single table: every pluginops entity, keyed by `functions/adapters/dynamo/keys.ts`. */
export const MAIN_TABLE: TableDefinition = {
  id: 'main',
  partitionKey: { name: 'PK', type: 'S' },
  sortKey: { name: 'SK', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: 'GSI1',
      partitionKey: { name: 'GSI1PK', type: 'S' },
      sortKey: { name: 'GSI1SK', type: 'S' },
    },
    {
      indexName: 'GSI2',
      partitionKey: { name: 'GSI2PK', type: 'S' },
      sortKey: { name: 'GSI2SK', type: 'S' },
    },
  ],
  timeToLiveAttribute: 'expires_at_epoch',
  stream: 'NEW_IMAGE',
};

/**
 * Powertools idempotency records. Kept apart from the main table because the persistence layer
 * owns its item shape (`id`, `expiration`, `status`, …) and its TTL semantics.
 */
export const IDEMPOTENCY_TABLE: TableDefinition = {
  id: 'idempotency',
  partitionKey: { name: 'id', type: 'S' },
  globalSecondaryIndexes: [],
  timeToLiveAttribute: 'expiration',
};

export const TABLES: readonly TableDefinition[] = [MAIN_TABLE, IDEMPOTENCY_TABLE];

export function physicalTableName(stage: string, table: TableDefinition): string {
  return `pluginops-${stage}-${table.id}`;
}
