/** `DELETE /v1/plugins/{author}/{name}/deprecation` (operator): the plugin is active again. */
import { deleteDeprecation } from '#adapters/dynamo/marketplace.ts';
import { emptyResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { DeprecationParams } from './marketplace-schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: DeprecationParams },
  async ({ params }) => {
    await deleteDeprecation(`${params.author}/${params.name}`);
    return emptyResponse(204);
  },
);
