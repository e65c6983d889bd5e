import { describe, expect, it } from 'vitest';
import {
  createDropDispatcher,
  type DropHandler,
  dropEventsFrom,
  type ObjectCreatedEvent,
  type S3rverEvent,
  toObjectCreatedEvent,
} from '#local/drop-events.ts';

/** A notification as s3rver 3.7 emits it for a PutObject (recorded, ids shortened). */
const recordedPut: S3rverEvent = {
  Records: [
    {
      eventVersion: '2.0',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2026-11-25T13:40:01.234Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:7D8D64E4C1D7' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'E6A2B2F3C7D1A9B0', 'x-amz-id-2': 'abc=' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'testConfigId',
        bucket: {
          name: 'pluginops-local-packages',
          ownerIdentity: { principalId: 'A1' },
          arn: 'arn:aws:s3: : :x',
        },
        object: {
          key: 'drop/catalog/demo.difypkg',
          sequencer: '19ABB2C5F12',
          size: 1234,
          eTag: 'b1946ac92492d2347c6235b4d2611184',
        },
      },
    } as S3rverEvent['Records'][number],
  ],
};

function recordWith(eventName: string, object: Partial<S3rverEvent['Records'][number]['s3']['object']> = {}) {
  const base = recordedPut.Records[0];
  if (base === undefined) throw new Error('fixture');
  return { ...base, eventName, s3: { ...base.s3, object: { ...base.s3.object, ...object } } };
}

describe('toObjectCreatedEvent', () => {
  it('produces the EventBridge "Object Created" event AWS sends', () => {
    const record = recordedPut.Records[0];
    if (record === undefined) throw new Error('fixture');
    expect(
      toObjectCreatedEvent(record, { account: '000000000000', region: 'us-east-1', id: 'evt-1' }),
    ).toEqual({
      version: '0',
      id: 'evt-1',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: '2026-11-25T13:40:01Z',
      region: 'us-east-1',
      resources: ['arn:aws:s3:::pluginops-local-packages'],
      detail: {
        version: '0',
        bucket: { name: 'pluginops-local-packages' },
        object: {
          key: 'drop/catalog/demo.difypkg',
          size: 1234,
          etag: 'b1946ac92492d2347c6235b4d2611184',
          sequencer: '000000019ABB2C5F12',
        },
        'request-id': 'E6A2B2F3C7D1A9B0',
        requester: '000000000000',
        'source-ip-address': '127.0.0.1',
        reason: 'PutObject',
      },
    });
  });

  it('maps copy, multipart and POST uploads to their reasons', () => {
    expect(toObjectCreatedEvent(recordWith('ObjectCreated:Copy', { eTag: undefined }))?.detail).toMatchObject(
      {
        reason: 'CopyObject',
        object: { etag: '' },
      },
    );
    expect(toObjectCreatedEvent(recordWith('ObjectCreated:Post', { eTag: 'abc-3' }))?.detail.reason).toBe(
      'CompleteMultipartUpload',
    );
    expect(toObjectCreatedEvent(recordWith('ObjectCreated:Post'))?.detail.reason).toBe('POST Object');
  });

  it('ignores removals', () => {
    expect(toObjectCreatedEvent(recordWith('ObjectRemoved:Delete'))).toBeUndefined();
  });
});

describe('dropEventsFrom', () => {
  it('keeps only ObjectCreated records under drop/ in the package bucket', () => {
    const notification: S3rverEvent = {
      Records: [
        recordWith('ObjectCreated:Put'),
        recordWith('ObjectCreated:Put', { key: 'uploads/x.difypkg' }),
        recordWith('ObjectCreated:Put', { key: 'drop-results/drop/catalog/demo.difypkg.json' }),
        recordWith('ObjectRemoved:Delete'),
      ],
    };
    expect(dropEventsFrom(notification, 'pluginops-local-packages').map((e) => e.detail.object.key)).toEqual([
      'drop/catalog/demo.difypkg',
    ]);
    expect(dropEventsFrom(notification, 'other-bucket')).toEqual([]);
  });
});

describe('createDropDispatcher', () => {
  const event = (key: string, id: string): ObjectCreatedEvent => {
    const converted = toObjectCreatedEvent(recordWith('ObjectCreated:Put', { key }), { id });
    if (converted === undefined) throw new Error('fixture');
    return converted;
  };

  it('runs events of one key in order, other keys concurrently up to the limit, and survives errors', async () => {
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const handler: DropHandler = async (e) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${e.id}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`end ${e.id}`);
      running--;
      if (e.id === 'a1') throw new Error('boom');
    };
    const messages: string[] = [];
    const dispatcher = createDropDispatcher({
      loadHandler: async () => handler,
      log: (level, message) => messages.push(`${level}: ${message}`),
      concurrency: 2,
    });
    for (const [key, id] of [
      ['drop/a', 'a1'],
      ['drop/a', 'a2'],
      ['drop/b', 'b1'],
      ['drop/c', 'c1'],
      ['drop/a', 'a3'],
    ] as const) {
      dispatcher.enqueue(event(key, id));
    }
    await dispatcher.idle();
    const order = (id: string) => log.indexOf(`start ${id}`);
    expect(log.indexOf('end a1')).toBeLessThan(order('a2'));
    expect(log.indexOf('end a2')).toBeLessThan(order('a3'));
    expect(maxRunning).toBe(2);
    expect(log.filter((line) => line.startsWith('end'))).toHaveLength(5);
    expect(messages).toContain('error: drop handler failed');
  });

  it('logs and drops events while no handler exists', async () => {
    const messages: string[] = [];
    const dispatcher = createDropDispatcher({
      loadHandler: async () => undefined,
      log: (level, message) => messages.push(`${level}: ${message}`),
    });
    dispatcher.enqueue(event('drop/x', 'x1'));
    await dispatcher.idle();
    expect(messages).toEqual(['warn: drop event ignored: no drop handler available']);
  });
});
