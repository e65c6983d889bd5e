import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ROUTES, routeKey } from '#api/routes.ts';
import {
  apiGroupEntry,
  ROUTE_GROUPS,
  routeGroupEntrySource,
  taskEntry,
  taskEntrySource,
} from '../../infra/lambda/entries.ts';
import {
  loadRuntimeSecrets,
  SECRET_ARNS_VARIABLE,
  UNSET_SECRET_VALUE,
} from '../../infra/runtime/load-secrets.ts';
import { routeGroupHandler } from '../../infra/runtime/route-group-handler.ts';

function event(key: string): APIGatewayProxyEventV2 {
  const [method, path] = key.split(' ') as [string, string];
  return {
    version: '2.0',
    routeKey: key,
    rawPath: path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: { http: { method, path } } as APIGatewayProxyEventV2['requestContext'],
  };
}

describe('generated route-group entries', () => {
  it.each(ROUTE_GROUPS)('import exactly the handlers of group %s, with string-literal imports', (group) => {
    const source = routeGroupEntrySource(group, '/project');
    const imported = [...source.matchAll(/import\("\/project\/functions\/api\/([a-z-]+)\.ts"\)/g)].map(
      (m) => m[1],
    );
    expect(imported.sort()).toEqual(
      ROUTES.filter((route) => route.group === group)
        .map((route) => route.handler)
        .sort(),
    );
    expect(source).not.toContain('router.ts');
  });

  it('writes the entry once per content, under the project root', () => {
    const first = apiGroupEntry('public');
    const second = apiGroupEntry('public');
    expect(second.entryFile).toBe(first.entryFile);
    expect(first.entryFile).toContain('/node_modules/.cache/pluginops/lambda-entries/');
    expect(readFileSync(first.entryFile, 'utf8')).toBe(routeGroupEntrySource('public'));
  });

  it('dispatches a route key to its handler and answers unknown keys with a 404 problem', async () => {
    const handler = routeGroupHandler({
      [routeKey({ method: 'GET', path: '/v1/health' })]: () => import('#api/health.ts'),
    });
    const ok = await handler(event('GET /v1/health'), {} as Context);
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body ?? '{}')).toMatchObject({ status: 'ok' });
    const missing = await handler(event('GET /v1/nothing'), {} as Context);
    expect(missing.statusCode).toBe(404);
    expect(missing.headers?.['content-type']).toBe('application/problem+json');
  });
});

describe('task entries', () => {
  it('use the task file itself when the task reads no secrets', () => {
    expect(taskEntry('apply', '/project/functions/tasks/apply.ts', false)).toEqual({
      id: 'task-apply',
      entryFile: '/project/functions/tasks/apply.ts',
    });
  });

  it('load the runtime secrets before importing the task module when it reads secrets', () => {
    const source = taskEntrySource('apply', '/project/functions/tasks/apply.ts', '/project');
    const loaded = source.indexOf('await runtimeSecretsReady()');
    expect(source).toContain('from "/project/infra/runtime/load-secrets.ts"');
    expect(loaded).toBeGreaterThan(0);
    expect(source.indexOf('import("/project/functions/tasks/apply.ts")')).toBeGreaterThan(loaded);
    expect(source).not.toMatch(/^import .*functions\/tasks/m);
    const entry = taskEntry('apply', '/project/functions/tasks/apply.ts', true);
    expect(entry.id).toBe('task-apply');
    expect(entry.entryFile).toContain('/node_modules/.cache/pluginops/lambda-entries/');
  });
});

describe('runtime secrets loader', () => {
  it('puts each mapped secret in the environment and leaves UNSET placeholders out', async () => {
    const env: NodeJS.ProcessEnv = {
      [SECRET_ARNS_VARIABLE]: JSON.stringify({
        PLUGINOPS_CURSOR_SECRET: 'arn:cursor',
        PLUGINOPS_GITHUB_TOKEN: 'arn:gh',
      }),
    };
    const values: Record<string, string> = { 'arn:cursor': 'k3y', 'arn:gh': UNSET_SECRET_VALUE };
    await loadRuntimeSecrets(env, async (arn) => values[arn] as string);
    expect(env.PLUGINOPS_CURSOR_SECRET).toBe('k3y');
    expect(env).not.toHaveProperty('PLUGINOPS_GITHUB_TOKEN');
  });

  it('does nothing without a mapping and fails loudly when a secret cannot be read', async () => {
    const env: NodeJS.ProcessEnv = {};
    await loadRuntimeSecrets(env, async () => {
      throw new Error('should not be called');
    });
    expect(env).toEqual({});
    await expect(
      loadRuntimeSecrets({ [SECRET_ARNS_VARIABLE]: '{"X":"arn:x"}' }, async () => {
        throw new Error('denied');
      }),
    ).rejects.toThrow('denied');
  });
});
