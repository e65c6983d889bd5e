/**
 * API key format and hashing. Keys look like `po_<43 base64url chars>` (32 random bytes) and are
 * stored only as their SHA-256 hex digest, so a table dump never yields a usable key.
 */
import { createHash } from 'node:crypto';

export const API_KEY_PATTERN = /^po_[A-Za-z0-9_-]{43}$/;

export type Scope = 'read' | 'packages:write' | 'deploy:write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'packages:write', 'deploy:write', 'admin'];

/** Builds a key from 32 caller-supplied random bytes (core takes no entropy of its own). */
export function formatApiKey(random: Uint8Array): string {
  if (random.length !== 32) throw new RangeError('an API key needs exactly 32 random bytes');
  return `po_${Buffer.from(random).toString('base64url')}`;
}

export function isApiKeyShape(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
