/**
 * Opaque pagination cursors. A cursor carries DynamoDB's `LastEvaluatedKey` and the scope it was
 * issued for (e.g. `tenant:acme/keys`), sealed with an HMAC: a cursor edited by hand, or replayed
 * against another tenant's list, fails verification and is rejected as bad input.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { getConfig } from '#config/runtime-config.ts';
import { ValidationError } from '#core/errors.ts';

type LastKey = Record<string, unknown>;

function mac(payload: string): Buffer {
  return createHmac('sha256', getConfig().cursorSecret).update(payload).digest();
}

export function encodeCursor(lastKey: LastKey | undefined, scope: string): string | null {
  if (lastKey === undefined) return null;
  const payload = Buffer.from(JSON.stringify({ s: scope, k: lastKey })).toString('base64url');
  return `${payload}.${mac(payload).toString('base64url')}`;
}

export function decodeCursor(cursor: string | undefined, scope: string): LastKey | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const invalid = () =>
    new ValidationError('The cursor is not valid for this list.', [
      { path: 'cursor', message: 'invalid cursor' },
    ]);
  const [payload, signature, extra] = cursor.split('.');
  if (payload === undefined || signature === undefined || extra !== undefined || cursor.length > 2048) {
    throw invalid();
  }
  const expected = mac(payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { s, k } = (decoded ?? {}) as { s?: unknown; k?: unknown };
  if (s !== scope || typeof k !== 'object' || k === null) throw invalid();
  return k as LastKey;
}
