/**
 * Tenant plugin config at rest. Config may hold credentials, so it is only ever stored sealed
 * (AES-256-GCM, a random IV per seal) and identified by a digest of its canonical JSON; neither
 * the API nor the events ever carry the clear value. The key comes from the caller (a local key
 * file, or a data key from KMS on AWS).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export type PluginConfig = Record<string, unknown>;

const VERSION = 'v1';

/** JSON with object keys sorted, so equal configs have equal digests. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function configDigest(config: PluginConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

/**
 * @example openConfig(sealConfig({ api_key: 's' }, key), key) // { api_key: 's' }
 */
export function sealConfig(config: PluginConfig, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(canonicalJson(config), 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export function openConfig(sealed: string, key: Buffer): PluginConfig {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || iv === undefined || tag === undefined || body === undefined) {
    throw new Error('sealed config has an unknown format');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  const clear = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  return JSON.parse(clear.toString('utf8')) as PluginConfig;
}
