/**
 * Where the key that seals tenant plugin config comes from: `PLUGINOPS_CONFIG_KEY` (32 bytes,
 * base64) when set — on AWS a KMS-generated data key delivered through the environment — otherwise,
 * locally, a key file `<data dir>/config.key` created on first use. Without either, a config
 * cannot be accepted (it is never stored in clear).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getConfig } from '#config/runtime-config.ts';
import { ValidationError } from '#core/errors.ts';

let cached: Buffer | undefined;

function localDataDir(): string | undefined {
  const info = getConfig().localInfo;
  if (!info) return undefined;
  try {
    return (JSON.parse(info) as { data_dir?: string }).data_dir;
  } catch {
    return undefined;
  }
}

/** The sealing key a `PLUGINOPS_CONFIG_KEY` value stands for; throws unless it is 32 bytes, base64. */
export function decodeConfigKey(value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error('PLUGINOPS_CONFIG_KEY must be 32 bytes, base64-encoded');
  return key;
}

export function configSealingKey(): Buffer {
  if (cached !== undefined) return cached;
  const fromEnv = getConfig().configKey;
  if (fromEnv) {
    cached = decodeConfigKey(fromEnv);
    return cached;
  }
  const dataDir = localDataDir();
  if (dataDir === undefined) {
    throw new ValidationError('This stage cannot store plugin config: no config key is configured.', [
      { path: 'config', message: 'not accepted on this stage' },
    ]);
  }
  const file = join(dataDir, 'config.key');
  try {
    cached = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const key = randomBytes(32);
    // `wx`: two processes racing to create it keep the first one's key.
    try {
      writeFileSync(file, key.toString('base64'), { flag: 'wx', mode: 0o600 });
      cached = key;
    } catch {
      cached = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    }
  }
  return cached;
}
