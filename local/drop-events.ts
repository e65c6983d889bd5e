/**
 * The drop folder, locally: s3rver's S3 notification records become the EventBridge
 * "Object Created" events that AWS delivers to the drop Lambda, and a small dispatcher feeds them to
 * the handler one at a time per key, with bounded concurrency overall.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { createLambdaContext } from './api-event.ts';

/** The prefix whose ObjectCreated events go to the drop pipeline (see API.md "Drop folder"). */
export const DROP_PREFIX = 'drop/';

/** One record of the notification s3rver emits on its `'event'` emitter. */
export interface S3rverEventRecord {
  eventName: string;
  eventTime: string;
  awsRegion?: string;
  requestParameters?: { sourceIPAddress?: string };
  responseElements?: { 'x-amz-request-id'?: string };
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string; sequencer?: string };
  };
}

export interface S3rverEvent {
  Records: S3rverEventRecord[];
}

export type ObjectCreatedReason = 'PutObject' | 'POST Object' | 'CopyObject' | 'CompleteMultipartUpload';

/**
 * Detail of an S3 "Object Created" EventBridge event. `version-id` is absent because the local
 * bucket is not versioned (AWS omits it in that case too).
 */
export interface ObjectCreatedDetail {
  version: '0';
  bucket: { name: string };
  object: { key: string; size: number; etag: string; 'version-id'?: string; sequencer: string };
  'request-id': string;
  requester: string;
  'source-ip-address': string;
  reason: ObjectCreatedReason;
}

export interface ObjectCreatedEvent {
  version: '0';
  id: string;
  'detail-type': 'Object Created';
  source: 'aws.s3';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: ObjectCreatedDetail;
}

export interface ConversionOptions {
  account?: string;
  region?: string;
  /** Event id; a random UUID when omitted. */
  id?: string;
}

/**
 * Converts one s3rver record into the event AWS sends to EventBridge, or `undefined` for anything
 * that is not an ObjectCreated record. The key is passed as stored (not URL-encoded).
 *
 * @example toObjectCreatedEvent(record)?.detail.object.key // 'drop/catalog/a.difypkg'
 */
export function toObjectCreatedEvent(
  record: S3rverEventRecord,
  options: ConversionOptions = {},
): ObjectCreatedEvent | undefined {
  const kind = /^ObjectCreated:(Put|Post|Copy|CompleteMultipartUpload)$/.exec(record.eventName)?.[1];
  if (kind === undefined) return undefined;
  const account = options.account ?? '000000000000';
  const { bucket, object } = record.s3;
  const etag = object.eTag ?? '';
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account,
    time: new Date(record.eventTime).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: options.region ?? record.awsRegion ?? 'us-east-1',
    resources: [`arn:aws:s3:::${bucket.name}`],
    detail: {
      version: '0',
      bucket: { name: bucket.name },
      object: {
        key: object.key,
        size: object.size ?? 0,
        etag,
        sequencer: (object.sequencer ?? '').padStart(18, '0'),
      },
      'request-id': record.responseElements?.['x-amz-request-id'] ?? '',
      requester: account,
      'source-ip-address': record.requestParameters?.sourceIPAddress ?? '127.0.0.1',
      reason: reasonFor(kind, etag),
    },
  };
}

/**
 * s3rver reports both browser POST uploads and completed multipart uploads as `ObjectCreated:Post`;
 * only the multipart ETag carries a `-<parts>` suffix, which tells them apart.
 */
function reasonFor(kind: string, etag: string): ObjectCreatedReason {
  if (kind === 'Put') return 'PutObject';
  if (kind === 'Copy') return 'CopyObject';
  if (kind === 'CompleteMultipartUpload' || /-\d+$/.test(etag)) return 'CompleteMultipartUpload';
  return 'POST Object';
}

/** Drop-folder events among a notification, in record order. */
export function dropEventsFrom(
  notification: S3rverEvent,
  bucket: string,
  options: ConversionOptions = {},
): ObjectCreatedEvent[] {
  return notification.Records.filter(
    (record) => record.s3.bucket.name === bucket && record.s3.object.key.startsWith(DROP_PREFIX),
  )
    .map((record) => toObjectCreatedEvent(record, options))
    .filter((event): event is ObjectCreatedEvent => event !== undefined);
}

export type DropHandler = (event: ObjectCreatedEvent, context: Context) => Promise<unknown>;

export interface DropDispatcherOptions {
  /** Resolves the handler per event, so a handler module added later is picked up. */
  loadHandler: () => Promise<DropHandler | undefined>;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Handlers running at once across keys (events of one key never overlap). */
  concurrency?: number;
  /** Simulated Lambda timeout, for `getRemainingTimeInMillis`. */
  timeoutMs?: number;
}

export interface DropDispatcher {
  enqueue(event: ObjectCreatedEvent): void;
  /** Resolves once every queued event has been handled. */
  idle(): Promise<void>;
  /** Stops taking events and waits (bounded) for running handlers. */
  close(graceMs?: number): Promise<void>;
}

/**
 * A tiny in-process stand-in for the EventBridge → Lambda async invocation: at-most-`concurrency`
 * handlers at a time, strictly ordered per object key, errors logged and not retried.
 */
export function createDropDispatcher(options: DropDispatcherOptions): DropDispatcher {
  const concurrency = options.concurrency ?? 2;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const waiting: ObjectCreatedEvent[] = [];
  const busyKeys = new Set<string>();
  let running = 0;
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  function settleIdle(): void {
    if (running > 0 || waiting.length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function pump(): void {
    while (running < concurrency) {
      const index = waiting.findIndex((event) => !busyKeys.has(event.detail.object.key));
      if (index === -1) break;
      const [event] = waiting.splice(index, 1);
      if (event === undefined) break;
      const key = event.detail.object.key;
      busyKeys.add(key);
      running++;
      void run(event).finally(() => {
        busyKeys.delete(key);
        running--;
        pump();
        settleIdle();
      });
    }
  }

  async function run(event: ObjectCreatedEvent): Promise<void> {
    const key = event.detail.object.key;
    let handler: DropHandler | undefined;
    try {
      handler = await options.loadHandler();
    } catch (error) {
      options.log('error', 'drop handler failed to load', { key, error: String(error) });
      return;
    }
    if (handler === undefined) {
      options.log('warn', 'drop event ignored: no drop handler available', { key });
      return;
    }
    const started = performance.now();
    const context = createLambdaContext({
      awsRequestId: randomUUID(),
      functionName: 'pluginops-local-drop',
      deadline: Date.now() + timeoutMs,
    });
    try {
      await handler(event, context);
      options.log('info', 'drop event handled', { key, ms: Math.round(performance.now() - started) });
    } catch (error) {
      options.log('error', 'drop handler failed', {
        key,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  }

  return {
    enqueue(event) {
      if (closed) {
        options.log('warn', 'drop event ignored: runtime is stopping', { key: event.detail.object.key });
        return;
      }
      waiting.push(event);
      if (waiting.length > 100 && waiting.length % 100 === 1) {
        options.log('warn', 'drop queue is backing up', { queued: waiting.length });
      }
      pump();
    },
    idle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
    async close(graceMs = 10_000) {
      closed = true;
      if (waiting.length > 0) {
        // The objects stay in the bucket; only their notification is lost, as on a crashed host.
        options.log('warn', 'drop events not handled before shutdown', { queued: waiting.length });
        waiting.length = 0;
      }
      await Promise.race([this.idle(), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    },
  };
}
