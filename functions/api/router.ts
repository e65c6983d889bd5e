/**
 * Entry point of every API Lambda function (one per route group on AWS) and of the local gateway:
 * finds the route by the API Gateway v2 `routeKey` and calls that route's handler module.
 * Handler modules are loaded on first use so a cold start only pays for the routes it serves.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { NotFoundError } from '#core/errors.ts';
import type { ApiHandler } from '#shared/api-handler.ts';
import { problemResponse } from '#shared/http-response.ts';
import { ROUTES, type RouteDefinition, type RouteHandlerName, routeKey } from './routes.ts';

export type { ApiHandler };

const routesByKey = new Map<string, RouteDefinition>(ROUTES.map((route) => [routeKey(route), route]));

type HandlerModule = Promise<{ handler: ApiHandler }>;

/**
 * Static loaders, one per handler file: bundlers see every import, and the `Record` type makes a
 * route without a handler (or a stale handler) a compile error.
 */
const LOADERS: Record<RouteHandlerName, () => HandlerModule> = {
  health: () => import('./health.ts'),
  openapi: () => import('./openapi.ts'),
  'tenants-create': () => import('./tenants-create.ts'),
  'tenants-get': () => import('./tenants-get.ts'),
  'tenants-update': () => import('./tenants-update.ts'),
  'runtime-sync': () => import('./runtime-sync.ts'),
  'keys-create': () => import('./keys-create.ts'),
  'keys-revoke': () => import('./keys-revoke.ts'),
  'policy-get': () => import('./policy-get.ts'),
  'policy-put': () => import('./policy-put.ts'),
  'signers-create': () => import('./signers-create.ts'),
  'signers-list': () => import('./signers-list.ts'),
  'authors-get': () => import('./authors-get.ts'),
  'authors-grant': () => import('./authors-grant.ts'),
  'authors-revoke': () => import('./authors-revoke.ts'),
  'author-signers-put': () => import('./author-signers-put.ts'),
  'packages-promote': () => import('./packages-promote.ts'),
  'uploads-create': () => import('./uploads-create.ts'),
  'packages-publish': () => import('./packages-publish.ts'),
  'packages-publish-raw': () => import('./packages-publish-raw.ts'),
  'packages-get': () => import('./packages-get.ts'),
  'packages-readmes': () => import('./packages-readmes.ts'),
  'plugins-list': () => import('./plugins-list.ts'),
  'plugin-versions-list': () => import('./plugin-versions-list.ts'),
  'marketplace-download': () => import('./marketplace-download.ts'),
  'auto-upgrade-get': () => import('./auto-upgrade-get.ts'),
  'auto-upgrade-put': () => import('./auto-upgrade-put.ts'),
  'auto-upgrade-runs-list': () => import('./auto-upgrade-runs-list.ts'),
  'deployments-create': () => import('./deployments-create.ts'),
  'plans-create': () => import('./plans-create.ts'),
  'deployments-list': () => import('./deployments-list.ts'),
  'deployments-get': () => import('./deployments-get.ts'),
  'deployments-approve': () => import('./deployments-approve.ts'),
  'deployments-reject': () => import('./deployments-reject.ts'),
  'installations-list': () => import('./installations-list.ts'),
  'installation-revisions-list': () => import('./installation-revisions-list.ts'),
  'installation-hold-delete': () => import('./installation-hold-delete.ts'),
  'sweeps-run': () => import('./sweeps-run.ts'),
  'rollout-halt-delete': () => import('./rollout-halt-delete.ts'),
  'marketplace-dify-download': () => import('./marketplace-dify-download.ts'),
  'marketplace-dify-download-by-id': () => import('./marketplace-dify-download-by-id.ts'),
  'marketplace-dify-batch': () => import('./marketplace-dify-batch.ts'),
  'marketplace-dify-manifest': () => import('./marketplace-dify-manifest.ts'),
  'marketplace-dify-install-count': () => import('./marketplace-dify-install-count.ts'),
  'marketplace-dify-icon': () => import('./marketplace-dify-icon.ts'),
  'marketplace-tokens-create': () => import('./marketplace-tokens-create.ts'),
  'marketplace-tokens-list': () => import('./marketplace-tokens-list.ts'),
  'marketplace-tokens-revoke': () => import('./marketplace-tokens-revoke.ts'),
  'plugin-deprecation-put': () => import('./plugin-deprecation-put.ts'),
  'plugin-deprecation-delete': () => import('./plugin-deprecation-delete.ts'),
  'me-get': () => import('./me-get.ts'),
  'tenants-list': () => import('./tenants-list.ts'),
  'keys-list': () => import('./keys-list.ts'),
  'signers-delete': () => import('./signers-delete.ts'),
  'package-readme-get': () => import('./package-readme-get.ts'),
};

const handlers = new Map<string, Promise<ApiHandler>>();

function loadHandler(name: RouteHandlerName): Promise<ApiHandler> {
  let pending = handlers.get(name);
  if (pending === undefined) {
    pending = LOADERS[name]().then((module) => module.handler);
    handlers.set(name, pending);
  }
  return pending;
}

export async function dispatchApiEvent(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const route = routesByKey.get(event.routeKey);
  if (route === undefined) {
    return problemResponse(new NotFoundError(`No route ${event.routeKey}.`), event.rawPath);
  }
  const handler = await loadHandler(route.handler as RouteHandlerName);
  return handler(event, context);
}

export const handler: ApiHandler = dispatchApiEvent;
