/**
 * A stand-in for Dify's plugin daemon (langgenius/dify-plugin-daemon), for `npm start` with
 * `PLUGINOPS_RUNTIME=dify-daemon` and the integration tests. The real daemon needs PostgreSQL,
 * Redis and a Python plugin runtime; this process keeps its state in memory and speaks only the
 * management API pluginops uses, with the daemon's wire format:
 *
 * - every `/plugin/{tenant_id}/…` request needs `X-Api-Key: <server key>`, else HTTP 401 with the
 *   error envelope (`internal/server/middleware.go` CheckingKey);
 * - answers are `{code, message, data}` (`pkg/entities/response.go`); a failure has a negative
 *   code and `message` is itself JSON `{"message", "error_type", "args"}`
 *   (`internal/types/exception/generic.go`). Service errors come with HTTP 200, binding errors
 *   (`BindRequest`, `controllers/base.go`) with HTTP 400;
 * - `BindRequest` reads a JSON body only when `Content-Type` is exactly `application/json`,
 *   otherwise it binds form/query fields; so a POST without that type, or a GET list whose
 *   `page`/`page_size` are not in the query, fails validation (400) — as pluginops must never do;
 * - routes (`internal/server/http_server.go`): `POST install/upload/package` (multipart field
 *   `dify_pkg`, `verify_signature`), `POST install/identifiers`, `POST install/upgrade`,
 *   `GET install/tasks/{id}`, `POST uninstall`, `GET list?page=&page_size=`;
 * - the rules of `internal/service/install_plugin.go`: `install/identifiers` answers
 *   `all_installed: true` and does nothing when ANY version of the plugin is installed for the
 *   tenant; `metas` must have one entry per identifier; `install/upgrade` needs the original
 *   identifier installed (else a not-found envelope), refuses equal identifiers or different
 *   plugins, and is synchronous when the new identifier is already installed somewhere; a
 *   declaration (the uploaded package) that no installation uses any more is deleted, so using it
 *   again needs a new upload; task statuses are `pending | running | success | failed`
 *   (`internal/types/models/task.go`).
 *
 * Identifiers are computed with pluginops' own package core (the same checksum the daemon's
 * decoder computes). Dify tenant ids are UUIDs (a `uuid` column in the daemon's database).
 *
 * Admin API (plain JSON, no auth, loopback only) to inject faults and read the state:
 * - `GET /admin/state` → `{tenants: {<tenant>: [list item…]}, packages: [uid…], faults: […]}`
 * - `POST /admin/faults` `{mode: "task-fails" | "task-hangs" | "down" | "wrong-identifier",
 *   plugin_id?, unique_identifier?, message?}` → 201; `DELETE /admin/faults` clears them all.
 *   `down` drops every management connection without an answer (what a dead daemon looks like
 *   behind a load balancer); `wrong-identifier` makes uploads report another checksum.
 * - `POST /admin/forget` `{unique_identifier}`: the daemon loses an uploaded package.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { isUniqueIdentifier, parseUniqueIdentifier } from '#core/unique-identifier.ts';

export interface DifyDaemonOptions {
  /** The daemon's `SERVER_KEY`; every management request must send it as `X-Api-Key`. */
  apiKey: string;
  host?: string;
  port?: number;
  /** How long a task stays `running` before it finishes (default 50 ms). */
  taskDelayMs?: number;
}

export interface DifyDaemon {
  url: string;
  port: number;
  /** The tenant's installations, as `GET …/management/list` returns them. */
  list(tenantId: string): DaemonListItem[];
  addFault(fault: DaemonFault): void;
  clearFaults(): void;
  stop(): Promise<void>;
}

export interface DaemonListItem {
  id: string;
  name: string;
  plugin_id: string;
  tenant_id: string;
  plugin_unique_identifier: string;
  endpoints_active: number;
  endpoints_setups: number;
  installation_id: string;
  declaration: unknown;
  runtime_type: string;
  version: string;
  created_at: string;
  updated_at: string;
  source: string;
  checksum: string;
  meta: Record<string, unknown>;
}

export const DAEMON_FAULT_MODES = ['task-fails', 'task-hangs', 'down', 'wrong-identifier'] as const;

