/**
 * Module-scope DynamoDB clients, created once per Lambda container (or local process). The
 * endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` when set (DynamoDB Local), like every SDK v3 client.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getConfig } from '#config/runtime-config.ts';

let documentClient: DynamoDBDocumentClient | undefined;
let rawClient: DynamoDBClient | undefined;

export function dynamoClient(): DynamoDBClient {
  rawClient ??= new DynamoDBClient({ region: getConfig().region, maxAttempts: 4 });
  return rawClient;
}

export function documentClientInstance(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(dynamoClient(), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return documentClient;
}

export function mainTableName(): string {
  return getConfig().mainTable;
}
