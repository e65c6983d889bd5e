/**
 * `POST /v1/packages`: publish from an upload, a GitHub release or a marketplace. A package answers
 * with the package; a `.difybndl` bundle with `{bundle, packages}` (every embedded package).
 */
import { publishFromSource } from '#services/sources.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { presentPublished } from './present.ts';
import { PublishBody } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'packages:write', idempotent: true, body: PublishBody },
  async ({ body, event, now }) => {
    const result = await publishFromSource(body, callerOf(event), now);
    return jsonResponse(result.created ? 201 : 200, presentPublished(result));
  },
);
