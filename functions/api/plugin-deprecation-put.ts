/**
 * `PUT /v1/plugins/{author}/{name}/deprecation` (operator) `{reason, alternative_plugin_id?}`:
 * marks a catalogued plugin deprecated. Dify's upgrade checks then see `status: deleted` with the
 * reason and alternative, and pluginops' auto-upgrade never upgrades to it.
 */
import { putDeprecation } from '#adapters/dynamo/marketplace.ts';
import { NotFoundError } from '#core/errors.ts';
import { findLatestBuild } from '#services/marketplace.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { DeprecationBody, DeprecationParams } from './marketplace-schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: DeprecationParams, body: DeprecationBody },
  async ({ params, body, now }) => {
    const pluginId = `${params.author}/${params.name}`;
    if ((await findLatestBuild(pluginId)) === undefined)
      throw new NotFoundError(`${pluginId} is not in the catalog.`);
    const deprecation = await putDeprecation({
      plugin_id: pluginId,
      reason: body.reason,
      alternative_plugin_id: body.alternative_plugin_id ?? '',
      deprecated_at: now.toISOString(),
    });
    return jsonResponse(200, deprecation);
  },
);
