/**
 * The handler shape of the Dify marketplace protocol routes (`/marketplace/{token}/api/v1/…`).
 * Dify's client sends no headers, so access is the token in the path: it is checked first, before
 * any input is parsed, so a caller without a valid token learns nothing (every answer is the same
 * 404). The `instance` of problems is the path with the token redacted.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { redactMarketplacePath } from '#core/marketplace/token.ts';
import type { ApiHandler } from './api-handler.ts';
import { parsedInput, parseInput } from './middleware/parse-input.ts';
import { problemErrors } from './middleware/problem-errors.ts';

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

export interface MarketplaceRequest<P, Q, B> {
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  event: APIGatewayProxyEventV2;
  /** The base URL Dify was given (`…/marketplace/<token>`), for absolute links in answers. */
  baseUrl: string;
  now: Date;
}

/** `https://host/marketplace/<token>` as the client reached it. */
export function marketplaceBaseUrl(event: APIGatewayProxyEventV2): string {
  const headers = event.headers ?? {};
  const proto = headers['x-forwarded-proto'] ?? 'http';
  const host = headers.host ?? event.requestContext?.domainName ?? 'localhost';
  const token = event.pathParameters?.token ?? '';
  return `${proto}://${host}/marketplace/${token}`;
}

export function marketplaceHandler<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  spec: {
    /** Resolves when the path token may read the marketplace; throws a 404 problem otherwise. */
    authorize: (token: string) => Promise<void>;
    params?: P;
    query?: Q;
    body?: B;
  },
  impl: (request: MarketplaceRequest<P, Q, B>) => Promise<APIGatewayProxyStructuredResultV2>,
): ApiHandler {
  const base = async (event: APIGatewayProxyEventV2, _context: Context) => {
    const input = parsedInput(event);
    return impl({
      params: input.params as Infer<P>,
      query: input.query as Infer<Q>,
      body: input.body as Infer<B>,
      event,
      baseUrl: marketplaceBaseUrl(event),
      now: new Date(),
    });
  };
  // Runs after problemErrors() has answered (onError middlewares run in reverse order of use).
  const redactInstance = {
    onError: async (request: {
      event: APIGatewayProxyEventV2;
      response: APIGatewayProxyStructuredResultV2 | null | undefined;
    }) => {
      const response = request.response;
      if (response?.body === undefined) return;
      const path = request.event.rawPath;
      request.response = { ...response, body: response.body.split(path).join(redactMarketplacePath(path)) };
    },
  };
  const chain = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(base)
    .use(redactInstance)
    .use(problemErrors())
    .use({
      before: async (request) => {
        await spec.authorize(request.event.pathParameters?.token ?? '');
      },
    })
    .use(parseInput(spec));
  return chain as unknown as ApiHandler;
}
