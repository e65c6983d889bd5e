/**
 * Entry point of every API Lambda function (one per route group on AWS) and of the local gateway:
 * finds the route by the API Gateway v2 `routeKey` and calls that route's handler module.
 * Handler modules are loaded on first use so a cold start only pays for the routes it serves.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { NotFoundError } from '#core/errors.ts';
import { problemResponse } from '#shared/http-response.ts';
import { ROUTES, type RouteDefinition, routeKey } from './routes.ts';

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const routesByKey = new Map<string, RouteDefinition>(ROUTES.map((route) => [routeKey(route), route]));
const handlers = new Map<string, Promise<ApiHandler>>();

function loadHandler(name: string): Promise<ApiHandler> {
  let pending = handlers.get(name);
  if (pending === undefined) {
    pending = import(`./${name}.ts`).then((module: { handler: ApiHandler }) => module.handler);
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
  const handler = await loadHandler(route.handler);
  return handler(event, context);
}

export const handler: ApiHandler = dispatchApiEvent;
