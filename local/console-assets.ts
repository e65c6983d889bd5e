/**
 * Serves the built web console (console/dist) from the local gateway at `/`, same origin as the
 * API, with the security headers CloudFront adds on AWS (infra/constructs/console.ts). Unknown
 * paths outside /v1/ get index.html (the console routes by hash, but a typed URL still lands).
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/**
 * The console's Content-Security-Policy: scripts and styles only from this origin, images only
 * from this origin or inline data (no remote images from plugin READMEs), XHR to the API and to
 * the package store's presigned URLs, no framing.
 */
export function consoleContentSecurityPolicy(uploadOrigin: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${uploadOrigin}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function consoleSecurityHeaders(uploadOrigin: string): Record<string, string> {
  return {
    'content-security-policy': consoleContentSecurityPolicy(uploadOrigin),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    'cross-origin-opener-policy': 'same-origin',
  };
}

export type AssetHandler = (req: IncomingMessage, res: ServerResponse, rawPath: string) => Promise<boolean>;

/**
 * A handler for the console's files. Until the console is built (it may be built after the stack
 * started, e.g. by the e2e tests) every request falls through to the API's 404.
 */
export function consoleAssets(options: { dir: string; uploadOrigin: string }): AssetHandler {
  const headers = consoleSecurityHeaders(options.uploadOrigin);
  return async (req, res, rawPath) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (!existsSync(join(options.dir, 'index.html'))) return false;
    // Anything that looks like the API (`/v1`, `//v1//x`, `/V1/…`) stays the API's to answer.
    if (/^\/+v1(\/|$)/i.test(rawPath)) return false;
    let relative: string;
    try {
      relative = normalize(decodeURIComponent(rawPath)).replace(/^([/\\])+/, '');
    } catch {
      return false;
    }
    if (relative.split(sep).includes('..')) return false;
    let file = join(options.dir, relative === '' ? 'index.html' : relative);
    const found = await stat(file).catch(() => undefined);
    if (found === undefined || !found.isFile() || relative.startsWith('.'))
      file = join(options.dir, 'index.html');
    const body = await readFile(file);
    const immutable = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      ...headers,
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
