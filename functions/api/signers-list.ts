/** `GET /v1/signers`: the stage's trusted publisher keys (public keys only). */
import { listSigners } from '#adapters/dynamo/signers.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { ListQuery } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', query: ListQuery }, async ({ query }) =>
  jsonResponse(200, await listSigners(query.limit, query.cursor)),
);
