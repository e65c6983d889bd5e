/**
 * Where the CLI finds its endpoint and key. Precedence, first match wins:
 * 1. `--endpoint` / `--key` flags (each on its own);
 * 2. the profile named by `--profile` (an explicit choice beats the ambient environment);
 * 3. `PLUGINOPS_ENDPOINT` / `PLUGINOPS_KEY`;
 * 4. the profile named by `PLUGINOPS_PROFILE`, else the file's `default_profile`.
 *
 * The profiles file is `PLUGINOPS_PROFILES_FILE` or `~/.config/pluginops/profiles.json`:
 * ```json
 * { "default_profile": "dev",
 *   "profiles": { "dev":     { "endpoint": "http://127.0.0.1:8787", "key": "po_…" },
 *                 "staging": { "endpoint": "https://staging.example/", "key_env": "STAGING_KEY" } } }
 * ```
 * `key_env` names an environment variable that holds the key, so a CI runner keeps keys in its
 * secret store and the file in the repository. A file others can read is used, with a warning.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { formatIssuePath, ValidationError } from '#core/errors.ts';

const ProfileSchema = z.strictObject({
  endpoint: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
    .optional(),
  request_timeout_seconds: z.number().positive().max(3600).optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

const ProfilesFileSchema = z.strictObject({
  default_profile: z.string().min(1).optional(),
  profiles: z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), ProfileSchema),
});
export type ProfilesFile = z.infer<typeof ProfilesFileSchema>;

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface ConnectionFlags {
  endpoint?: string | undefined;
  key?: string | undefined;
  profile?: string | undefined;
  /** Seconds. */
  requestTimeout?: number | undefined;
}

export interface Connection {
  /** Base URL without `/v1` and without a trailing slash. */
  endpoint: string;
  key: string;
  /** The profile the endpoint or key came from, if any (shown in messages; the key never is). */
  profile: string | undefined;
  requestTimeoutMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

export function profilesFilePath(env: Env): string {
  return env.PLUGINOPS_PROFILES_FILE || join(env.HOME || homedir(), '.config', 'pluginops', 'profiles.json');
}

/**
 * Reads the profiles file; `undefined` when it does not exist. A malformed file is bad input
 * naming the field. `warn` receives a line when the file is readable by group or others.
 */
export async function loadProfilesFile(
  path: string,
  warn: (line: string) => void,
): Promise<ProfilesFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ValidationError(`${path} is not readable: ${(error as Error).message}`, [
      { path: 'profile', message: `${path} is not readable` },
    ]);
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    warn(
      `warning: ${path} has mode ${mode.toString(8).padStart(4, '0')} and may hold API keys; run: chmod 600 ${path}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${path} is not valid JSON: ${(error as Error).message}`, [
      { path: 'profile', message: `${path} is not valid JSON` },
    ]);
  }
  const parsed = ProfilesFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ValidationError(
      `${path} is not a pluginops profiles file.`,
      parsed.error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message })),
    );
  }
  return parsed.data;
}

/** Resolves flags, environment and profiles into one connection (see the module comment). */
export async function resolveConnection(
  flags: ConnectionFlags,
  env: Env,
  warn: (line: string) => void,
): Promise<Connection> {
  const path = profilesFilePath(env);
  const needFile =
    flags.profile !== undefined ||
    ((flags.endpoint === undefined || flags.key === undefined) &&
      (env.PLUGINOPS_ENDPOINT === undefined || env.PLUGINOPS_KEY === undefined));
  const file = needFile ? await loadProfilesFile(path, warn) : undefined;

  let profileName = flags.profile;
  if (
    profileName === undefined &&
    (env.PLUGINOPS_ENDPOINT === undefined || env.PLUGINOPS_KEY === undefined)
  ) {
    profileName = env.PLUGINOPS_PROFILE || file?.default_profile;
  }
  let profile: Profile | undefined;
  if (profileName !== undefined) {
    profile = file?.profiles[profileName];
    if (profile === undefined) {
      const known = Object.keys(file?.profiles ?? {});
      throw new ValidationError(
        file === undefined
          ? `Profile "${profileName}" was asked for, but ${path} does not exist.`
          : `Profile "${profileName}" is not in ${path} (known: ${known.join(', ') || 'none'}).`,
        [{ path: 'profile', message: `unknown profile ${profileName}` }],
      );
    }
  }
  const explicit = flags.profile !== undefined;
  const profileKey = profile === undefined ? undefined : keyOfProfile(profileName ?? '', profile, env);
  const endpoint =
    flags.endpoint ??
    (explicit ? profile?.endpoint : undefined) ??
    env.PLUGINOPS_ENDPOINT ??
    profile?.endpoint;
  const key = flags.key ?? (explicit ? profileKey : undefined) ?? env.PLUGINOPS_KEY ?? profileKey;
  if (endpoint === undefined || endpoint === '') {
    throw new ValidationError(
      'No endpoint: pass --endpoint, set PLUGINOPS_ENDPOINT, or choose a --profile with an endpoint.',
      [{ path: 'endpoint', message: 'required' }],
    );
  }
  if (key === undefined || key === '') {
    throw new ValidationError(
      'No API key: set PLUGINOPS_KEY, pass --key, or choose a --profile with a key or key_env.',
      [{ path: 'key', message: 'required' }],
    );
  }
  const seconds =
    flags.requestTimeout ?? numberFrom(env.PLUGINOPS_REQUEST_TIMEOUT) ?? profile?.request_timeout_seconds;
  return {
    endpoint: normaliseEndpoint(endpoint),
    key,
    profile: profileName,
    requestTimeoutMs: seconds === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : Math.round(seconds * 1000),
  };
}

/** Resolves one named profile alone (`promote --from/--to`): no flags, no ambient endpoint or key. */
export async function resolveProfile(
  name: string,
  env: Env,
  warn: (line: string) => void,
  requestTimeoutSeconds?: number,
): Promise<Connection> {
  return resolveConnection(
    { profile: name, requestTimeout: requestTimeoutSeconds },
    // Only what a profile may reference: its key_env and the file location.
    Object.fromEntries(
      Object.entries(env).filter(
        ([name]) => !['PLUGINOPS_ENDPOINT', 'PLUGINOPS_KEY', 'PLUGINOPS_PROFILE'].includes(name),
      ),
    ),
    warn,
  );
}

function keyOfProfile(name: string, profile: Profile, env: Env): string | undefined {
  if (profile.key !== undefined) return profile.key;
  if (profile.key_env === undefined) return undefined;
  const value = env[profile.key_env];
  if (value === undefined || value === '') {
    throw new ValidationError(`Profile "${name}" takes its key from ${profile.key_env}, which is not set.`, [
      { path: 'key', message: `${profile.key_env} is not set` },
    ]);
  }
  return value;
}

function numberFrom(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** `https://api.example/v1/` → `https://api.example`; anything but an http(s) URL is bad input. */
export function normaliseEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ValidationError(`The endpoint "${endpoint}" is not a URL.`, [
      { path: 'endpoint', message: 'must be an http(s) URL' },
    ]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`The endpoint "${endpoint}" is not an http(s) URL.`, [
      { path: 'endpoint', message: 'must be an http(s) URL' },
    ]);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ValidationError('The endpoint must not carry credentials; use --key or PLUGINOPS_KEY.', [
      { path: 'endpoint', message: 'must not contain user:password@' },
    ]);
  }
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '').replace(/\/v1$/, '');
}
