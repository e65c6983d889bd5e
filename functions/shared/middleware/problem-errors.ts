/**
 * Last line of every API handler: any error becomes an RFC 9457 response. Problem errors are
 * exposed as they are; anything else is logged with its stack and answered with a generic 500.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ProblemError } from '#core/errors.ts';
import { problemResponse } from '#shared/http-response.ts';
import { logger } from '#shared/logger.ts';

export function problemErrors(): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const onError: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>['onError'] = async (
    request,
  ) => {
    const { error } = request;
    if (!(error instanceof ProblemError)) {
      logger.error('unhandled error', { route: request.event.routeKey, error: error as Error });
    }
    request.response = problemResponse(error, request.event.rawPath);
  };
  return { onError };
}
