/**
 * The one handler shape of the API: `apiHandler(spec, impl)` wraps a use-case call in the same
 * middy chain everywhere — problem errors (outermost), authentication, idempotency for mutating
 * routes, input parsing — and hands `impl` typed, validated input.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import type { ApiHandler } from '#api/router.ts';
import type { Scope } from '#core/api-keys.ts';
import type { Caller } from '#core/caller.ts';
import { type AuthenticatedEvent, authenticate } from './middleware/authenticate.ts';
import { idempotency } from './middleware/idempotency.ts';
import { type EventWithInput, parseInput } from './middleware/parse-input.ts';
import { problemErrors } from './middleware/problem-errors.ts';

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

export function apiHandler<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  spec: ApiSpec<P, Q, B>,
  impl: (request: ApiRequest<P, Q, B>) => Promise<APIGatewayProxyStructuredResultV2>,
): ApiHandler {
  const base = async (event: APIGatewayProxyEventV2, context: Context) => {
    const input = (event as EventWithInput).pluginopsInput;
    return impl({
      params: input?.params as Infer<P>,
      query: input?.query as Infer<Q>,
      body: input?.body as Infer<B>,
      caller: (event as AuthenticatedEvent).pluginopsCaller ?? null,
      event,
      context,
      now: new Date(),
    });
  };
  const chain = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(base)
    .use(problemErrors())
    .use(authenticate({ scope: spec.scope, operatorOnly: spec.operatorOnly ?? false }));
  if (spec.idempotent) chain.use(idempotency());
  chain.use(
    parseInput({
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: spec.body } : {}),
    }),
  );
  return chain as unknown as ApiHandler;
}