const faultSchema = z.strictObject({
  mode: z.enum(DAEMON_FAULT_MODES),
  plugin_id: z.string().min(1).optional(),
  unique_identifier: z.string().min(1).optional(),
  message: z.string().min(1).optional(),
});
export type DaemonFault = z.infer<typeof faultSchema>;

interface Task {
  id: string;
  created_at: string;
  updated_at: string;
  status: 'pending' | 'running' | 'success' | 'failed';
  tenant_id: string;
  total_plugins: number;
  completed_plugins: number;
  plugins: Array<{
    plugin_unique_identifier: string;
    labels: Record<string, string>;
    icon: string;
    icon_dark: string;
    plugin_id: string;
    status: 'pending' | 'running' | 'success' | 'failed';
    message: string;
    source: string;
  }>;
}

interface StoredPackage {
  manifest: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PLUGIN_PACKAGE_SIZE = 50 * 1024 * 1024;

/** The daemon's error envelope (`exception.*Error(...).ToResponse()`). */
function failure(code: number, errorType: string, message: string): Record<string, unknown> {
  return { code, message: JSON.stringify({ message, error_type: errorType, args: null }), data: null };
}
const badRequest = (message: string) => failure(-400, 'PluginDaemonBadRequestError', message);
const notFound = (message: string) => failure(-404, 'PluginDaemonNotFoundError', message);
const internal = (message: string) => failure(-500, 'PluginDaemonInternalServerError', message);
const success = (data: unknown) => ({ code: 0, message: 'success', data });

/** A validation failure of `BindRequest`: HTTP 400 with the bad-request envelope. */
class BindError extends Error {}

const identifiersBody = z.object({
  plugin_unique_identifiers: z.array(z.string().refine(isUniqueIdentifier)).min(1).max(64),
  source: z.string().min(1),
  metas: z.array(z.record(z.string(), z.unknown()).nullable()).optional().nullable(),
});
const upgradeBody = z.object({
  original_plugin_unique_identifier: z.string().refine(isUniqueIdentifier),
  new_plugin_unique_identifier: z.string().refine(isUniqueIdentifier),
  source: z.string().min(1),
  meta: z.record(z.string(), z.unknown()).optional().nullable(),
});
const uninstallBody = z.object({ plugin_installation_id: z.string().min(1) });

export async function startDifyDaemon(options: DifyDaemonOptions): Promise<DifyDaemon> {
  const taskDelayMs = options.taskDelayMs ?? 50;
  const installations = new Map<string, Map<string, DaemonListItem>>();
  const packages = new Map<string, StoredPackage>();
  const tasks = new Map<string, Task>();
  let faults: DaemonFault[] = [];

  const tenantInstallations = (tenantId: string) => {
    let map = installations.get(tenantId);
    if (map === undefined) {
      map = new Map();
      installations.set(tenantId, map);
    }
    return map;
  };
  const faultFor = (mode: DaemonFault['mode'], uid?: string) =>
    faults.findLast(
      (fault) =>
        fault.mode === mode &&
        (fault.unique_identifier === undefined || fault.unique_identifier === uid) &&
        (fault.plugin_id === undefined ||
          (uid !== undefined && parseUniqueIdentifier(uid).pluginId === fault.plugin_id)),
    );
  const referenced = (uid: string) =>
    [...installations.values()].some((map) =>
      [...map.values()].some((item) => item.plugin_unique_identifier === uid),
    );
  /** `curd.UninstallPlugin`/`UpgradePlugin`: a declaration nobody installs is deleted. */
  const dropIfUnused = (uid: string) => {
    if (!referenced(uid)) packages.delete(uid);
  };

  function install(tenantId: string, uid: string, source: string, meta: Record<string, unknown>): void {
    const stored = packages.get(uid);
    const { pluginId, version, checksum } = parseUniqueIdentifier(uid);
    const now = new Date().toISOString();
    const id = randomUUID();
    tenantInstallations(tenantId).set(pluginId, {
      id,
      name: pluginId.split('/')[1] ?? pluginId,
      plugin_id: pluginId,
      tenant_id: tenantId,
      plugin_unique_identifier: uid,
      endpoints_active: 0,
      endpoints_setups: 0,
      installation_id: id,
      declaration: stored?.manifest ?? null,
      runtime_type: 'local',
      version,
      created_at: now,
      updated_at: now,
      source,
      checksum,
      meta,
    });
  }

  function newTask(tenantId: string, uids: string[], source: string): Task {
    const now = new Date().toISOString();
    const task: Task = {
      id: randomUUID(),
      created_at: now,
      updated_at: now,
      status: 'pending',
      tenant_id: tenantId,
      total_plugins: uids.length,
      completed_plugins: 0,
      plugins: uids.map((uid) => ({
        plugin_unique_identifier: uid,
        labels: {},
        icon: '',
        icon_dark: '',
        plugin_id: parseUniqueIdentifier(uid).pluginId,
        status: 'pending',
        message: '',
        source,
      })),
    };
    tasks.set(task.id, task);
    return task;
  }

  /** Runs a task's jobs later, as the daemon's goroutines do; `work` throws to fail a plugin. */
  function runTask(task: Task, work: (uid: string) => void): void {
    task.status = 'running';
    for (const plugin of task.plugins) plugin.status = 'running';
    setTimeout(() => {
      for (const plugin of task.plugins) {
        if (faultFor('task-hangs', plugin.plugin_unique_identifier) !== undefined) return;
      }
      for (const plugin of task.plugins) {
        const failing = faultFor('task-fails', plugin.plugin_unique_identifier);
        try {
          if (failing !== undefined)
            throw new Error(failing.message ?? 'failed to launch plugin: exit status 1');
          work(plugin.plugin_unique_identifier);
          plugin.status = 'success';
          plugin.message = 'Installed';
        } catch (error) {
          plugin.status = 'failed';
          plugin.message = error instanceof Error ? error.message : String(error);
        }
        task.completed_plugins += 1;
      }
      task.status = task.plugins.every((plugin) => plugin.status === 'success') ? 'success' : 'failed';
      task.updated_at = new Date().toISOString();
    }, taskDelayMs).unref();
  }

  async function upload(request: IncomingMessage, tenantId: string): Promise<Record<string, unknown>> {
    const type = request.headers['content-type'] ?? '';
    if (!type.startsWith('multipart/form-data')) {
      return badRequest("request Content-Type isn't multipart/form-data");
    }
    const form = await new Request('http://daemon/upload', {
      method: 'POST',
      headers: { 'content-type': type },
      body: Readable.toWeb(request) as ReadableStream,
      duplex: 'half',
    } as RequestInit).formData();
    const file = form.get('dify_pkg');
    if (!(file instanceof Blob)) return badRequest('http: no such file');
    if (file.size > MAX_PLUGIN_PACKAGE_SIZE) return badRequest('file size exceeds the maximum limit');
    const bytes = new Uint8Array(await file.arrayBuffer());
    let uid: string;
    let manifest: Record<string, unknown>;
    try {
      const inspected = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
      uid = inspected.uniqueIdentifier;
      manifest = inspected.manifest as unknown as Record<string, unknown>;
    } catch (error) {
      return badRequest(
        `${error instanceof Error ? error.message : String(error)}\nfailed to decode package`,
      );
    }
    if (form.get('verify_signature') === 'true') {
      return badRequest(
        'plugin verification has been enabled, and the plugin you want to install has a bad signature',
      );
    }
    packages.set(uid, { manifest });
    const wrong = faultFor('wrong-identifier', uid);
    const reported = wrong === undefined ? uid : `${uid.slice(0, uid.lastIndexOf('@') + 1)}${'0'.repeat(64)}`;
    void tenantId;
    return success({ unique_identifier: reported, manifest, verification: null });
  }

  function installIdentifiers(
    tenantId: string,
    body: z.infer<typeof identifiersBody>,
  ): Record<string, unknown> {
    const metas = body.metas ?? [];
    if (metas.length !== body.plugin_unique_identifiers.length) {
      return badRequest('the number of metas must be equal to the number of plugin unique identifiers');
    }
    const mine = tenantInstallations(tenantId);
    const needs = body.plugin_unique_identifiers.filter(
      (uid) => !mine.has(parseUniqueIdentifier(uid).pluginId),
    );
    if (needs.length === 0) return success({ all_installed: true, task_id: '' });
    for (const uid of body.plugin_unique_identifiers) {
      if (!packages.has(uid)) {
        return internal(`plugin not found\nfailed to get plugin declaration`);
      }
    }
    const task = newTask(tenantId, body.plugin_unique_identifiers, body.source);
    runTask(task, (uid) => {
      const index = body.plugin_unique_identifiers.indexOf(uid);
      if (!mine.has(parseUniqueIdentifier(uid).pluginId))
        install(tenantId, uid, body.source, metas[index] ?? {});
    });
    return success({ all_installed: false, task_id: task.id });
  }

  function upgrade(tenantId: string, body: z.infer<typeof upgradeBody>): Record<string, unknown> {
    const from = body.original_plugin_unique_identifier;
    const to = body.new_plugin_unique_identifier;
    if (from === to) return badRequest('original and new plugin unique identifier are the same');
    if (parseUniqueIdentifier(from).pluginId !== parseUniqueIdentifier(to).pluginId) {
      return badRequest('original and new plugin id are different');
    }
    const mine = tenantInstallations(tenantId);
    const current = mine.get(parseUniqueIdentifier(from).pluginId);
    if (current === undefined || current.plugin_unique_identifier !== from) {
      return notFound('plugin installation not found for this tenant');
    }
    const switchTo = () => {
      const item = mine.get(current.plugin_id);
      if (item === undefined || item.plugin_unique_identifier !== from) {
        throw new Error('plugin installation not found for this tenant');
      }
      const stored = packages.get(to);
      if (stored === undefined) throw new Error(`failed to download plugin package ${to}: not found`);
      const { version, checksum } = parseUniqueIdentifier(to);
      Object.assign(item, {
        plugin_unique_identifier: to,
        version,
        checksum,
        declaration: stored.manifest,
        source: body.source,
        meta: body.meta ?? {},
        updated_at: new Date().toISOString(),
      });
      dropIfUnused(from);
    };
    if (referenced(to)) {
      switchTo();
      return success({ all_installed: true, task_id: '' });
    }
    const task = newTask(tenantId, [to], body.source);
    runTask(task, switchTo);
    return success({ all_installed: false, task_id: task.id });
  }

  function uninstall(tenantId: string, installationId: string): Record<string, unknown> {
    const mine = tenantInstallations(tenantId);
    for (const [pluginId, item] of mine) {
      if (item.id === installationId) {
        mine.delete(pluginId);
        dropIfUnused(item.plugin_unique_identifier);
        break;
      }
    }
    return success(true);
  }

  function list(tenantId: string, query: URLSearchParams): { status: number; body: unknown } {
    const page = Number(query.get('page'));
    const pageSize = Number(query.get('page_size'));
    if (!Number.isInteger(page) || page < 1)
      return { status: 400, body: badRequest(validation('Page', 'required')) };
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 256) {
      return { status: 400, body: badRequest(validation('PageSize', 'required')) };
    }
    const all = [...tenantInstallations(tenantId).values()].sort((a, b) =>
      a.created_at.localeCompare(b.created_at),
    );
    return {
      status: 200,
      body: success({ list: all.slice((page - 1) * pageSize, page * pageSize), total: all.length }),
    };
  }

