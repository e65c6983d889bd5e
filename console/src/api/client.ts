/**
 * The typed API client: openapi-fetch over the paths generated from GET /v1/openapi.json
 * (schema.d.ts). Same origin, so no CORS; the key is read from sessionStorage for every request.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import { readKey } from '../session.ts';
import type { components, paths } from './schema.d.ts';

export type Schemas = components['schemas'];
export type { paths };

/** An RFC 9457 problem answered by the API, shown as its title and detail. */
export class ApiProblem extends Error {
  override name = 'ApiProblem';
  constructor(
    readonly title: string,
    readonly detail: string,
    readonly status: number,
    readonly type: string,
  ) {
    super(`${title}: ${detail}`);
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const key = readKey();
    if (key !== null) request.headers.set('authorization', `Bearer ${key}`);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Unwraps an openapi-fetch answer: the data, or an {@link ApiProblem} thrown from the problem body. */
export async function ok<T>(pending: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await pending;
  if (response.ok) return data as T;
  const problem = (error ?? {}) as { title?: string; detail?: string; type?: string };
  throw new ApiProblem(
    problem.title ?? response.statusText ?? 'Request failed',
    problem.detail ?? `The API answered ${response.status}.`,
    response.status,
    problem.type ?? 'about:blank',
  );
}

export function toProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ApiProblem('Something went wrong', message, 0, 'about:blank');
}

/** `author/name` → path params. */
export function pluginParams(pluginId: string): { author: string; name: string } {
  const [author = '', name = ''] = pluginId.split('/');
  return { author, name };
}

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
/** The JSON body of a path's successful answer, e.g. `Answered<'/v1/me', 'get'>`. */
export type Answered<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: infer A }
    ? JsonOf<A>
    : R extends { 201: infer A }
      ? JsonOf<A>
      : R extends { 202: infer A }
        ? JsonOf<A>
        : never
  : never;
/** One item of a paginated list answer. */
export type ItemOf<P extends keyof paths> =
  Answered<P, 'get' & keyof paths[P]> extends { items: Array<infer I> } ? I : never;
