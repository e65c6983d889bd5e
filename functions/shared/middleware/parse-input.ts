/**
 * Validates path parameters, query string and JSON body with zod before the handler runs; every
 * failure is a 400 `validation-failed` naming each offending field. The parsed values are put on
 * the event as `pluginopsInput`.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import { type FieldError, formatIssuePath, ProblemError, ValidationError } from '#core/errors.ts';

export interface InputSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

export interface ParsedInput {
  params: unknown;
  query: unknown;
  body: unknown;
}

export type EventWithInput = APIGatewayProxyEventV2 & { pluginopsInput?: ParsedInput };

/** Largest JSON body accepted (API bodies are small; packages go through uploads or `:raw`). */
const MAX_JSON_BODY = 256 * 1024;

function issues(prefix: string, error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: formatIssuePath([prefix, ...issue.path]),
    message: issue.message,
  }));
}

function validate(schema: z.ZodType | undefined, value: unknown, prefix: string): unknown {
  if (schema === undefined) return value;
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = issues(prefix, result.error);
    throw new ValidationError(
      `The request ${prefix} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      errors,
    );
  }
  return result.data;
}

function decodeParams(params: Record<string, string | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params ?? {})) if (value !== undefined) out[name] = value;
  return out;
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  if (event.body === undefined || event.body === '') return undefined;
  const contentType = (event.headers?.['content-type'] ?? '').toLowerCase();
  if (!/^application\/(?:[\w.+-]+\+)?json\b/.test(contentType)) {
    throw new ProblemError('unsupported-media-type', 'Send the request body as application/json.');
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (text.length > MAX_JSON_BODY) {
    throw new ValidationError(`JSON bodies are limited to ${MAX_JSON_BODY} bytes.`, [
      { path: 'body', message: 'too large' },
    ]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`The body is not valid JSON: ${(error as Error).message}`, [
      { path: 'body', message: 'malformed JSON' },
    ]);
  }
}

/** What {@link parseInput} put on the event (nothing parsed yet: all undefined). */
export function parsedInput(event: APIGatewayProxyEventV2): ParsedInput {
  return (event as EventWithInput).pluginopsInput ?? { params: undefined, query: undefined, body: undefined };
}

/** Parses the schemas given (a route spec may be passed as is); an absent schema passes its part through. */
export function parseInput(
  schemas: InputSchemas,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    before: async (request) => {
      const event = request.event as EventWithInput;
      event.pluginopsInput = {
        params: validate(schemas.params, decodeParams(event.pathParameters), 'params'),
        query: validate(schemas.query, { ...(event.queryStringParameters ?? {}) }, 'query'),
        body:
          schemas.body === undefined ? undefined : validate(schemas.body, readJsonBody(event) ?? {}, 'body'),
      };
    },
  };
}
