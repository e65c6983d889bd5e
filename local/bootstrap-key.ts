/**
 * The operator key of a local install: given (`PLUGINOPS_BOOTSTRAP_KEY`), or generated on first
 * start and kept in `<data dir>/bootstrap-key` (mode 0600) so later starts reuse it silently.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatApiKey, isApiKeyShape } from '#core/api-keys.ts';
import { LocalStackError } from './errors.ts';

export const BOOTSTRAP_KEY_FILE = 'bootstrap-key';

export interface BootstrapKey {
  key: string;
  /** True only on the start that generated it: the one time it is printed. */
  created: boolean;
  source: 'option' | 'file' | 'generated';
}

export function assertBootstrapKeyShape(key: string, origin: string): void {
  if (!isApiKeyShape(key)) {
    throw new LocalStackError(
      `${origin} must look like po_<43 base64url characters> (an API key); got a malformed value`,
    );
  }
}

export async function resolveBootstrapKey(dataDir: string, given: string | undefined): Promise<BootstrapKey> {
  if (given !== undefined) {
    assertBootstrapKeyShape(given, 'PLUGINOPS_BOOTSTRAP_KEY');
    return { key: given, created: false, source: 'option' };
  }
  const file = join(dataDir, BOOTSTRAP_KEY_FILE);
  const stored = await readStoredKey(file);
  if (stored !== undefined) return { key: stored, created: false, source: 'file' };

  const key = formatApiKey(randomBytes(32));
  try {
    // `wx`: if two starts race on a fresh data dir, exactly one key wins and the loser reads it.
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readStoredKey(file);
    if (winner === undefined) throw error;
    return { key: winner, created: false, source: 'file' };
  }
  return { key, created: true, source: 'generated' };
}

async function readStoredKey(file: string): Promise<string | undefined> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = content.trim();
  assertBootstrapKeyShape(key, file);
  return key;
}

type RegisterOperatorKey = (rawKey: string, description: string) => Promise<void>;

/**
 * Registers the key through the DynamoDB adapter. Loaded lazily: the runtime also starts before
 * that adapter exists (then the key is not yet usable and a warning says so).
 * Returns false when the adapter is missing.
 */
export async function registerBootstrapKey(key: string): Promise<boolean> {
  const register = await loadRegisterOperatorKey();
  if (register === undefined) return false;
  await register(key, 'local bootstrap key');
  return true;
}

async function loadRegisterOperatorKey(): Promise<RegisterOperatorKey | undefined> {
  // A variable specifier keeps the type checker from requiring the module before it exists.
  const specifier = '#adapters/dynamo/api-keys.ts';
  let module: { registerOperatorKey?: RegisterOperatorKey };
  try {
    module = (await import(specifier)) as typeof module;
  } catch (error) {
    if (isModuleMissing(error, 'dynamo/api-keys')) return undefined;
    throw error;
  }
  // TODO(lead): drop this fallback once #adapters/dynamo/api-keys.ts exports registerOperatorKey.
  return typeof module.registerOperatorKey === 'function' ? module.registerOperatorKey : undefined;
}

/** True when `error` says the module named like `hint` itself is missing (not one of its imports). */
export function isModuleMissing(error: unknown, hint: string): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return (
    (code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      /Cannot find module|Failed to load url/i.test(message)) &&
    message.includes(hint)
  );
}
