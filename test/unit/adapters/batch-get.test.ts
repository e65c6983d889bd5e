/**
 * BatchGetItem's `UnprocessedKeys` under throttling. DynamoDB Local does not throttle, so the
 * adapter's one external dependency — the document client's `send` — is wrapped to leave keys
 * unprocessed the first times, as DynamoDB does under load; everything above it is the real code.
 */
import { BatchGetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { batchGetItems, UnprocessedKeysError } from '#adapters/dynamo/batch-get.ts';
import { documentClientInstance, mainTableName } from '#adapters/dynamo/client.ts';
import { keys } from '#adapters/dynamo/keys.ts';
import { listPluginVersions } from '#adapters/dynamo/packages.ts';

const PLUGIN = 'acme/tool';
const VERSIONS = ['1.2.0', '1.1.0', '1.0.0'];
const uid = (version: string) => `${PLUGIN}:${version}@${version.replaceAll('.', '').padEnd(64, 'a')}`;

type KeyShape = { PK: string; SK: string };

/**
 * A table with one package per version. While `throttledCalls` lasts, BatchGet answers only the
 * first key of a request (none when `starved`) and returns the rest unprocessed; then everything.
 */
function throttledTable(throttledCalls: number, starved = false) {
  const table = mainTableName();
  const packages = new Map(
    VERSIONS.map((version) => {
      const key = keys.package(uid(version));
      return [key.PK, { ...key, type: 'package', unique_identifier: uid(version), version }];
    }),
  );
  const batchRequests: KeyShape[][] = [];
  const send = vi.spyOn(documentClientInstance(), 'send').mockImplementation((async (command: unknown) => {
    if (command instanceof QueryCommand) {
      return { Items: VERSIONS.map((version) => ({ unique_identifier: uid(version) })) };
    }
    if (command instanceof BatchGetCommand) {
      const requested = (command.input.RequestItems?.[table]?.Keys ?? []) as KeyShape[];
      batchRequests.push(requested);
      const throttled = batchRequests.length <= throttledCalls;
      const answered = throttled ? requested.slice(0, starved ? 0 : 1) : requested;
      const unprocessed = requested.slice(answered.length);
      return {
        Responses: { [table]: answered.flatMap((key) => packages.get(key.PK) ?? []) },
        ...(unprocessed.length > 0 ? { UnprocessedKeys: { [table]: { Keys: unprocessed } } } : {}),
      };
    }
    throw new Error(`unexpected command ${(command as object).constructor.name}`);
  }) as never);
  return { send, batchRequests };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('listPluginVersions under throttling', () => {
  it('asks again for unprocessed keys until every version is read', async () => {
    const { batchRequests } = throttledTable(2);
    const page = await listPluginVersions(PLUGIN, 20, undefined);
    expect(page.items.map((record) => record.version)).toEqual(VERSIONS);
    // 3 keys, then the 2 left over, then the last one.
    expect(batchRequests.map((request) => request.length)).toEqual([3, 2, 1]);
  });

  it('fails loudly instead of listing fewer versions when keys stay unprocessed', async () => {
    vi.useFakeTimers();
    try {
      throttledTable(Number.POSITIVE_INFINITY, true);
      const listing = listPluginVersions(PLUGIN, 20, undefined);
      const outcome = expect(listing).rejects.toBeInstanceOf(UnprocessedKeysError);
      await vi.runAllTimersAsync();
      await outcome;
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('batchGetItems', () => {
  it('backs off exponentially between rounds and gives up after the bound', async () => {
    const { batchRequests } = throttledTable(Number.POSITIVE_INFINITY);
    const waits: number[] = [];
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const lookup = batchGetItems(
      [...VERSIONS, '2.0.0', '3.0.0'].map((version) => keys.package(uid(version))),
      {
        maxRounds: 4,
        baseDelayMs: 10,
        maxDelayMs: 25,
        sleep: async (ms) => {
          waits.push(Math.round(ms));
        },
      },
    );
    await expect(lookup).rejects.toMatchObject({ name: 'UnprocessedKeysError', unprocessed: 1 });
    expect(batchRequests).toHaveLength(4);
    expect(waits).toEqual([10, 20, 25]);
  });

  it('sends at most 100 keys per request', async () => {
    const { batchRequests } = throttledTable(0);
    const many = Array.from({ length: 250 }, (_, index) => keys.package(uid(`9.9.${index}`)));
    await batchGetItems(many);
    expect(batchRequests.map((request) => request.length)).toEqual([100, 100, 50]);
  });
});
