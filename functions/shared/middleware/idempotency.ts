/**
 * `Idempotency-Key` support through Powertools' DynamoDB persistence layer. The key is scoped by
 * route, path and caller, so two tenants can use the same header value; the body is the payload
 * checked on replay (same key + other body → 422 `idempotency-key-reused`). Without the header
 * the request simply runs. Errors are never cached: Powertools deletes the in-progress record
 * in `onError`, and the problem middleware (outside this one) then shapes the response. The
 * persistence layer (a DynamoDB table on AWS and locally) is handed in where the app is assembled.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ProblemError } from '#core/errors.ts';

const KEY_EXPRESSION =
  'headers."idempotency-key" && [requestContext.routeKey, rawPath, requestContext.authorizer.pluginops.key_id, headers."idempotency-key"]';

type Middleware = MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;

function assertKeyShape(event: APIGatewayProxyEventV2): void {
  const key = event.headers?.['idempotency-key'];
  if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ProblemError('validation-failed', 'Idempotency-Key must be 1–255 visible ASCII characters.', {
      errors: [{ path: 'headers.idempotency-key', message: 'invalid' }],
    });
  }
}

export function idempotency(persistenceStore: BasePersistenceLayer): Middleware {
  const inner = makeHandlerIdempotent({
    persistenceStore,
    config: new IdempotencyConfig({
      eventKeyJmesPath: KEY_EXPRESSION,
      payloadValidationJmesPath: 'body',
      expiresAfterSeconds: 24 * 60 * 60,
      throwOnNoIdempotencyKey: false,
    }),
  }) as unknown as Required<Middleware>;
  return {
    before: async (request) => {
      assertKeyShape(request.event);
      let replay: unknown;
      try {
        replay = await inner.before(request);
      } catch (error) {
        throw translate(error);
      }
      if (replay === undefined) markOwner(request);
      return replay;
    },
    after: inner.after,
    // Only the request that wrote the in-progress record may delete it: a request refused as
    // `idempotency-in-progress` (or `idempotency-key-reused`) fails here too, and deleting then
    // would let the next duplicate run the operation a second time.
    onError: async (request) => {
      if (isOwner(request)) await inner.onError(request);
    },
  };
}

/** The requests (middy request objects) that wrote their key's in-progress record. */
const owners = new WeakSet<object>();

function markOwner(request: object): void {
  owners.add(request);
}

function isOwner(request: object): boolean {
  return owners.has(request);
}

function translate(error: unknown): unknown {
  const name = (error as { name?: string }).name;
  if (name === 'IdempotencyValidationError') {
    return new ProblemError(
      'idempotency-key-reused',
      'This Idempotency-Key was already used with a different request body.',
    );
  }
  if (name === 'IdempotencyAlreadyInProgressError') {
    return new ProblemError(
      'idempotency-in-progress',
      'A request with this Idempotency-Key is still running; retry later.',
    );
  }
  return error;
}
