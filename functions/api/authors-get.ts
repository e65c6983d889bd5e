/** `GET /v1/authors/{author}` (operator): whether it is reserved, its bound signers, its tenants. */
import { describeAuthor } from '#services/authors.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { AuthorParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: AuthorParams },
  async ({ params }) => jsonResponse(200, await describeAuthor(params.author)),
);
