/**
 * Bearer-key authentication and authorization. Runs before anything touches state:
 * unknown key → 401, missing scope → 403, a tenant key on another tenant's path → 404 (we do not
 * reveal which tenants exist). `admin` implies every other scope of its tenant. Keys and tenants
 * are looked up through a {@link CallerDirectory} the app hands in where it is assembled.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { isApiKeyShape, type Scope } from '#core/api-keys.ts';
import type { Caller } from '#core/caller.ts';
import { NotFoundError, ProblemError } from '#core/errors.ts';
import { isTenantId } from '#core/tenant-id.ts';

export interface AuthOptions {
  /** Scope the route needs, or `public`. */
  scope: Scope | 'public';
  /** Only operator keys (not bound to a tenant) may call the route. */
  operatorOnly?: boolean;
}

/** What authentication looks up (the API key and tenant stores, wired in by the app). */
export interface CallerDirectory {
  /** The caller a well-formed raw key belongs to; `undefined` when unknown or revoked. */
  findCaller(rawKey: string): Promise<Caller | undefined>;
  /** Whether the tenant exists (`tenantId` is already known to be well-formed). */
  tenantExists(tenantId: string): Promise<boolean>;
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
  directory: CallerDirectory,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const before: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>['before'] = async (
    request,
  ) => {
    if (options.scope === 'public') return;
    const token = bearerToken(request.event);
    if (token === undefined) {
      throw new ProblemError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
    }
    const caller = isApiKeyShape(token) ? await directory.findCaller(token) : undefined;
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
      if (!isTenantId(tenantId) || !(await directory.tenantExists(tenantId)))
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
