/**
 * Verifies AWS Signature Version 4 on requests to the local S3 endpoint (s3rver checks V2
 * signatures but accepts any V4 signature from a known key). The request is signed again with
 * the key's secret by Smithy's SigV4 signer — the one the AWS SDK signs with — and the two
 * signatures are compared in constant time. Header-signed and presigned (query) requests.
 */
import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** node:crypto behind Smithy's `Checksum` shape (SHA-256, or HMAC-SHA256 with a secret). */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
];

const PAYLOAD_PARAM = 'X-Amz-Content-Sha256';
const PAYLOAD_HEADER = 'x-amz-content-sha256';

function payloadHeader(query: Record<string, string | string[]>): Record<string, string> {
  const value = query[PAYLOAD_PARAM];
  return { [PAYLOAD_HEADER]: typeof value === 'string' ? value : 'UNSIGNED-PAYLOAD' };
}

export type SigV4Result = 'valid' | 'mismatch' | 'not-v4';

function parseAmzDate(text: string | undefined): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? '');
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * `valid` when the V4 signature matches `secretOf(accessKeyId)`, `mismatch` when it does not (or
 * the key is unknown, or a presigned URL expired), `not-v4` for anything else (V2 or unsigned).
 */
export async function verifySigV4(
  request: { method: string; url: string; headers: IncomingHttpHeaders },
  secretOf: (accessKeyId: string) => string | undefined,
  now: Date,
): Promise<SigV4Result> {
  const url = new URL(request.url, 'http://local');
  const authorization =
    typeof request.headers.authorization === 'string' ? request.headers.authorization : '';
  const header =
    /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/.exec(
      authorization,
    );
  const presigned = url.searchParams.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256';
  if (header === null && !presigned) return 'not-v4';

  const credential =
    header !== null ? (header[1] as string) : (url.searchParams.get('X-Amz-Credential') ?? '');
  const signedHeaders = (
    header !== null ? (header[2] as string) : (url.searchParams.get('X-Amz-SignedHeaders') ?? '')
  )
    .split(';')
    .filter((name) => name !== '');
  const provided = header !== null ? (header[3] as string) : (url.searchParams.get('X-Amz-Signature') ?? '');
  const [accessKeyId, , region, service] = credential.split('/');
  const secret = accessKeyId === undefined ? undefined : secretOf(accessKeyId);
  const signingDate = parseAmzDate(
    header !== null
      ? (request.headers['x-amz-date'] as string | undefined)
      : (url.searchParams.get('X-Amz-Date') ?? undefined),
  );
  if (
    secret === undefined ||
    accessKeyId === undefined ||
    signingDate === undefined ||
    region === undefined
  ) {
    return 'mismatch';
  }

  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    if (presigned && PRESIGN_PARAMS.includes(name)) continue;
    const existing = query[name];
    query[name] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret },
    region,
    service: service ?? 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const base = {
    method: request.method,
    protocol: 'http:',
    hostname: 'local',
    path: url.pathname,
    query,
    headers,
  };
  if (header !== null) {
    const signed = await signer.sign(base, { signingDate, signableHeaders: new Set(signedHeaders) });
    const expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
    return same(expected, provided) ? 'valid' : 'mismatch';
  }
  const expiresIn = Number(url.searchParams.get('X-Amz-Expires') ?? '0');
  if (!(expiresIn > 0) || signingDate.getTime() + expiresIn * 1000 < now.getTime()) return 'mismatch';
  const presignedAgain = await signer.presign(
    // The payload hash travels as the `X-Amz-Content-Sha256` query parameter, which stays in the
    // query; Smithy reads the hash from a header, which must neither be signed nor hoisted.
    { ...base, headers: { ...headers, ...payloadHeader(query) } },
    {
      signingDate,
      expiresIn,
      signableHeaders: new Set(signedHeaders),
      unsignableHeaders: new Set([PAYLOAD_HEADER]),
      unhoistableHeaders: new Set([...signedHeaders, PAYLOAD_HEADER]),
    },
  );
  const expected = String(presignedAgain.query?.['X-Amz-Signature'] ?? '');
  return same(expected, provided) ? 'valid' : 'mismatch';
}
