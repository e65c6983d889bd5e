import { describe, expect, it } from 'vitest';
import { ConflictError } from '#core/errors.ts';
import { isTransient } from '#services/deploy-task.ts';

describe('isTransient', () => {
  it('retries throttling, 5xx, network errors and transaction conflicts, never domain errors', () => {
    expect(isTransient(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(
      isTransient({
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'TransactionConflict' }],
      }),
    ).toBe(true);
    expect(
      isTransient({
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }],
      }),
    ).toBe(false);
    expect(isTransient(new ConflictError('held'))).toBe(false);
    expect(isTransient(new Error('bug'))).toBe(false);
  });
});
