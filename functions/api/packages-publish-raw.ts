/** `POST /v1/packages:raw`: the request body is the package (`application/octet-stream`, ≤ 6 MiB). */
import { ProblemError } from '#core/errors.ts';
import { publishFromBytes } from '#services/sources.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { presentPublished } from './present.ts';

export const handler = apiHandler({ scope: 'packages:write', idempotent: true }, async ({ event, now }) => {
  const contentType = (event.headers?.['content-type'] ?? '').toLowerCase();
  if (!contentType.startsWith('application/octet-stream')) {
    throw new ProblemError(
      'unsupported-media-type',
      'Send the package as Content-Type: application/octet-stream.',
    );
  }
  const bytes = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'binary');
  const result = await publishFromBytes(bytes, callerOf(event), now);
  return jsonResponse(result.created ? 201 : 200, presentPublished(result));
});
