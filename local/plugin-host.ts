/**
 * A small local plugin host: the other side of the runtime port (`#adapters/runtime-host.ts`)
 * for `npm start` and the integration/e2e tests. It serves the probe contract documented there,
 * reconciling lazily: every probe re-reads the tenant's desired state from S3 and "runs" the
 * desired plugin when its package object exists with the desired sha256 and is a valid package.
 *
 * Admin API (plain JSON, no auth; loopback only), to make probes fail on purpose:
 * - `GET /admin/faults` → `{"faults": [...]}`
 * - `POST /admin/faults` `{"tenant_id"?, "plugin_id"?, "unique_identifier"?, "mode": "fail" | "timeout" | "stale"}`
 *   → 201 `{"faults": [...]}` (400 on a bad fault); see local/plugin-host-faults.ts
 * - `DELETE /admin/faults` → `{"faults": [...]}` (the remaining ones): removes all faults, or with
 *   `?tenant_id=&plugin_id=&unique_identifier=` only those whose selectors equal every given value
 *   (parallel test files clear just their own)
 * - `GET /v1/health` → `{"status": "ok"}`
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type DesiredState, desiredStateKey, desiredStateSchema } from '#adapters/runtime-host.ts';
import { AUTHOR_PATTERN, PLUGIN_NAME_PATTERN } from '#core/unique-identifier.ts';
import { LocalStackError } from './errors.ts';
import {
  FaultInputError,
  type HostFault,
  matchFault,
  parseFault,
  parseFaultsSetting,
} from './plugin-host-faults.ts';
import { createPackageLoader, isMissing } from './plugin-host-packages.ts';
import { parsePort } from './ports.ts';
import { S3RVER_CREDENTIALS } from './s3.ts';

export interface PluginHostOptions {
  s3Endpoint: string;
  bucket: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Faults active from the start. */
  faults?: HostFault[];
  /** One call per probe and per failure; default: JSON lines on stdout. */
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export interface PluginHost {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** What the probe answers with 200 (the wire format of the runtime port). */
interface PluginReport {
  plugin_id: string;
  unique_identifier: string;
  status: 'running' | 'failed';
  generation: number;
  error?: string;
}

const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const MAX_ADMIN_BODY_BYTES = 16 * 1024;

/** Port and faults from `PLUGINOPS_RUNTIME_PORT` and `PLUGINOPS_HOST_FAULTS`. */
export function pluginHostSettings(env: NodeJS.ProcessEnv = process.env): {
  port: number;
  faults: HostFault[];
} {
  return {
    port: parsePort(env.PLUGINOPS_RUNTIME_PORT, 'PLUGINOPS_RUNTIME_PORT') ?? 0,
    faults: parseFaultsSetting(env.PLUGINOPS_HOST_FAULTS),
  };
}

export async function startPluginHost(options: PluginHostOptions): Promise<PluginHost> {
  const host = options.host ?? '127.0.0.1';
  const log =
    options.log ??
    ((message, fields) =>
      process.stdout.write(`${JSON.stringify({ level: 'INFO', msg: message, ...fields })}\n`));
  const s3 = new S3Client({
    endpoint: options.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  const packages = createPackageLoader(s3, options.bucket);
  const faults: HostFault[] = [...(options.faults ?? [])];
  /** What each tenant × plugin last ran, for the `stale` fault. */
  const running = new Map<string, PluginReport>();

  async function readDesiredState(tenantId: string): Promise<DesiredState | undefined> {
    let text: string;
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: options.bucket, Key: desiredStateKey(tenantId) }),
      );
      text = (await object.Body?.transformToString()) ?? '';
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    return desiredStateSchema.parse(JSON.parse(text));
  }

  async function probe(res: ServerResponse, tenantId: string, pluginId: string): Promise<void> {
    const started = performance.now();
    const desired = await readDesiredState(tenantId);
    const wanted = desired?.plugins.find((plugin) => plugin.plugin_id === pluginId);
    const fault = matchFault(faults, { tenantId, pluginId, uniqueIdentifier: wanted?.unique_identifier });
    const logProbe = (answer: number | 'held', report?: PluginReport) =>
      log('plugin host probe', {
        tenant_id: tenantId,
        plugin_id: pluginId,
        desired: wanted?.unique_identifier ?? null,
        generation: desired?.generation ?? null,
        answer,
        reported: report?.unique_identifier ?? null,
        status: report?.status ?? null,
        error: report?.error,
        fault: fault?.mode,
        ms: Math.round(performance.now() - started),
      });

    if (fault?.mode === 'timeout') {
      logProbe('held');
      return; // never answered; the client gives up, stop() drops the socket
    }
    const runKey = `${tenantId}\n${pluginId}`;
    let report: PluginReport | undefined;
    if (fault?.mode === 'stale') {
      report = running.get(runKey);
    } else if (desired !== undefined && wanted !== undefined) {
      const base = { plugin_id: pluginId, generation: desired.generation };
      const loaded =
        fault?.mode === 'fail'
          ? { ok: false as const, reason: 'injected fault: fail' }
          : await packages.load(wanted);
      if (!loaded.ok) {
        report = {
          ...base,
          unique_identifier: wanted.unique_identifier,
          status: 'failed',
          error: loaded.reason,
        };
      } else if (loaded.pluginId !== pluginId) {
        report = {
          ...base,
          unique_identifier: loaded.uniqueIdentifier,
          status: 'failed',
          error: `package ${wanted.package_key} holds ${loaded.pluginId}, not ${pluginId}`,
        };
      } else {
        report = { ...base, unique_identifier: loaded.uniqueIdentifier, status: 'running' };
      }
      if (report.status === 'running') running.set(runKey, report);
      else running.delete(runKey);
    } else {
      running.delete(runKey);
    }
    if (report === undefined) {
      sendJson(res, 404, { plugin_id: pluginId, status: 'not_installed' });
      logProbe(404);
    } else {
      sendJson(res, 200, report);
      logProbe(200, report);
    }
  }

  async function admin(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    if (req.method === 'GET') return sendJson(res, 200, { faults });
    if (req.method === 'DELETE') {
      const selectors = (['tenant_id', 'plugin_id', 'unique_identifier'] as const).filter((name) =>
        query.has(name),
      );
      const kept = faults.filter((fault) => selectors.some((name) => fault[name] !== query.get(name)));
      faults.splice(0, faults.length, ...(selectors.length === 0 ? [] : kept));
      return sendJson(res, 200, { faults });
    }
    if (req.method === 'POST') {
      let fault: HostFault;
      try {
        fault = parseFault(JSON.parse(await readBody(req)));
      } catch (error) {
        if (error instanceof FaultInputError || error instanceof SyntaxError) {
          return sendJson(res, 400, { error: error.message });
        }
        throw error;
      }
      faults.push(fault);
      log('plugin host fault added', { fault });
      return sendJson(res, 201, { faults });
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return sendJson(res, 405, { error: `${req.method} is not allowed on /admin/faults` });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://host');
    if (pathname === '/admin/faults') return admin(req, res, searchParams);
    if (pathname === '/v1/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    const segments = pathname.split('/').slice(1).map(decodeURIComponent);
    const [v1, tenants, tenantId = '', plugins, author = '', name = ''] = segments;
    if (segments.length === 6 && v1 === 'v1' && tenants === 'tenants' && plugins === 'plugins') {
      if (req.method !== 'GET') {
        res.setHeader('allow', 'GET');
        return sendJson(res, 405, { error: `${req.method} is not allowed` });
      }
      if (!TENANT_PATTERN.test(tenantId) || !AUTHOR_PATTERN.test(author) || !PLUGIN_NAME_PATTERN.test(name)) {
        return sendJson(res, 400, { error: 'malformed tenant id or plugin id' });
      }
      return probe(res, tenantId, `${author}/${name}`);
    }
    // Not the probe's 404: a body without plugin_id, so a misrouted probe is visible in logs.
    return sendJson(res, 404, { error: `no route for ${req.method} ${pathname}` });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const message = error instanceof URIError ? 'malformed path encoding' : (error as Error).message;
      log('plugin host error', {
        path: req.url,
        error: error instanceof Error ? error.stack : String(error),
      });
      if (!res.headersSent) sendJson(res, error instanceof URIError ? 400 : 500, { error: message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new LocalStackError(
              `port ${options.port} (plugin host) is already in use; set PLUGINOPS_RUNTIME_PORT`,
              {
                cause: error,
              },
            )
          : error,
      ),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // includes probes held by a `timeout` fault
      }).finally(() => s3.destroy());
      return stopping;
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY_BYTES) throw new FaultInputError('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