  async function management(
    request: IncomingMessage,
    tenantId: string,
    route: string,
    query: URLSearchParams,
  ): Promise<{ status: number; body: unknown }> {
    const method = request.method ?? 'GET';
    const json = request.headers['content-type'] === 'application/json';
    // Gin answers 404 with a plain body for routes it does not know.
    const key = `${method} ${route.startsWith('install/tasks/') ? 'install/tasks/:id' : route}`;
    if (key === 'POST install/upload/package') return { status: 200, body: await upload(request, tenantId) };
    if (key === 'GET list') {
      // A GET with a JSON content type is bound from its (empty) body: page/page_size stay unset.
      if (json) return { status: 400, body: badRequest(validation('Page', 'required')) };
      return list(tenantId, query);
    }
    if (key === 'GET install/tasks/:id') {
      const task = tasks.get(route.slice('install/tasks/'.length));
      if (task === undefined || task.tenant_id !== tenantId)
        return { status: 200, body: notFound('task not found') };
      return { status: 200, body: success(task) };
    }
    const schemas = {
      'POST install/identifiers': identifiersBody,
      'POST install/upgrade': upgradeBody,
      'POST uninstall': uninstallBody,
    } as const;
    if (!(key in schemas)) return { status: 404, body: '404 page not found' };
    const text = await readText(request);
    let raw: unknown = {};
    if (json) {
      try {
        raw = JSON.parse(text);
      } catch {
        raw = {};
      }
    }
    const schema = schemas[key as keyof typeof schemas];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        status: 400,
        body: badRequest(validation(String(issue?.path[0] ?? 'request'), issue?.message ?? 'invalid')),
      };
    }
    if (key === 'POST install/identifiers') {
      return {
        status: 200,
        body: installIdentifiers(tenantId, parsed.data as z.infer<typeof identifiersBody>),
      };
    }
    if (key === 'POST install/upgrade') {
      return { status: 200, body: upgrade(tenantId, parsed.data as z.infer<typeof upgradeBody>) };
    }
    return {
      status: 200,
      body: uninstall(tenantId, (parsed.data as z.infer<typeof uninstallBody>).plugin_installation_id),
    };
  }

  async function admin(request: IncomingMessage, path: string): Promise<{ status: number; body: unknown }> {
    if (request.method === 'GET' && path === '/admin/state') {
      return {
        status: 200,
        body: {
          tenants: Object.fromEntries([...installations].map(([tenant, map]) => [tenant, [...map.values()]])),
          packages: [...packages.keys()],
          faults,
        },
      };
    }
    if (path === '/admin/faults' && request.method === 'DELETE') {
      faults = [];
      return { status: 200, body: { faults } };
    }
    if (path === '/admin/faults' && request.method === 'POST') {
      const parsed = faultSchema.safeParse(asDaemonFault(parseJson(await readText(request))));
      if (!parsed.success) return { status: 400, body: { error: parsed.error.message } };
      faults.push(parsed.data);
      return { status: 201, body: { faults } };
    }
    if (path === '/admin/forget' && request.method === 'POST') {
      const body = parseJson(await readText(request)) as { unique_identifier?: unknown };
      packages.delete(String(body?.unique_identifier));
      return { status: 200, body: { packages: [...packages.keys()] } };
    }
    return { status: 404, body: { error: 'not found' } };
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://daemon');
    const handle = async (): Promise<{ status: number; body: unknown } | undefined> => {
      if (url.pathname.startsWith('/admin/')) return admin(request, url.pathname);
      if (url.pathname === '/health/check') return { status: 200, body: { status: 'ok' } };
      const match = /^\/plugin\/([^/]+)\/management\/(.+)$/.exec(url.pathname);
      if (match === null) return { status: 404, body: '404 page not found' };
      if (request.headers['x-api-key'] !== options.apiKey) {
        return { status: 401, body: failure(-401, 'PluginDaemonUnauthorizedError', 'unauthorized') };
      }
      if (faults.some((fault) => fault.mode === 'down')) {
        request.socket.destroy();
        return undefined;
      }
      const tenantId = decodeURIComponent(match[1] ?? '');
      if (!UUID.test(tenantId)) {
        return {
          status: 200,
          body: internal(`ERROR: invalid input syntax for type uuid: "${tenantId}" (SQLSTATE 22P02)`),
        };
      }
      return management(request, tenantId, match[2] ?? '', url.searchParams);
    };
    handle()
      .then((result) => {
        if (result !== undefined) send(response, result.status, result.body);
      })
      .catch((error: unknown) => {
        if (error instanceof BindError) send(response, 400, badRequest(error.message));
        else send(response, 500, internal(error instanceof Error ? error.message : String(error)));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    port: address.port,
    list: (tenantId) => [...tenantInstallations(tenantId).values()],
    addFault: (fault) => {
      faults.push(faultSchema.parse(fault));
    },
    clearFaults: () => {
      faults = [];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The built-in plugin host's fault shape (`{"unique_identifier", "mode": "fail"}`, see
 * plugin-host-faults.ts) is accepted too, so the README walkthrough runs unchanged against the
 * stand-in: `fail` is a failing install task. The host's `tenant_id` selector names a pluginops
 * tenant, which a daemon does not know; it is dropped.
 */
function asDaemonFault(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const { tenant_id: _tenant, ...fault } = value as Record<string, unknown>;
  return fault.mode === 'fail' ? { ...fault, mode: 'task-fails' } : fault;
}

/** The message the daemon's validator gives for a struct field (go-playground/validator). */
function validation(field: string, tag: string): string {
  return `Key: '${field}' Error:Field validation for '${field}' failed on the '${tag}' tag`;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8',
  });
  response.end(text);
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
