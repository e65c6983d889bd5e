/**
 * `GET /v1/health`. On AWS the function answering is proof enough; locally the runtime sets
 * `PLUGINOPS_LOCAL_INFO` (endpoints of the embedded engines) only once every engine is up.
 */

import { getConfig } from '#config/runtime-config.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';

export const handler = apiHandler({ scope: 'public' }, async () => {
  const local = getConfig().localInfo;
  return jsonResponse(200, local ? { status: 'ok', local: JSON.parse(local) as unknown } : { status: 'ok' });
});
