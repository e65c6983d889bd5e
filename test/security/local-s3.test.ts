/**
 * Issue 14, "Local drop folder without credentials": an unsigned PUT under `drop/tenants/<t>/`
 * published and deployed to that tenant, and the bucket (backups included) listed without
 * credentials. Now the local S3 endpoint refuses unsigned requests, and a tenant's drop folder
 * takes writes only with the drop credentials pluginops issued for that tenant.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { issueDropCredentials } from '#local/s3-auth.ts';
import { createApiClient } from '#test/support/api-client.ts';
import { s3Client, stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const run = randomBytes(3).toString('hex');
const tenant = `s3-${run}`;
const other = `s3o-${run}`;

function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new S3Client({ endpoint: stack.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
}

async function errorName(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as Error).name;
  }
}

beforeAll(async () => {
  for (const id of [tenant, other]) {
    expect(
      (await call('POST', '/v1/tenants', { key: stack.bootstrapKey, json: { tenant_id: id } })).status,
    ).toBe(201);
  }
});

describe('local S3 endpoint', () => {
  it("answers a browser's CORS preflight of a presigned upload (the console publishes that way)", async () => {
    const upload = await call('POST', '/v1/uploads', {
      key: stack.bootstrapKey,
      json: { filename: 'pre.difypkg', size: 4 },
    });
    expect(upload.status, upload.text).toBe(201);
    const preflight = await fetch(upload.body.url as string, {
      method: 'OPTIONS',
      headers: {
        origin: stack.baseUrl,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    // The preflight signs nothing; the PUT itself is still checked.
    const forged = new URL(upload.body.url as string);
    forged.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    expect((await fetch(forged, { method: 'PUT', body: 'abcd' })).status).toBe(403);
  });

  it('refuses unsigned writes and listings', async () => {
    const bytes = await buildPackage({ manifest: { author: `s3${run}`, name: 'anon' } as never });
    const put = await fetch(`${stack.s3Endpoint}/${stack.bucket}/drop/tenants/${tenant}/anon.difypkg`, {
      method: 'PUT',
      body: bytes,
    });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain('AccessDenied');
    const list = await fetch(`${stack.s3Endpoint}/${stack.bucket}?list-type=2&prefix=backups/`);
    expect(list.status).toBe(403);
    const deployments = await call('GET', `/v1/tenants/${tenant}/deployments`, { key: stack.bootstrapKey });
    expect(deployments.body.items).toEqual([]);
    // The stage credentials still work for everything. (A prefix of this run only: s3rver fails a
    // listing when another test removes a file under it at the same moment.)
    const listed = await s3Client().send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: `drop/tenants/${tenant}/`, MaxKeys: 1 }),
    );
    expect(listed.$metadata.httpStatusCode).toBe(200);
  });

  it("writes a tenant's drop folder only with the credentials issued for it", async () => {
    const issued = await issueDropCredentials(stack.dataDir, tenant);
    const drop = clientWith({ accessKeyId: issued.access_key_id, secretAccessKey: issued.secret_access_key });
    const put = (key: string) =>
      drop.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: Buffer.from('not a package') }));

    expect(await errorName(put(`drop/tenants/${tenant}/notes.txt`))).toBeUndefined();
    expect(await errorName(put(`drop/tenants/${other}/evil.difypkg`))).toBe('AccessDenied');
    expect(await errorName(put('drop/catalog/evil.difypkg'))).toBe('AccessDenied');
    expect(await errorName(drop.send(new ListObjectsV2Command({ Bucket: stack.bucket })))).toBe(
      'AccessDenied',
    );

    const forged = clientWith({ accessKeyId: issued.access_key_id, secretAccessKey: 'guessed-secret' });
    const forgedPut = forged.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: `drop/tenants/${tenant}/x.txt`,
        Body: Buffer.from('x'),
      }),
    );
    expect(await errorName(forgedPut)).toBe('SignatureDoesNotMatch');
    const unknown = clientWith({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'x' });
    expect(await errorName(unknown.send(new ListObjectsV2Command({ Bucket: stack.bucket })))).toBe(
      'InvalidAccessKeyId',
    );
  });

  it('accepts the README drop-folder example: curl --aws-sigv4 with the drop credentials', async () => {
    const issued = await issueDropCredentials(stack.dataDir, tenant);
    const file = join(tmpdir(), `readme-${run}.txt`);
    await writeFile(file, 'not a package');
    const curl = (user: string) =>
      promisify(execFile)('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-X',
        'PUT',
        '--aws-sigv4',
        'aws:amz:us-east-1:s3',
        '--user',
        user,
        '-H',
        'x-amz-content-sha256: UNSIGNED-PAYLOAD',
        '--data-binary',
        `@${file}`,
        `${stack.s3Endpoint}/${stack.bucket}/drop/tenants/${tenant}/readme.txt`,
      ]);
    expect((await curl(`${issued.access_key_id}:${issued.secret_access_key}`)).stdout).toBe('200');
    expect((await curl(`${issued.access_key_id}:wrong`)).stdout).toBe('403');
  });
});
