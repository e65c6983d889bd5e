/**
 * `DELETE /v1/tenants/{tenant_id}/installations/{author}/{name}/hold` (deploy:write): clears the
 * auto-upgrade hold a rollback set, so auto-upgrade may try that identifier again. 204 whether or
 * not a hold was set (the end state is the same); 404 for a plugin the tenant never had.
 */
import { clearHold, findInstallation } from '#adapters/dynamo/installations.ts';
import { NotFoundError } from '#core/errors.ts';
import { emptyResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { InstallationParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'deploy:write', idempotent: true, params: InstallationParams },
  async ({ params }) => {
    const pluginId = `${params.author}/${params.name}`;
    if ((await findInstallation(params.tenant_id, pluginId)) === undefined) {
      throw new NotFoundError(`${pluginId} has never been installed on this tenant.`);
    }
    await clearHold(params.tenant_id, pluginId);
    return emptyResponse(204);
  },
);
