/** `GET /v1/openapi.json`: the contract, generated from the zod schemas. */

import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { buildOpenApiDocument } from './openapi-document.ts';

let cached: Record<string, unknown> | undefined;

export const handler = apiHandler({ scope: 'public' }, async () => {
  cached ??= buildOpenApiDocument();
  return jsonResponse(200, cached);
});
