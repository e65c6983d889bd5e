/**
 * The runtime port for a Dify plugin daemon (langgenius/dify-plugin-daemon): pluginops installs,
 * upgrades and removes plugins through the daemon's management API exactly as Dify's own API
 * service does (`api/core/plugin/impl/plugin.py`, `base.py`):
 *
 * - every request carries `X-Api-Key: <daemon SERVER_KEY>`; answers are `{code, message, data}`
 *   and `code != 0` is a failure whose `message` is JSON `{message, error_type}`;
 * - POST bodies are JSON with `Content-Type: application/json` exactly (the daemon's `BindRequest`
 *   binds JSON only then); GETs send their fields as query parameters and no content type;
 * - a version change uses `install/upgrade`, never `install/identifiers` (which does nothing when
 *   any version is installed); a package is uploaded (multipart `dify_pkg`) before every install
 *   or upgrade, because the daemon deletes a declaration no installation uses any more, and the
 *   identifier it computes must equal ours;
 * - install and upgrade may answer a task id; the task is polled with bounded backoff until
 *   `success` or `failed` (or the deadline: the daemon's own limit is 15 minutes);
 * - uninstall goes by installation id, read from `GET list`.
 *
 * Every daemon failure (error envelope, HTTP error, timeout, refused connection) is a
 * {@link DifyDaemonError}: a `runtime-failed` problem carrying the daemon's own message, which
 * the deploy workflow records and answers with a rollback.
 */
import { ProblemError } from '#core/errors.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';
import type { ProbeResult } from './runtime-host.ts';

export interface DaemonInstallation {
  installation_id: string;
  plugin_id: string;
  plugin_unique_identifier: string;
  version: string;
  source: string;
}

export interface DaemonTarget {
  unique_identifier: string;
  /** The package bytes, read only when the daemon must be given them. */
  loadBytes: () => Promise<Uint8Array>;
}

/** The narrow per-plugin runtime interface a daemon needs (the built-in host uses desired state). */
export interface PluginRuntime {
  /** What the Dify tenant runs. */
  list(difyTenantId: string): Promise<DaemonInstallation[]>;
  /**
   * Makes the daemon run exactly `target` for the plugin (null: not installed). Idempotent: a
   * retry finds the daemon already there and sends nothing.
   */
  converge(difyTenantId: string, pluginId: string, target: DaemonTarget | null): Promise<void>;
  /** Success only when the daemon lists exactly `uniqueIdentifier` (null: the plugin absent). */
  probe(difyTenantId: string, pluginId: string, uniqueIdentifier: string | null): Promise<ProbeResult>;
}

export class DifyDaemonError extends ProblemError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('runtime-failed', detail, options);
    this.name = 'DifyDaemonError';
  }
}

export interface DifyDaemonOptions {
  url: string;
  apiKey: string;
  /** Deadline of one HTTP request (default 30 s). */
  requestTimeoutMs?: number;
  /** Deadline of one install/upgrade task (default 2 min; the daemon itself gives up after 15). */
  taskTimeoutMs?: number;
  /** First poll delay; doubles up to `maxPollDelayMs`. */
  pollDelayMs?: number;
  maxPollDelayMs?: number;
  /** Source recorded by the daemon for installs; Dify's own values are `package`, `marketplace`, `github`. */
  source?: string;
  fetchImpl?: typeof fetch;
}

interface Envelope {
  code: number;
  message: string;
  data: unknown;
}

interface InstallAnswer {
  all_installed: boolean;
  task_id: string;
}

interface TaskAnswer {
  status: 'pending' | 'running' | 'success' | 'failed';
  plugins?: Array<{ plugin_unique_identifier: string; status: string; message: string }>;
}

const PAGE_SIZE = 256;

