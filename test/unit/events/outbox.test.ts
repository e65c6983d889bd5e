/**
 * The outbox's delivery rules on the relay's own code: stream records in, EventBridge (a client
 * whose `send` is scripted: that is the service we cannot run here) out. The whole path on the
 * real engines — transaction, DynamoDB Local's stream, the local relay — is
 * test/integration/outbox.test.ts.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  deliverStreamRecords,
  type EventSink,
  eventBridgeSink,
  eventOfRecord,
  type OutboxStreamRecord,
} from '#adapters/events.ts';
import { type DomainEvent, dedupeEvents, domainEvent } from '#core/events.ts';

const NOW = new Date('2026-12-01T10:00:00Z');

function record(event: DomainEvent, eventName = 'INSERT', sequence = '1'): OutboxStreamRecord {
  return {
    eventName,
    dynamodb: {
      SequenceNumber: sequence,
      NewImage: marshall({ PK: `EVENT#${event.event_id}`, SK: 'META', type: 'event', ...event }) as never,
    },
  };
}

function events(count: number): DomainEvent[] {
  return Array.from({ length: count }, (_, index) =>
    domainEvent('Deployment Succeeded', `d${index}`, { deployment_id: `d${index}`, nothing: null }, NOW),
  );
}

/** PutEvents as scripted: each call answers the next entry (an error to throw, or failed entries). */
function scriptedEventBridge(script: Array<'ok' | 'throw' | 'partial'>): {
  client: EventBridgeClient;
  accepted: Array<{ DetailType?: string; Detail?: string }>;
} {
  const accepted: Array<{ DetailType?: string; Detail?: string }> = [];
  let call = 0;
  const client = {
    async send(command: { input: { Entries: Array<{ DetailType?: string; Detail?: string }> } }) {
      const step = script[call] ?? 'ok';
      call += 1;
      if (step === 'throw')
        throw Object.assign(new Error('ServiceUnavailable'), { name: 'ServiceUnavailable' });
      if (step === 'partial') {
        return {
          FailedEntryCount: 1,
          Entries: command.input.Entries.map(() => ({
            ErrorCode: 'InternalFailure',
            ErrorMessage: 'try again',
          })),
        };
      }
      accepted.push(...command.input.Entries);
      return { FailedEntryCount: 0, Entries: command.input.Entries.map(() => ({ EventId: 'x' })) };
    },
  } as unknown as EventBridgeClient;
  return { client, accepted };
}

/** The Lambda event source mapping: retries the batch from the first failed record until all went. */
async function relayUntilDone(
  records: OutboxStreamRecord[],
  sink: EventSink,
  maxRounds = 50,
): Promise<number> {
  let remaining = records;
  let rounds = 0;
  while (remaining.length > 0 && rounds < maxRounds) {
    rounds += 1;
    const failed = await deliverStreamRecords(remaining, sink);
    remaining = failed < 0 ? [] : remaining.slice(failed);
  }
  return rounds;
}

describe('outbox delivery', () => {
  it('reads only new event items from the stream', () => {
    const [event] = events(1) as [DomainEvent];
    expect(eventOfRecord(record(event))).toEqual(event);
    expect(eventOfRecord(record(event, 'MODIFY'))).toBeUndefined();
    expect(
      eventOfRecord({
        eventName: 'INSERT',
        dynamodb: { NewImage: marshall({ PK: 'TENANT#a', SK: 'META', type: 'tenant' }) as never },
      }),
    ).toBeUndefined();
  });

  it('counts PutEvents per-entry failures as failures, not deliveries', async () => {
    const { client, accepted } = scriptedEventBridge(['partial']);
    await expect(eventBridgeSink('bus', client).deliver(events(1))).rejects.toThrow(/refused 1 of 1/);
    expect(accepted).toHaveLength(0);
  });

  it('PutEvents failing N times: every event still arrives, exactly once after dedupe', async () => {
    const all = events(12);
    const records = all.map((event, index) => record(event, 'INSERT', String(index)));
    const { client, accepted } = scriptedEventBridge([
      'throw',
      'partial',
      'ok',
      'ok',
      'throw',
      'ok',
      'throw',
      'throw',
    ]);
    const rounds = await relayUntilDone(records, eventBridgeSink('bus', client));
    expect(rounds).toBeGreaterThan(1);
    const delivered = accepted.map((entry) => JSON.parse(entry.Detail as string) as { event_id: string });
    expect(dedupeEvents(delivered).map((detail) => detail.event_id)).toEqual(
      all.map((event) => event.event_id),
    );
  });

  it('an acknowledgement lost after delivery repeats the event; consumers dedupe on event_id', async () => {
    const all = events(6);
    const records = all.map((event, index) => record(event, 'INSERT', String(index)));
    const seen: DomainEvent[] = [];
    let calls = 0;
    // Delivers, then fails to say so every third call (a timeout after EventBridge accepted).
    const lossy: EventSink = {
      async deliver(batch) {
        seen.push(...batch);
        calls += 1;
        if (calls % 3 === 0) throw new Error('socket hang up');
      },
    };
    await relayUntilDone(records, lossy);
    expect(seen.length).toBeGreaterThan(all.length);
    expect(dedupeEvents(seen)).toEqual(all);
  });
});
