/**
 * Outbox relay: the main table's stream (NEW_IMAGE, filtered to event items by the event source
 * mapping) → the stage's EventBridge bus. A record whose delivery fails is reported back as the
 * first `batchItemFailures` entry, so Lambda retries the batch from there (at-least-once; the
 * `event_id` in every detail lets consumers drop copies).
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { configuredSink, deliverStreamRecords, type OutboxStreamRecord } from '#adapters/events.ts';

const sink = configuredSink();

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const records = event.Records as unknown as OutboxStreamRecord[];
  const failed = await deliverStreamRecords(records, sink);
  if (failed < 0) return { batchItemFailures: [] };
  const sequence = event.Records[failed]?.dynamodb?.SequenceNumber ?? '';
  return { batchItemFailures: [{ itemIdentifier: sequence }] };
}
