/**
 * The gateway's console file server: files with security headers, index.html for unknown paths,
 * nothing outside the folder, nothing but GET/HEAD, and a fall-through while the console is unbuilt.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleAssets } from '#local/console-assets.ts';

const root = mkdtempSync(join(tmpdir(), 'pluginops-assets-'));
const dist = join(root, 'dist');
let server: Server;
let base = '';

beforeAll(async () => {
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(root, 'secret.txt'), 'outside');
  const handler = consoleAssets({ dir: dist, uploadOrigin: 'http://127.0.0.1:9999' });
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    handler(req, res, path).then((served) => {
      if (!served) {
        res.statusCode = 404;
        res.end('api');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

describe('consoleAssets', () => {
  it('falls through until the console is built', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('api');
  });

  it('serves files with the CSP and security headers, and index.html for unknown paths', async () => {
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(dist, 'assets', 'app-1.js'), 'console.log(1)');
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:9999");
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    const script = await fetch(`${base}/assets/app-1.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toContain('immutable');
    expect(await script.text()).toBe('console.log(1)');
    const deep = await fetch(`${base}/tenants/acme`);
    expect(await deep.text()).toContain('<title>x</title>');
  });

  it('never serves a file outside its folder, nor dot files, nor other methods', async () => {
    writeFileSync(join(dist, '.inputs-sha256'), 'hash');
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/.inputs-sha256',
    ]) {
      const response = await fetch(`${base}${path}`);
      const text = await response.text();
      expect(text, path).not.toContain('outside');
      expect(text, path).not.toBe('hash');
    }
    for (const path of ['/v1', '//v1//tenants', '/V1/HEALTH']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(404);
  });
});