export function createDifyDaemonRuntime(options: DifyDaemonOptions): PluginRuntime {
  const fetchImpl = options.fetchImpl ?? fetch;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const taskTimeoutMs = options.taskTimeoutMs ?? 120_000;
  const pollDelayMs = options.pollDelayMs ?? 100;
  const maxPollDelayMs = options.maxPollDelayMs ?? 2_000;
  const source = options.source ?? 'package';

  function managementUrl(difyTenantId: string, route: string): string {
    return `${options.url}/plugin/${encodeURIComponent(difyTenantId)}/management/${route}`;
  }

  /** One request; the envelope's data on `code == 0`, else a DifyDaemonError with the daemon's message. */
  async function call<T>(
    what: string,
    url: string,
    init: { method: 'GET' | 'POST'; body?: FormData; json?: unknown },
  ): Promise<T> {
    const headers: Record<string, string> = { 'X-Api-Key': options.apiKey };
    let body: FormData | string | undefined = init.body;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, {
        method: init.method,
        headers,
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${requestTimeoutMs} ms`
          : transportReason(error);
      throw new DifyDaemonError(`The Dify plugin daemon is unreachable (${what}): ${reason}.`, {
        cause: error,
      });
    }
    let envelope: Envelope | undefined;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      envelope = undefined;
    }
    if (envelope === undefined || typeof envelope.code !== 'number') {
      throw new DifyDaemonError(
        `The Dify plugin daemon answered HTTP ${response.status} to ${what}: ${snippet(text)}`,
      );
    }
    if (envelope.code !== 0) {
      throw new DifyDaemonError(`The Dify plugin daemon refused ${what}: ${daemonMessage(envelope.message)}`);
    }
    return envelope.data as T;
  }

  async function list(difyTenantId: string): Promise<DaemonInstallation[]> {
    const items: DaemonInstallation[] = [];
    for (let page = 1; ; page += 1) {
      const query = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE) });
      const data = await call<{ list: DaemonInstallation[] | null; total: number }>(
        'list',
        `${managementUrl(difyTenantId, 'list')}?${query}`,
        { method: 'GET' },
      );
      const batch = data.list ?? [];
      items.push(...batch);
      if (batch.length < PAGE_SIZE || items.length >= data.total) return items;
    }
  }

  async function upload(difyTenantId: string, target: DaemonTarget): Promise<void> {
    const form = new FormData();
    const bytes = await target.loadBytes();
    const { pluginId, version } = parseUniqueIdentifier(target.unique_identifier);
    form.set('dify_pkg', new Blob([bytes]), `${pluginId.replace('/', '-')}-${version}.difypkg`);
    form.set('verify_signature', 'false');
    const data = await call<{ unique_identifier: string }>(
      `the upload of ${target.unique_identifier}`,
      managementUrl(difyTenantId, 'install/upload/package'),
      { method: 'POST', body: form },
    );
    if (data.unique_identifier !== target.unique_identifier) {
      throw new DifyDaemonError(
        `The Dify plugin daemon computed ${data.unique_identifier} for the package pluginops knows as ${target.unique_identifier}; refusing to install a package whose identity differs.`,
      );
    }
  }

  async function awaitTask(difyTenantId: string, answer: InstallAnswer, what: string): Promise<void> {
    if (answer.all_installed || answer.task_id === '') return;
    const deadline = Date.now() + taskTimeoutMs;
    let delay = pollDelayMs;
    for (;;) {
      const task = await call<TaskAnswer>(
        `the status of task ${answer.task_id}`,
        managementUrl(difyTenantId, `install/tasks/${encodeURIComponent(answer.task_id)}`),
        { method: 'GET' },
      );
      if (task.status === 'success') return;
      if (task.status === 'failed') {
        const reasons = (task.plugins ?? [])
          .filter((plugin) => plugin.status === 'failed')
          .map((plugin) => `${plugin.plugin_unique_identifier}: ${plugin.message}`);
        throw new DifyDaemonError(
          `The Dify plugin daemon failed ${what} (task ${answer.task_id}): ${reasons.join('; ') || 'no reason given'}.`,
        );
      }
      if (Date.now() + delay > deadline) {
        throw new DifyDaemonError(
          `The Dify plugin daemon did not finish ${what} within ${taskTimeoutMs} ms (task ${answer.task_id} is still ${task.status}).`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, maxPollDelayMs);
    }
  }

  return {
    list,

    async converge(difyTenantId, pluginId, target) {
      const current = (await list(difyTenantId)).find((item) => item.plugin_id === pluginId);
      if (target === null) {
        if (current === undefined) return;
        await call('uninstall', managementUrl(difyTenantId, 'uninstall'), {
          method: 'POST',
          json: { plugin_installation_id: current.installation_id },
        });
        return;
      }
      if (current?.plugin_unique_identifier === target.unique_identifier) return;
      await upload(difyTenantId, target);
      if (current === undefined) {
        const what = `the install of ${target.unique_identifier}`;
        const answer = await call<InstallAnswer>(what, managementUrl(difyTenantId, 'install/identifiers'), {
          method: 'POST',
          json: { plugin_unique_identifiers: [target.unique_identifier], source, metas: [{}] },
        });
        await awaitTask(difyTenantId, answer, what);
        return;
      }
      const what = `the upgrade ${current.plugin_unique_identifier} → ${target.unique_identifier}`;
      const answer = await call<InstallAnswer>(what, managementUrl(difyTenantId, 'install/upgrade'), {
        method: 'POST',
        json: {
          original_plugin_unique_identifier: current.plugin_unique_identifier,
          new_plugin_unique_identifier: target.unique_identifier,
          source,
          meta: {},
        },
      });
      await awaitTask(difyTenantId, answer, what);
    },

    async probe(difyTenantId, pluginId, uniqueIdentifier) {
      let matching: DaemonInstallation[];
      try {
        matching = (await list(difyTenantId)).filter((item) => item.plugin_id === pluginId);
      } catch (error) {
        return { ok: false, detail: error instanceof Error ? error.message : String(error) };
      }
      const observed = matching.map((item) => item.plugin_unique_identifier);
      if (uniqueIdentifier === null) {
        return observed.length === 0
          ? { ok: true, detail: `${pluginId} is not installed in Dify, as expected.` }
          : {
              ok: false,
              observed: observed[0],
              detail: `${pluginId} should be uninstalled, but Dify lists ${observed.join(', ')}.`,
            };
      }
      if (observed.length === 1 && observed[0] === uniqueIdentifier) {
        return { ok: true, observed: uniqueIdentifier, detail: `Dify runs ${uniqueIdentifier}.` };
      }
      return {
        ok: false,
        ...(observed[0] === undefined ? {} : { observed: observed[0] }),
        detail:
          observed.length === 0
            ? `Dify does not list ${pluginId} at all, expected ${uniqueIdentifier}.`
            : `Dify lists ${observed.join(', ')}, not the expected ${uniqueIdentifier}.`,
      };
    },
  };
}

/** The daemon's `message` is JSON `{message, error_type}` for its own errors, plain text otherwise. */
export function daemonMessage(message: string): string {
  try {
    const parsed = JSON.parse(message) as { message?: unknown; error_type?: unknown };
    if (typeof parsed.message === 'string') {
      return typeof parsed.error_type === 'string'
        ? `${parsed.message} (${parsed.error_type})`
        : parsed.message;
    }
  } catch {
    // plain text
  }
  return message;
}

function transportReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code !== undefined) return cause.code;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine === '' ? '(empty body)' : oneLine.slice(0, 200);
}
