/**
 * The one handler shape of the API: `apiHandler(spec, impl)` wraps a use-case call in the same
 * middy chain everywhere — problem errors (outermost), authentication, idempotency for mutating
 * routes, input parsing — and hands `impl` typed, validated input. The edge imports no store:
 * {@link createApiHandler} takes what authentication and idempotency need ({@link ApiEdge}), and
 * the app binds it once in `#api/compose.ts`.
 */
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Scope } from '#core/api-keys.ts';
import type { Caller } from '#core/caller.ts';
import { type AuthenticatedEvent, authenticate, type CallerDirectory } from './middleware/authenticate.ts';
import { idempotency } from './middleware/idempotency.ts';
import { parsedInput, parseInput } from './middleware/parse-input.ts';
import { problemErrors } from './middleware/problem-errors.ts';

/** An API Lambda handler: what the router dispatches to and what each route module exports. */
export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** What the edge needs from the rest of the app. */
export interface ApiEdge {
  callers: CallerDirectory;
  /** Called once per idempotent route, when its handler is built. */
  idempotencyStore: () => BasePersistenceLayer;
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

export interface ApiSpec<P, Q, B> {
  scope: Scope | 'public';
  operatorOnly?: boolean;
  /** Mutating routes honour `Idempotency-Key`. */
  idempotent?: boolean;
  params?: P;
  query?: Q;
  body?: B;
}

export interface ApiRequest<P, Q, B> {
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  /** The authenticated caller; `null` only on public routes. */
  caller: Caller | null;
  event: APIGatewayProxyEventV2;
  context: Context;
  now: Date;
}

/** `apiHandler(spec, impl)` bound to the app's stores. */
export type ApiHandlerFactory = <
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  spec: ApiSpec<P, Q, B>,
  impl: (request: ApiRequest<P, Q, B>) => Promise<APIGatewayProxyStructuredResultV2>,
) => ApiHandler;

export function createApiHandler(edge: ApiEdge): ApiHandlerFactory {
  return (spec, impl) => buildHandler(edge, spec, impl);
}

function buildHandler<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(
  edge: ApiEdge,
  spec: ApiSpec<P, Q, B>,
  impl: (request: ApiRequest<P, Q, B>) => Promise<APIGatewayProxyStructuredResultV2>,
): ApiHandler {
  const base = async (event: APIGatewayProxyEventV2, context: Context) => {
    const input = parsedInput(event);
    return impl({
      params: input.params as Infer<P>,
      query: input.query as Infer<Q>,
      body: input.body as Infer<B>,
      caller: (event as AuthenticatedEvent).pluginopsCaller ?? null,
      event,
      context,
      now: new Date(),
    });
  };
  const chain = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(base)
    .use(problemErrors())
    .use(authenticate({ scope: spec.scope, operatorOnly: spec.operatorOnly ?? false }, edge.callers));
  if (spec.idempotent) chain.use(idempotency(edge.idempotencyStore()));
  chain.use(parseInput(spec));
  return chain as unknown as ApiHandler;
}
