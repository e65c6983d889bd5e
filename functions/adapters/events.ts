/**
 * Domain events through a transactional outbox.
 *
 * Writing: an event is an item in the main table (`EVENT#<event_id>`), put in the same
 * TransactWrite as the status change it announces ({@link outboxPut}), so a change and its event
 * are stored together or not at all. {@link publishEvent} stores one on its own where no status
 * changes with it (a published package, an auto-upgrade alert).
 *
 * Delivering: the table's stream (NEW_IMAGE) carries every new event item to
 * {@link deliverStreamRecords}: on AWS the outbox relay Lambda (functions/events/outbox-relay.ts,
 * an event source mapping that retries a failed batch), locally the stream poller in
 * local/outbox-stream.ts. A delivery that fails is repeated from that record on, so delivery is
 * at-least-once; consumers dedupe on `detail.event_id`. Only INSERT records deliver: rewriting an
 * event item (a retried transaction) changes nothing downstream.
 *
 * Sinks: the stage's EventBridge bus (`PLUGINOPS_EVENT_BUS`) on AWS; the JSON-lines file
 * `PLUGINOPS_EVENTS_FILE` locally. Details never carry secrets.
 */
import { appendFile } from 'node:fs/promises';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ulid } from 'ulid';
import { getConfig } from '#config/runtime-config.ts';
import { type DomainEvent, deliveredDetail, domainEvent, type EventType } from '#core/events.ts';
import { logger } from '#shared/logger.ts';
import { documentClientInstance, mainTableName } from './dynamo/client.ts';
import { keys } from './dynamo/keys.ts';
import { lazyModule } from './lazy-module.ts';

export type { DomainEvent, EventType } from '#core/events.ts';

/** Delivered events stay in the table this long (DynamoDB TTL), for audits and replays. */
const OUTBOX_RETENTION_SECONDS = 7 * 24 * 60 * 60;

function outboxItem(event: DomainEvent): Record<string, unknown> {
  return {
    ...keys.outboxEvent(event.event_id),
    type: 'event',
    ...event,
    expires_at_epoch: Math.floor(Date.parse(event.time) / 1000) + OUTBOX_RETENTION_SECONDS,
  };
}

/**
 * The TransactWrite item that stores `event` with the change it announces. Unconditional: a
 * retried transaction rewrites the same item, which the stream reports as MODIFY, not delivered.
 */
export function outboxPut(event: DomainEvent): { Put: { TableName: string; Item: Record<string, unknown> } } {
  return { Put: { TableName: mainTableName(), Item: outboxItem(event) } };
}

/** Stores one event on its own (no status change goes with it). */
export async function publishEvent(
  detailType: EventType,
  detail: Record<string, unknown>,
  now = new Date(),
  key: string = ulid(now.getTime()),
): Promise<DomainEvent> {
  const event = domainEvent(detailType, key, detail, now);
  await documentClientInstance().send(
    new PutCommand({ TableName: mainTableName(), Item: outboxItem(event) }),
  );
  return event;
}

// ── Delivery ────────────────────────────────────────────────────────────────────────────────────

/** Where events go. `deliver` throws unless every event was accepted. */
export interface EventSink {
  deliver(events: readonly DomainEvent[]): Promise<void>;
}

export class EventDeliveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventDeliveryError';
  }
}

/** PutEvents takes at most 10 entries. */
const PUT_EVENTS_BATCH = 10;

/** The EventBridge SDK, loaded on first delivery (only the outbox relay delivers). */
const eventBridgeSdk = lazyModule(() => import('@aws-sdk/client-eventbridge'));
let eventBridge: EventBridgeClient | undefined;

export function eventBridgeSink(bus: string, client?: EventBridgeClient): EventSink {
  return {
    async deliver(events) {
      const { EventBridgeClient, PutEventsCommand } = await eventBridgeSdk();
      let sender = client ?? eventBridge;
      if (sender === undefined) {
        sender = new EventBridgeClient({ region: getConfig().region });
        eventBridge = sender;
      }
      for (let start = 0; start < events.length; start += PUT_EVENTS_BATCH) {
        const batch = events.slice(start, start + PUT_EVENTS_BATCH);
        const result = await sender.send(
          new PutEventsCommand({
            Entries: batch.map((event) => ({
              EventBusName: bus,
              Source: 'pluginops',
              DetailType: event.detail_type,
              Detail: JSON.stringify(deliveredDetail(event)),
              Time: new Date(event.time),
            })),
          }),
        );
        // PutEvents answers 200 with per-entry failures: those are failures too.
        if ((result.FailedEntryCount ?? 0) > 0) {
          const first = result.Entries?.find((entry) => entry.ErrorCode !== undefined);
          throw new EventDeliveryError(
            `EventBridge refused ${result.FailedEntryCount} of ${batch.length} events (${first?.ErrorCode}: ${first?.ErrorMessage}).`,
          );
        }
      }
    },
  };
}

/** The local bus: one JSON line per event, in the shape EventBridge delivers to a target. */
export function fileSink(file: string): EventSink {
  return {
    async deliver(events) {
      if (events.length === 0) return;
      const lines = events.map((event) =>
        JSON.stringify({
          id: event.event_id,
          source: 'pluginops',
          'detail-type': event.detail_type,
          time: event.time,
          detail: deliveredDetail(event),
        }),
      );
      await appendFile(file, `${lines.join('\n')}\n`);
    },
  };
}

/** The sinks the configuration names (none: events stay in the outbox only). */
export function configuredSink(): EventSink {
  const config = getConfig();
  const sinks: EventSink[] = [];
  if (config.eventBus !== undefined) sinks.push(eventBridgeSink(config.eventBus));
  if (config.eventsFile !== undefined) sinks.push(fileSink(config.eventsFile));
  return {
    async deliver(events) {
      for (const event of events)
        logger.info('event', { event: event.detail_type, detail: deliveredDetail(event) });
      for (const sink of sinks) await sink.deliver(events);
    },
  };
}

/** One record of a DynamoDB stream, as the Lambda event and the Streams API both carry it. */
export interface OutboxStreamRecord {
  eventName?: string;
  dynamodb?: { NewImage?: Record<string, AttributeValue>; SequenceNumber?: string };
}

/** The event a stream record announces, or undefined for every other change of the table. */
export function eventOfRecord(record: OutboxStreamRecord): DomainEvent | undefined {
  const image = record.dynamodb?.NewImage;
  // Every other item of the table passes by too; only new event items are read.
  if (record.eventName !== 'INSERT' || image === undefined || image.type?.S !== 'event') return undefined;
  const item = unmarshall(image);
  return {
    event_id: item.event_id as string,
    detail_type: item.detail_type as EventType,
    time: item.time as string,
    detail: item.detail as Record<string, unknown>,
  };
}

/**
 * Delivers the events among `records`, in order. Returns the index of the first record whose
 * delivery failed (everything before it was delivered), or -1 when all were: the caller retries
 * from that record (Lambda: `batchItemFailures`; local: the poller keeps its position).
 */
export async function deliverStreamRecords(
  records: readonly OutboxStreamRecord[],
  sink: EventSink,
): Promise<number> {
  for (let index = 0; index < records.length; index += 1) {
    const event = eventOfRecord(records[index] as OutboxStreamRecord);
    if (event === undefined) continue;
    try {
      await sink.deliver([event]);
    } catch (error) {
      logger.warn('event delivery failed; will retry', { event_id: event.event_id, error: error as Error });
      return index;
    }
  }
  return -1;
}
