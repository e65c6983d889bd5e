/**
 * The DynamoDB table behind `Idempotency-Key` (Powertools' persistence layer), one per process
 * and created on first use, on the same client as every other table.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { getConfig } from '#config/runtime-config.ts';
import { dynamoClient } from './client.ts';

let persistence: DynamoDBPersistenceLayer | undefined;

export function idempotencyStore(): DynamoDBPersistenceLayer {
  persistence ??= new DynamoDBPersistenceLayer({
    tableName: getConfig().idempotencyTable,
    awsSdkV3Client: dynamoClient(),
  });
  return persistence;
}
