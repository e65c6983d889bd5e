/** `DELETE /v1/signers/{key_id}` (operator): the key is no longer trusted for later verifications. */
import { deleteSigner } from '#adapters/dynamo/signers.ts';
import { emptyResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { SignerParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: SignerParams },
  async ({ params }) => {
    await deleteSigner(params.key_id);
    return emptyResponse(204);
  },
);
