/**
 * The local gateway and the Dify marketplace routes: HEAD answers carry the size GET would send,
 * and marketplace tokens in paths never reach the request log.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROUTES } from '#api/routes.ts';
import { type Gateway, startGateway } from '#local/gateway.ts';

let gateway: Gateway;
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  gateway = await startGateway({
    routes: ROUTES,
    dispatch: async (event) =>
      event.requestContext.http.method === 'HEAD'
        ? { statusCode: 200, headers: { 'content-length': '12345' }, body: '' }
        : { statusCode: 200, body: '"ok"' },
    host: '127.0.0.1',
    port: 0,
    logger: { request: (line) => logged.push(line), error: () => undefined },
  });
});

afterAll(async () => {
  await gateway.close();
});

it('answers HEAD with the content-length the handler states', async () => {
  const token = `pmt_${'s'.repeat(43)}`;
  const response = await fetch(`${gateway.url}/marketplace/${token}/api/v1/plugins/a/b/1.0.0/download`, {
    method: 'HEAD',
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-length')).toBe('12345');
});

it('logs marketplace paths with the token redacted', async () => {
  const token = `pmt_${'t'.repeat(43)}`;
  await fetch(`${gateway.url}/marketplace/${token}/api/v1/dist/plugins/manifest.json`);
  await fetch(`${gateway.url}/marketplace/${token}/no/such/route`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const lines = JSON.stringify(logged);
  expect(lines).not.toContain(token);
  expect(lines).toContain('/marketplace/<redacted>/api/v1/dist/plugins/manifest.json');
});
