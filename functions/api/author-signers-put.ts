/**
 * `PUT /v1/authors/{author}/signers` (operator): every later build under the author, from any
 * publisher, must verify with one of these stage signers; `[]` unbinds (a reserved author then
 * refuses every publish). See docs/security.md.
 */
import { bindSigners } from '#services/authors.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { AuthorParams, AuthorSignersBody } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, idempotent: true, params: AuthorParams, body: AuthorSignersBody },
  async ({ params, body, now }) => jsonResponse(200, await bindSigners(params.author, body.signers, now)),
);
