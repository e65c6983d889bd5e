/**
 * The Lambda handler of one API route group. The generated entry (`infra/lambda/entries.ts`) hands
 * it a map from API Gateway route key to a *static* `import()` of that route's handler module, so
 * esbuild bundles exactly the group's handlers (the router's template-literal import would pull in
 * every file of `functions/api/`) and a cold start still loads only the route it serves.
 */
import type { ApiHandler } from '#api/router.ts';
import { NotFoundError } from '#core/errors.ts';
import { problemResponse } from '#shared/http-response.ts';
import { runtimeSecretsReady } from './load-secrets.ts';

export type RouteModuleLoaders = Readonly<Record<string, () => Promise<{ handler: ApiHandler }>>>;

export function routeGroupHandler(loaders: RouteModuleLoaders): ApiHandler {
  const handlers = new Map<string, Promise<ApiHandler>>();
  return async (event, context) => {
    const load = loaders[event.routeKey];
    // API Gateway only integrates the group's own routes with this function; this is a safety net.
    if (load === undefined)
      return problemResponse(new NotFoundError(`No route ${event.routeKey}.`), event.rawPath);
    await runtimeSecretsReady();
    let handler = handlers.get(event.routeKey);
    if (handler === undefined) {
      handler = load().then((module) => module.handler);
      handlers.set(event.routeKey, handler);
    }
    return (await handler)(event, context);
  };
}
