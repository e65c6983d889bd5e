/** Shapes API Gateway v2 responses: JSON bodies and RFC 9457 problem documents. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { toProblem } from '#core/errors.ts';

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export function emptyResponse(statusCode = 204): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: {}, body: '' };
}

export function problemResponse(error: unknown, instance?: string): APIGatewayProxyStructuredResultV2 {
  const problem = toProblem(error, instance);
  return {
    statusCode: problem.status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify(problem),
  };
}
