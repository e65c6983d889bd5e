/**
 * Bearer-key authentication and authorization. Runs before anything touches state:
 * unknown key → 401, missing scope → 403, a tenant key on another tenant's path → 404 (we do not
 * reveal which tenants exist). `admin` implies every other scope of its tenant.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Caller } from '#adapters/dynamo/api-keys.ts';
import { TenantId } from '#api/schemas.ts';
import { isApiKeyShape, type Scope } from '#core/api-keys.ts';
import { NotFoundError, ProblemError } from '#core/errors.ts';
import { authCache } from '#shared/auth-cache.ts';

export interface AuthOptions {
  /** Scope the route needs, or `public`. */
  scope: Scope | 'public';
  /** Only operator keys (not bound to a tenant) may call the route. */
  operatorOnly?: boolean;
}

export type AuthenticatedEvent = APIGatewayProxyEventV2 & { pluginopsCaller?: Caller };

export function callerOf(event: APIGatewayProxyEventV2): Caller {
  const caller = (event as AuthenticatedEvent).pluginopsCaller;
  if (caller === undefined) throw new Error('callerOf() on a public route');
  return caller;
}

export function hasScope(caller: Caller, scope: Scope): boolean {
  return caller.scopes.includes(scope) || caller.scopes.includes('admin');
}

function bearerToken(event: APIGatewayProxyEventV2): string | undefined {
  const header = event.headers?.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function authenticate(
  options: AuthOptions,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const before: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>['before'] = async (
    request,
  ) => {
    if (options.scope === 'public') return;
    const token = bearerToken(request.event);
    if (token === undefined) {
      throw new ProblemError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
    }
    const caller = isApiKeyShape(token) ? await authCache().caller(token) : undefined;
    if (caller === undefined) throw new ProblemError('unauthorized', 'The API key is unknown or revoked.');
    if (options.operatorOnly && caller.tenantId !== null) {
      throw new ProblemError('forbidden', 'Only operator keys may call this route.');
    }
    if (!hasScope(caller, options.scope)) {
      throw new ProblemError('forbidden', `The API key lacks the "${options.scope}" scope.`);
    }
    const tenantId = request.event.pathParameters?.tenant_id;
    if (tenantId !== undefined) {
      if (caller.tenantId !== null && caller.tenantId !== tenantId)
        throw new NotFoundError('The tenant does not exist.');
      // A malformed id names no tenant; checking first also keeps oversized ids (DynamoDB caps
      // partition keys at 2 KiB) from turning into a 500 on the lookup.
      if (!TenantId.safeParse(tenantId).success || !(await authCache().tenantExists(tenantId)))
        throw new NotFoundError('The tenant does not exist.');
    }
    (request.event as AuthenticatedEvent).pluginopsCaller = caller;
    // Exposed to the idempotency key expression so keys are scoped per caller.
    request.event.requestContext = {
      ...request.event.requestContext,
      authorizer: { pluginops: { key_id: caller.keyId } },
    } as APIGatewayProxyEventV2['requestContext'];
  };
  return { before };
}
