/**
 * Marketplace tokens: the read-only credential Dify carries in its `MARKETPLACE_API_URL`, the only
 * thing it can carry (its client sends no headers). A token looks like `pmt_<43 base64url chars>`
 * (32 random bytes), is stored only as its SHA-256, cannot be used as an API key (different
 * prefix), and is redacted from every logged path.
 */
import { createHash } from 'node:crypto';

export const MARKETPLACE_TOKEN_PATTERN = /^pmt_[A-Za-z0-9_-]{43}$/;

/** The path segment that opens the marketplace when the stage makes it public. */
export const PUBLIC_MARKETPLACE_SEGMENT = 'public';

/** Builds a token from 32 caller-supplied random bytes. */
export function formatMarketplaceToken(random: Uint8Array): string {
  if (random.length !== 32) throw new RangeError('a marketplace token needs exactly 32 random bytes');
  return `pmt_${Buffer.from(random).toString('base64url')}`;
}

export function isMarketplaceTokenShape(value: string): boolean {
  return MARKETPLACE_TOKEN_PATTERN.test(value);
}

export function hashMarketplaceToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Replaces the token segment of a marketplace path, so logs never hold a usable URL.
 *
 * @example redactMarketplacePath('/marketplace/pmt_abc/api/v1/plugins/batch')
 *   // '/marketplace/<redacted>/api/v1/plugins/batch'
 */
export function redactMarketplacePath(path: string): string {
  return path.replace(/^\/marketplace\/[^/?]+/, '/marketplace/<redacted>');
}
