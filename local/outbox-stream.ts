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
import { randomUUID } from 'node:crypto';
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
  /** Pause between polls while the stack is busy (a write or a record in the last 2 s). Default 50 ms. */
  idleMs?: number;
  /**
   * Longest pause between polls of a stream that has been quiet for a while: the pause doubles
   * from `idleMs` up to this. Default 1000 ms. A write through the stack's own clients
   * ({@link OutboxStream.nudge}) or a `drained()` call brings it back to `idleMs` at once.
   */
  idleMaxMs?: number;
  /** Longest pause after failed deliveries (it doubles from 50 ms up to this). Default 2000 ms. */
  retryMaxMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface OutboxStream {
  /** Resolves once everything written to the stream before the call has been delivered. */
  drained(timeoutMs?: number): Promise<void>;
  /** Something was written that may carry events: poll at the busy pace again, starting now. */
  nudge(): void;
  /** Passes over the stream so far, and the pause the relay takes after a quiet one now. */
  pace(): { passes: number; pauseMs: number };
  stop(): Promise<void>;
}

const RETRY_BASE_MS = 50;
const QUIET_PASSES = 3;
const RETRY_MAX_MS = 2_000;
const IDLE_MAX_MS = 1_000;
/** How long after a write or a record the relay keeps polling at the busy pace. */
const BUSY_WINDOW_MS = 2_000;
/** The shard list is read again after this long (and at once when a shard closes). */
const SHARD_LIST_TTL_MS = 5_000;

export async function startOutboxStream(options: OutboxStreamOptions): Promise<OutboxStream> {
  const idleMs = options.idleMs ?? 50;
  const idleMaxMs = Math.max(idleMs, options.idleMaxMs ?? IDLE_MAX_MS);
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
  /** Callers of `drained()`: each counts the quiet passes begun after it asked. */
  const waiters: Array<{ afterPass: number; quiet: number; resolve: () => void }> = [];
  /** Until when the relay polls at the busy pace. */
  let busyUntil = Date.now() + BUSY_WINDOW_MS;
  let pause = idleMs;
  /** Ends the current pause early (a nudge, a drain request, stop). */
  let wake: (() => void) | undefined;
  let shards: Shard[] = [];
  let shardsListedAt = Number.NEGATIVE_INFINITY;

  function nudge(): void {
    busyUntil = Date.now() + BUSY_WINDOW_MS;
    // Cut short only an idle back-off: at the busy pace the next poll is at most idleMs away, and
    // waking on every write made the relay poll back to back under parallel deployments.
    const backedOff = pause > idleMs;
    pause = idleMs;
    if (backedOff) wake?.();
  }

  /** Sleeps `ms`, or less when woken. */
  function rest(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

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

  /** The stream's shards, listed again when the list is old or a shard has closed since. */
  async function listShards(): Promise<Shard[]> {
    if (Date.now() - shardsListedAt < SHARD_LIST_TTL_MS) return shards;
    const listed: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      listed.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
    shards = listed;
    shardsListedAt = Date.now();
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
        // Its successor may be new: list the shards again on the next pass.
        shardsListedAt = Number.NEGATIVE_INFINITY;
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
        if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
          iterators.clear();
          shardsListedAt = Number.NEGATIVE_INFINITY;
        } else if (!stopped) {
          failures += 1;
          if (failures === 1 || failures % 20 === 0)
            log('warn', 'outbox delivery failed; retrying', { error: (error as Error).message, failures });
        }
        await sleep(Math.min(retryMaxMs, RETRY_BASE_MS * 2 ** Math.min(failures, 6)));
        pause = idleMs;
        continue;
      }
      pass += 1;
      // A quiet pass (nothing read, nothing failed) begun after the caller asked means the relay
      // had reached the end of every shard past what was written before the call. A fresh
      // iterator may answer empty before the records behind it, so several are required — not in
      // a row: under a steady stream of writes (parallel deployments) quiet passes come between
      // busy ones, and three in a row may not come for a long time.
      if (!read) {
        for (const waiter of waiters.splice(0)) {
          if (pass > waiter.afterPass) waiter.quiet += 1;
          if (waiter.quiet >= QUIET_PASSES) waiter.resolve();
          else waiters.push(waiter);
        }
      }
      if (read) {
        nudge();
        continue;
      }
      // Quiet: the busy pace while something happened lately or someone waits for a drain, then
      // a pause that doubles up to idleMaxMs (an idle stack costs DynamoDB Local next to nothing).
      pause = Date.now() < busyUntil || waiters.length > 0 ? idleMs : Math.min(idleMaxMs, pause * 2);
      if (!stopped) await rest(pause);
    }
  })();

  return {
    drained(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('outbox not drained in time')), timeoutMs);
        waiters.push({
          afterPass: pass + 1,
          quiet: 0,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        wake?.();
      });
    },
    nudge,
    pace: () => ({ passes: pass, pauseMs: pause }),
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      streams.destroy();
    },
  };
}

/** DynamoDB commands that write (and so may store an event). */
const WRITE_COMMAND = /^(Put|Update|Delete|TransactWrite|BatchWrite|Execute|BatchExecute)/;

/**
 * Nudges the relay after every write made through `client` (the handlers' DynamoDB client): the
 * relay polls at the busy pace exactly while this stack is writing. Returns the undo.
 */
export function nudgeOnWrites(
  client: Pick<DynamoDBClient, 'middlewareStack'>,
  outbox: OutboxStream,
): () => void {
  const name = `outbox-nudge-${randomUUID()}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } finally {
        if (WRITE_COMMAND.test(String(context.commandName))) outbox.nudge();
      }
    },
    { step: 'initialize', name },
  );
  return () => {
    client.middlewareStack.remove(name);
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
