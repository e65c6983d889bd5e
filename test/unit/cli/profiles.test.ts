import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseEndpoint, resolveConnection, resolveProfile } from '#cli/profiles.ts';
import { ValidationError } from '#core/errors.ts';

let dir: string;
let file: string;
const warnings: string[] = [];
const warn = (line: string) => warnings.push(line);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pluginops-profiles-'));
  file = join(dir, 'profiles.json');
  await writeFile(
    file,
    JSON.stringify({
      default_profile: 'dev',
      profiles: {
        dev: { endpoint: 'http://dev.local:8787/', key: 'po_dev' },
        prod: { endpoint: 'https://prod.example/v1', key_env: 'PROD_KEY', request_timeout_seconds: 5 },
      },
    }),
    { mode: 0o600 },
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveConnection', () => {
  const env = { PLUGINOPS_PROFILES_FILE: '' } as Record<string, string>;
  beforeAll(() => {
    env.PLUGINOPS_PROFILES_FILE = file;
  });

  it('takes the default profile when nothing else is given', async () => {
    expect(await resolveConnection({}, env, warn)).toEqual({
      endpoint: 'http://dev.local:8787',
      key: 'po_dev',
      profile: 'dev',
      requestTimeoutMs: 30_000,
    });
  });

  it('prefers PLUGINOPS_ENDPOINT/KEY over the default profile', async () => {
    const connection = await resolveConnection(
      {},
      { ...env, PLUGINOPS_ENDPOINT: 'http://env:1', PLUGINOPS_KEY: 'po_env' },
      warn,
    );
    expect(connection).toMatchObject({ endpoint: 'http://env:1', key: 'po_env' });
  });

  it('an explicit --profile beats the environment; flags beat everything', async () => {
    const ambient = {
      ...env,
      PLUGINOPS_ENDPOINT: 'http://env:1',
      PLUGINOPS_KEY: 'po_env',
      PROD_KEY: 'po_prod',
    };
    expect(await resolveConnection({ profile: 'prod' }, ambient, warn)).toMatchObject({
      endpoint: 'https://prod.example',
      key: 'po_prod',
      profile: 'prod',
      requestTimeoutMs: 5_000,
    });
    expect(await resolveConnection({ profile: 'prod', key: 'po_flag' }, ambient, warn)).toMatchObject({
      endpoint: 'https://prod.example',
      key: 'po_flag',
    });
  });

  it('a key_env that is not set, an unknown profile, or no endpoint at all is bad input', async () => {
    await expect(resolveConnection({ profile: 'prod' }, env, warn)).rejects.toThrow(
      /PROD_KEY, which is not set/,
    );
    await expect(resolveConnection({ profile: 'qa' }, env, warn)).rejects.toThrow(/known: dev, prod/);
    await expect(
      resolveConnection({}, { PLUGINOPS_PROFILES_FILE: join(dir, 'missing.json') }, warn),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('promote profiles ignore the ambient endpoint and key', async () => {
    const connection = await resolveProfile(
      'dev',
      { ...env, PLUGINOPS_ENDPOINT: 'http://env:1', PLUGINOPS_KEY: 'po_env' },
      warn,
    );
    expect(connection).toMatchObject({ endpoint: 'http://dev.local:8787', key: 'po_dev' });
  });

  it('warns when the file is readable by others, and rejects a malformed file naming the field', async () => {
    await chmod(file, 0o644);
    warnings.length = 0;
    await resolveConnection({}, env, warn);
    expect(warnings).toEqual([expect.stringMatching(/mode 0644 .*chmod 600/)]);
    await chmod(file, 0o600);
    warnings.length = 0;
    await resolveConnection({}, env, warn);
    expect(warnings).toEqual([]);

    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ profiles: { dev: { endpoint: 'x', token: 'y' } } }), {
      mode: 0o600,
    });
    const error = await resolveConnection({}, { PLUGINOPS_PROFILES_FILE: bad }, warn).catch(
      (caught) => caught,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.errors[0].path).toBe('profiles.dev');
  });
});

describe('normaliseEndpoint', () => {
  it('drops a trailing slash and /v1, refuses non-http URLs and credentials', () => {
    expect(normaliseEndpoint('https://api.example/v1/')).toBe('https://api.example');
    expect(normaliseEndpoint('http://127.0.0.1:8787')).toBe('http://127.0.0.1:8787');
    expect(normaliseEndpoint('https://gw.example/stage/')).toBe('https://gw.example/stage');
    expect(() => normaliseEndpoint('ftp://x')).toThrow(ValidationError);
    expect(() => normaliseEndpoint('not a url')).toThrow(ValidationError);
    expect(() => normaliseEndpoint('https://user:secret@api.example')).toThrow(/must not carry credentials/);
  });
});
