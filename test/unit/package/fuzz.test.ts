import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { buildPackage } from '#test/support/package-builder.ts';

/** Per-input deadline: a hang is a failure, not a slow test. */
const DEADLINE_MS = 5_000;

/** Resolves when inspection settles the way it must: a result, or a ProblemError. */
async function settlesSafely(bytes: Uint8Array): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`inspectPackage did not settle within ${DEADLINE_MS} ms`)),
      DEADLINE_MS,
    );
  });
  try {
    await Promise.race([
      inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] }).catch((error: unknown) => {
        if (!(error instanceof ProblemError)) throw error;
      }),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
);

function mutate(base: Buffer, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = m.at % bytes.length;
    if (m.kind === 'flip') bytes[at] = m.value;
    else if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
    else bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
  }
  return bytes;
}

describe('inspectPackage on hostile input (fuzz)', () => {
  let deflated: Buffer;
  let stored: Buffer;

  beforeAll(async () => {
    deflated = await buildPackage();
    stored = await buildPackage({ compress: false, comment: '{"signature":"AAAA","time":1}' });
  });

  it('settles with a result or a ProblemError for random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), (bytes) => settlesSafely(bytes)),
      { numRuns: 200 },
    );
  });

  it('settles with a result or a ProblemError for random bytes behind a valid zip signature', async () => {
    const prefix = fc.constantFrom(Buffer.from('PK\u0003\u0004'), Buffer.alloc(0));
    const eocd = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
    await fc.assert(
      fc.asyncProperty(
        prefix,
        fc.uint8Array({ maxLength: 512 }),
        fc.uint8Array({ minLength: 18, maxLength: 40 }),
        (p, body, tail) => settlesSafely(Buffer.concat([p, body, eocd, tail])),
      ),
      { numRuns: 200 },
    );
  });

  it('settles with a result or a ProblemError for mutated valid packages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        (useStored, mutations) => settlesSafely(mutate(useStored ? stored : deflated, mutations)),
      ),
      { numRuns: 200 },
    );
  });

  it('settles for mutations concentrated in the central directory', async () => {
    const cdStart = (base: Buffer) =>
      base.readUInt32LE(base.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) + 16);
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (useStored, flips) => {
          const base = useStored ? stored : deflated;
          const start = cdStart(base);
          const bytes = Buffer.from(base);
          for (const [at, value] of flips) bytes[start + (at % (bytes.length - start))] = value;
          return settlesSafely(bytes);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the unmutated packages are valid (so mutations start from a real package)', async () => {
    for (const base of [deflated, stored]) {
      await expect(inspectPackage(byteSourceFromBuffer(base), { keyring: [] })).resolves.toMatchObject({
        pluginId: 'langgenius/demo',
      });
    }
  });
});
