/** Translates DynamoDB's conditional-write failures into domain errors at the adapter boundary. */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientInstance, mainTableName } from './client.ts';

export function isConditionalFailure(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return true;
  if (error instanceof TransactionCanceledException) {
    return (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
  }
  return false;
}

/** Index of the first transaction item whose condition failed, or -1. */
export function failedTransactionItem(error: unknown): number {
  if (!(error instanceof TransactionCanceledException)) return -1;
  return (error.CancellationReasons ?? []).findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
}

/**
 * Writes `item` only if no item with its key exists yet. Resolves `true` when this call created
 * it, `false` when it was already there (the existing item is left untouched).
 */
export async function putIfAbsent(
  item: Record<string, unknown> & { PK: string; SK: string },
): Promise<boolean> {
  try {
    await documentClientInstance().send(
      new PutCommand({
        TableName: mainTableName(),
        Item: item,
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}
