/**
 * The outbox relay, locally: reads the main table's stream on DynamoDB Local (the same Streams API
 * Lambda's event source mapping reads on AWS) and hands the records to the relay's delivery
 * (`deliverStreamRecords`, shared with functions/events/outbox-relay.ts).
 *
 * Position: the sequence number of the last delivered record of each shard is kept in
 * `<dataDir>/outbox-checkpoint.json`, so a restart (or a crash) resumes after it and delivers what
 * was written but not yet delivered. A failed delivery keeps the position and retries that record
 * with backoff: at-least-once, like the Lambda mapping.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { deliverStreamRecords, type EventSink, type OutboxStreamRecord } from '#adapters/events.ts';

export interface OutboxStreamOptions {
  dynamodb: DynamoDBClient;
  endpoint: string;
  region: string;
  table: string;
  checkpointFile: string;
  sink: EventSink;
  /** Pause between polls of an idle stream. Default 50 ms. */
  idleMs?: number;
  /** Longest pause after failed deliveries (it doubles from 50 ms up to this). Default 2000 ms. */
  retryMaxMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface OutboxStream {
  /** Resolves once everything written to the stream before the call has been delivered. */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const RETRY_BASE_MS = 50;
const QUIET_PASSES = 3;
const RETRY_MAX_MS = 2_000;

export async function startOutboxStream(options: OutboxStreamOptions): Promise<OutboxStream> {
  const idleMs = options.idleMs ?? 50;
  const retryMaxMs = options.retryMaxMs ?? RETRY_MAX_MS;
  const log = options.log ?? (() => undefined);
  const { Table } = await options.dynamodb.send(new DescribeTableCommand({ TableName: options.table }));
  const streamArn = Table?.LatestStreamArn;
  if (streamArn === undefined) throw new Error(`table ${options.table} has no stream`);
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: options.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const checkpoint: Record<string, string> = await readFile(options.checkpointFile, 'utf8')
    .then((text) => JSON.parse(text) as Record<string, string>)
    .catch(() => ({}));
  const iterators = new Map<string, string>();
  const closed = new Set<string>();
  let stopped = false;
  let failures = 0;
  let pass = 0;
  /** Passes in a row that read nothing and failed nothing. */
  let quiet = 0;
  const waiters: Array<{ afterPass: number; resolve: () => void }> = [];

  async function saveCheckpoint(): Promise<void> {
    const temporary = `${options.checkpointFile}.tmp`;
    await writeFile(temporary, JSON.stringify(checkpoint));
    await rename(temporary, options.checkpointFile);
  }

  async function iteratorFor(shardId: string): Promise<string | undefined> {
    const after = checkpoint[shardId];
    const type: ShardIteratorType = after === undefined ? 'TRIM_HORIZON' : 'AFTER_SEQUENCE_NUMBER';
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(after === undefined ? {} : { SequenceNumber: after }),
      }),
    );
    return ShardIterator;
  }

  async function listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
    return shards;
  }

  /** One pass over every open shard; true when some record was read. */
  async function poll(): Promise<boolean> {
    let read = false;
    for (const shard of await listShards()) {
      const shardId = shard.ShardId as string;
      if (closed.has(shardId)) continue;
      let iterator = iterators.get(shardId) ?? (await iteratorFor(shardId));
      if (iterator === undefined) continue;
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      const records = (page.Records ?? []) as OutboxStreamRecord[];
      if (records.length > 0) {
        read = true;
        const failed = await deliverStreamRecords(records, options.sink);
        const delivered = failed < 0 ? records : records.slice(0, failed);
        const last = delivered.at(-1)?.dynamodb?.SequenceNumber;
        if (last !== undefined) {
          checkpoint[shardId] = last;
          await saveCheckpoint();
        }
        if (failed >= 0) {
          // Start again at the record that failed (after the last one delivered).
          iterators.delete(shardId);
          throw new Error('event delivery failed');
        }
      }
      iterator = page.NextShardIterator;
      if (iterator === undefined) {
        closed.add(shardId);
        iterators.delete(shardId);
      } else {
        iterators.set(shardId, iterator);
      }
    }
    return read;
  }

  const loop = (async () => {
    while (!stopped) {
      let read = false;
      try {
        read = await poll();
        failures = 0;
      } catch (error) {
        quiet = 0;
        if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
          iterators.clear();
        } else if (!stopped) {
          failures += 1;
          if (failures === 1 || failures % 20 === 0)
            log('warn', 'outbox delivery failed; retrying', { error: (error as Error).message, failures });
        }
        await sleep(Math.min(retryMaxMs, RETRY_BASE_MS * 2 ** Math.min(failures, 6)));
        continue;
      }
      pass += 1;
      quiet = read ? 0 : quiet + 1;
      // A fresh iterator may answer empty before the records behind it: only several quiet passes
      // in a row, all begun after the caller asked, mean the relay has caught up.
      if (quiet >= QUIET_PASSES) {
        for (const waiter of waiters.splice(0)) {
          if (pass >= waiter.afterPass + QUIET_PASSES) waiter.resolve();
          else waiters.push(waiter);
        }
      }
      if (!read) await sleep(idleMs);
    }
  })();

  return {
    drained(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('outbox not drained in time')), timeoutMs);
        waiters.push({
          afterPass: pass + 1,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async stop() {
      stopped = true;
      await loop;
      streams.destroy();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
