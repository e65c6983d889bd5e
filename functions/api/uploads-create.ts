/**
 * `POST /v1/uploads`: a presigned S3 PUT for one package (≤ 50 MiB), valid 15 minutes. The bytes
 * land under `uploads/` (expired by a lifecycle rule after a day) until published.
 */
import { randomBytes } from 'node:crypto';
import { createUploadSession } from '#adapters/dynamo/uploads.ts';
import { presignPut } from '#adapters/s3/blob-store.ts';
import { PackageTooLargeError } from '#core/errors.ts';
import { MAX_PACKAGE_BYTES } from '#services/sources.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { CreateUploadBody } from './schemas.ts';

const URL_TTL_SECONDS = 15 * 60;

export const handler = apiHandler(
  { scope: 'packages:write', idempotent: true, body: CreateUploadBody },
  async ({ body, event, now }) => {
    if (body.size > MAX_PACKAGE_BYTES) {
      throw new PackageTooLargeError(
        `Packages are limited to ${MAX_PACKAGE_BYTES} bytes; this one has ${body.size}.`,
      );
    }
    const caller = callerOf(event);
    const uploadId = `up_${randomBytes(12).toString('base64url')}`;
    const objectKey = `uploads/${uploadId}/${body.filename}`;
    const expiresAt = new Date(now.getTime() + URL_TTL_SECONDS * 1000).toISOString();
    await createUploadSession({
      upload_id: uploadId,
      tenant_id: caller.tenantId,
      key_id: caller.keyId,
      filename: body.filename,
      size: body.size,
      object_key: objectKey,
      created_at: now.toISOString(),
      expires_at: expiresAt,
    });
    const { url, headers } = await presignPut(objectKey, body.size, URL_TTL_SECONDS);
    return jsonResponse(201, { upload_id: uploadId, url, method: 'PUT', headers, expires_at: expiresAt });
  },
);
