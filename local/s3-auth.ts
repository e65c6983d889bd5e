/**
 * The local S3 endpoint is closed by default (docs/security.md): every request must be signed
 * (AWS Signature V2/V4, header or presigned query) with a key the local S3 server knows, and
 * s3rver itself then verifies the signature against that key's secret. Two kinds of keys:
 * - the stage credentials (`S3RVER`/`S3RVER`), which pluginops and the operator use: anything;
 * - tenant drop-folder credentials issued by pluginops (`npm run drop-credentials -- <tenant>`):
 *   only object writes under `drop/tenants/<that tenant>/`.
 * Unsigned requests (except CORS preflights) get 403 AccessDenied before s3rver sees them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { verifySigV4 } from './s3-sigv4.ts';

export const DROP_KEY_PREFIX = 'PODROP';
/** s3rver's built-in key: the stage credentials of the local stack. */
const STAGE_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
const DROP_CREDENTIALS_FILE = 'drop-credentials.json';

export interface DropCredential {
  tenant_id: string;
  access_key_id: string;
  secret_access_key: string;
}

/** The access key id a request is signed with, from any of S3's four signing forms. */
export function accessKeyOf(
  method: string,
  url: string,
  headers: IncomingMessage['headers'],
): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const v4 = /Credential=([^/,\s]+)\//.exec(authorization);
    if (v4?.[1] !== undefined) return v4[1];
    const v2 = /^AWS ([^:\s]+):/.exec(authorization);
    if (v2?.[1] !== undefined) return v2[1];
    return undefined;
  }
  // A CORS preflight carries the presigned URL's query but no signature of its own: it is nobody's.
  if (method === 'OPTIONS') return undefined;
  const query = new URL(url, 'http://local').searchParams;
  const credential = query.get('X-Amz-Credential');
  if (credential !== null) return credential.split('/')[0] || undefined;
  return query.get('AWSAccessKeyId') ?? undefined;
}

export type AuthDecision =
  | { allowed: true }
  | { allowed: false; status: number; code: string; message: string };

/**
 * What a request may do before s3rver verifies its signature: stage keys anything, drop keys
 * object writes under their tenant's drop folder, everyone else only CORS preflights.
 */
export function authorizeLocalS3(
  request: { method: string; url: string; headers: IncomingMessage['headers'] },
  bucket: string,
  dropTenantOf: (accessKeyId: string) => string | undefined,
): AuthDecision {
  if (request.method === 'OPTIONS') return { allowed: true };
  const accessKeyId = accessKeyOf(request.method, request.url, request.headers);
  if (accessKeyId === undefined) {
    return {
      allowed: false,
      status: 403,
      code: 'AccessDenied',
      message:
        'The local S3 endpoint requires signed requests (credentials S3RVER/S3RVER, or tenant drop credentials).',
    };
  }
  if (!accessKeyId.startsWith(DROP_KEY_PREFIX)) return { allowed: true };
  const tenantId = dropTenantOf(accessKeyId);
  const path = decodeURIComponent(new URL(request.url, 'http://local').pathname);
  const prefix = `/${bucket}/drop/tenants/${tenantId}/`;
  if (
    tenantId !== undefined &&
    request.method === 'PUT' &&
    path.startsWith(prefix) &&
    path.length > prefix.length
  ) {
    return { allowed: true };
  }
  return {
    allowed: false,
    status: 403,
    code: 'AccessDenied',
    message: 'Drop credentials may only write objects under their tenant’s drop folder.',
  };
}

interface S3rverAccountModule {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

const accounts = createRequire(import.meta.url)('s3rver/lib/models/account') as S3rverAccountModule;

async function readDropCredentials(dataDir: string): Promise<DropCredential[]> {
  try {
    return JSON.parse(await readFile(join(dataDir, DROP_CREDENTIALS_FILE), 'utf8')) as DropCredential[];
  } catch {
    return [];
  }
}

/**
 * Issues (or returns the existing) drop-folder credentials of a tenant, kept in the data dir
 * (mode 0600) so the running stack and later starts accept them.
 */
export async function issueDropCredentials(dataDir: string, tenantId: string): Promise<DropCredential> {
  const all = await readDropCredentials(dataDir);
  const existing = all.find((credential) => credential.tenant_id === tenantId);
  if (existing !== undefined) return existing;
  const secret = randomBytes(30).toString('base64url');
  const credential: DropCredential = {
    tenant_id: tenantId,
    access_key_id: `${DROP_KEY_PREFIX}${createHmac('sha256', secret).update(tenantId).digest('hex').slice(0, 14).toUpperCase()}`,
    secret_access_key: secret,
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(
    join(dataDir, DROP_CREDENTIALS_FILE),
    `${JSON.stringify([...all, credential], null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
  return credential;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Puts the authorization front before s3rver's own request listener on its HTTP server. Drop
 * credentials are (re)loaded from the data dir when an unknown drop key shows up, so keys issued
 * while the stack runs work at once.
 */
export function closeLocalS3(
  server: {
    listeners(event: 'request'): unknown[];
    removeAllListeners(event: 'request'): void;
    on(event: 'request', listener: RequestListener): void;
  },
  options: { bucket: string; dataDir: string },
): void {
  const inner = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const tenants = new Map<string, string>();
  const secrets = new Map<string, string>([
    [STAGE_CREDENTIALS.accessKeyId, STAGE_CREDENTIALS.secretAccessKey],
  ]);
  const refresh = async () => {
    for (const credential of await readDropCredentials(options.dataDir)) {
      accounts.DUMMY_ACCOUNT.createKeyPair(credential.access_key_id, credential.secret_access_key);
      tenants.set(credential.access_key_id, credential.tenant_id);
      secrets.set(credential.access_key_id, credential.secret_access_key);
    }
  };
  const refuse = (request: IncomingMessage, response: ServerResponse, code: string, message: string) => {
    response.writeHead(403, { 'content-type': 'application/xml' });
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    );
    request.resume();
  };
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const target = { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers };
    const accessKeyId = accessKeyOf(target.method, target.url, target.headers);
    if (accessKeyId?.startsWith(DROP_KEY_PREFIX) && !tenants.has(accessKeyId)) await refresh();
    const decision = authorizeLocalS3(target, options.bucket, (id) => tenants.get(id));
    if (!decision.allowed) return refuse(request, response, decision.code, decision.message);
    if (accessKeyId !== undefined && secrets.has(accessKeyId)) {
      const verdict = await verifySigV4(target, (id) => secrets.get(id), new Date());
      if (verdict === 'mismatch') {
        return refuse(request, response, 'SignatureDoesNotMatch', 'The request signature does not match.');
      }
    }
    for (const listener of inner) listener(request, response);
  };
  // The body is not read here: it stays buffered (not flowing) until s3rver consumes it.
  server.on('request', (request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent)
        refuse(request, response, 'InternalError', 'The request could not be checked.');
    });
  });
}
