/**
 * The runtime port: pluginops decides *what* a tenant runs, a plugin host runs it
 * (docs/design.md#deploy-workflow).
 * One real adapter: the desired state is a JSON document in the package bucket, and the host is
 * asked over HTTP whether it runs exactly what was asked for.
 *
 * ## Desired state (written by pluginops, read by the host)
 * `s3://<package bucket>/runtime/tenants/<tenant>/desired.json`, see {@link DesiredState}. Each
 * plugin names the exact unique identifier and where its bytes are (`package_key`, checked
 * against `sha256`). The document is replaced whole and this adapter does not arbitrate: the last
 * write wins. Writers do run concurrently — leases are per plugin, so deploys of two plugins of one
 * tenant may both write — and the caller keeps the newest document last: it derives `generation`
 * from the installation revisions, never replaces a document of a higher generation, and re-syncs
 * when another deployment committed meanwhile (`syncDesiredState` in
 * `functions/services/deploy-workflow.ts`; docs/design.md#desired-state).
 *
 * ## Probe (the host contract)
 * `GET {runtimeUrl}/v1/tenants/{tenant}/plugins/{author}/{name}` (each segment URI-encoded) →
 * - `200` `{"plugin_id": "author/name", "unique_identifier": "author/name:1.2.3@<checksum>",
 *   "status": "running" | "failed", "generation": <desired-state generation it acted on>,
 *   "error"?: "<why it failed>"}`
 * - `404` when the plugin is not installed on the host (body ignored).
 *
 * A probe for an identifier succeeds only when the host answers `running` with exactly that
 * identifier: a host still running the previous build, or one that never got the package, fails
 * with a detail that says so (Dify's auto-upgrade reports such upgrades as successes). A probe for
 * `null` (after an uninstall) succeeds only on 404. Any other status, a malformed body, a timeout
 * or an unreachable host is a failed probe, never an exception.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { isMissingObject, s3Client, s3Sdk } from '#adapters/s3/blob-store.ts';
import { getConfig, type RuntimeConfig } from '#config/runtime-config.ts';
import { formatIssuePath, ValidationError } from '#core/errors.ts';
import { isUniqueIdentifier, parsePluginId, parseUniqueIdentifier } from '#core/unique-identifier.ts';

export interface DesiredPlugin {
  plugin_id: string;
  unique_identifier: string;
  /** S3 key of the package bytes: `packages/sha256/<hex>.difypkg`. */
  package_key: string;
  /** Hex SHA-256 of the package file; the host refuses bytes that do not match. */
  sha256: string;
}

export interface DesiredState {
  tenant_id: string;
  /** Increases with every write; the host echoes the generation it acted on. */
  generation: number;
  /** ISO 8601. */
  updated_at: string;
  plugins: DesiredPlugin[];
}

export interface ProbeResult {
  ok: boolean;
  /** The unique identifier the host reports, when it reports one. */
  observed?: string;
  /** One sentence for deployment records and logs. */
  detail: string;
}

export interface ProbeOptions {
  /** Deadline across all attempts. Default `config.runtimeProbeTimeoutMs`. */
  timeoutMs?: number;
}

export interface RuntimeHost {
  readDesiredState(tenantId: string): Promise<DesiredState | undefined>;
  /** Writes runtime/tenants/<t>/desired.json in the package bucket (whole document; callers pass the full plugin list). */
  writeDesiredState(state: DesiredState): Promise<void>;
  /**
   * Asks the host whether it runs exactly `uniqueIdentifier` for the plugin (or, with null, that
   * the plugin is NOT running — used after uninstall). Bounded by a timeout, retried with
   * backoff+jitter (3 tries) on transport errors only.
   *
   * @throws ValidationError when `pluginId` is not `author/name` or `uniqueIdentifier` is malformed;
   *   RuntimeHostError when no host URL is configured. Host failures are results, not throws.
   */
  probe(
    tenantId: string,
    pluginId: string,
    uniqueIdentifier: string | null,
    options?: ProbeOptions,
  ): Promise<ProbeResult>;
}

/** Misconfiguration or a corrupt desired-state document: an operator's problem, not a caller's. */
export class RuntimeHostError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeHostError';
  }
}

/** S3 key of a tenant's desired-state document. */
export function desiredStateKey(tenantId: string): string {
  return `runtime/tenants/${tenantId}/desired.json`;
}

const desiredPluginSchema = z.object({
  plugin_id: z.string(),
  unique_identifier: z.string().refine(isUniqueIdentifier, 'must be author/name:version@checksum'),
  package_key: z.string().min(1),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, 'must be 64 lowercase hex characters'),
});

/** Shared with the local host, which must read exactly what the adapter writes. */
export const desiredStateSchema = z
  .object({
    tenant_id: z.string().min(1),
    generation: z.number().int().nonnegative(),
    updated_at: z.string().min(1),
    plugins: z.array(desiredPluginSchema),
  })
  .superRefine((state, ctx) => {
    const seen = new Set<string>();
    for (const [index, plugin] of state.plugins.entries()) {
      if (seen.has(plugin.plugin_id)) {
        ctx.addIssue({ code: 'custom', path: ['plugins', index, 'plugin_id'], message: 'listed twice' });
      }
      seen.add(plugin.plugin_id);
      if (isUniqueIdentifier(plugin.unique_identifier)) {
        if (parseUniqueIdentifier(plugin.unique_identifier).pluginId !== plugin.plugin_id) {
          ctx.addIssue({
            code: 'custom',
            path: ['plugins', index, 'unique_identifier'],
            message: `must belong to ${plugin.plugin_id}`,
          });
        }
      }
    }
  });

const probeBodySchema = z.object({
  plugin_id: z.string(),
  unique_identifier: z.string(),
  status: z.enum(['running', 'failed']),
  generation: z.number().optional(),
  error: z.string().optional(),
});

export const PROBE_ATTEMPTS = 3;
const BACKOFF_BASE_MS = 100;

export interface RuntimeHostOptions {
  /** Plugin host base URL without trailing slash; probes throw RuntimeHostError when unset. */
  runtimeUrl: string | undefined;
  probeTimeoutMs: number;
  /** Where desired-state documents live (the package bucket); a function is called on first use. */
  s3: S3Client | (() => Promise<S3Client>);
  bucket: string;
  /** Tests inject these; production uses the globals. */
  fetchImpl?: typeof fetch;
  random?: () => number;
}

export function createRuntimeHost(options: RuntimeHostOptions): RuntimeHost {
  const fetchImpl = options.fetchImpl ?? fetch;
  const random = options.random ?? Math.random;
  const s3 = async () => {
    const [sdk, client] = await Promise.all([
      s3Sdk(),
      typeof options.s3 === 'function' ? options.s3() : options.s3,
    ]);
    return { sdk, client };
  };

  async function probeOnce(url: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
    const response = await fetchImpl(url, { headers: { accept: 'application/json' }, signal });
    return { status: response.status, text: await response.text() };
  }

  return {
    async readDesiredState(tenantId) {
      const { sdk, client } = await s3();
      let text: string;
      try {
        const result = await client.send(
          new sdk.GetObjectCommand({ Bucket: options.bucket, Key: desiredStateKey(tenantId) }),
        );
        text = (await result.Body?.transformToString()) ?? '';
      } catch (error) {
        if (isMissingObject(error)) return undefined;
        throw error;
      }
      const parsed = desiredStateSchema.safeParse(parseJson(text));
      if (!parsed.success) {
        throw new RuntimeHostError(
          `The desired state of tenant ${tenantId} is corrupt: ${describeIssues(parsed.error)}.`,
        );
      }
      return parsed.data;
    },

    async writeDesiredState(state) {
      const parsed = desiredStateSchema.safeParse(state);
      if (!parsed.success) {
        throw new ValidationError(
          'The desired state is invalid.',
          parsed.error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message })),
        );
      }
      const { sdk, client } = await s3();
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: options.bucket,
          Key: desiredStateKey(state.tenant_id),
          Body: JSON.stringify(parsed.data, null, 2),
          ContentType: 'application/json',
        }),
      );
    },

    async probe(tenantId, pluginId, uniqueIdentifier, probeOptions = {}) {
      const plugin = parsePluginId(pluginId);
      if (uniqueIdentifier !== null && parseUniqueIdentifier(uniqueIdentifier).pluginId !== pluginId) {
        throw new ValidationError(`${uniqueIdentifier} is not a version of ${pluginId}.`);
      }
      if (options.runtimeUrl === undefined) {
        throw new RuntimeHostError('No plugin host is configured (set PLUGINOPS_RUNTIME_URL).');
      }
      const url =
        `${options.runtimeUrl}/v1/tenants/${encodeURIComponent(tenantId)}` +
        `/plugins/${encodeURIComponent(plugin.author)}/${encodeURIComponent(plugin.name)}`;
      const timeoutMs = probeOptions.timeoutMs ?? options.probeTimeoutMs;
      const deadline = Date.now() + timeoutMs;
      const signal = AbortSignal.timeout(timeoutMs);

      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await probeOnce(url, signal);
          return judge(answer, pluginId, uniqueIdentifier);
        } catch (error) {
          if (signal.aborted) {
            return { ok: false, detail: `The plugin host did not answer within ${timeoutMs} ms.` };
          }
          // Full jitter: spreads the retries of many probes that failed together.
          const delay = random() * BACKOFF_BASE_MS * 2 ** (attempt - 1);
          if (attempt >= PROBE_ATTEMPTS || Date.now() + delay >= deadline) {
            return {
              ok: false,
              detail: `The plugin host is unreachable after ${attempt} attempt(s): ${transportReason(error)}.`,
            };
          }
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    },
  };
}

/** Turns one host answer into a result; see the module comment for the rules. */
function judge(
  answer: { status: number; text: string },
  pluginId: string,
  expected: string | null,
): ProbeResult {
  if (answer.status === 404) {
    return expected === null
      ? { ok: true, detail: `${pluginId} is not installed on the plugin host, as expected.` }
      : {
          ok: false,
          detail: `The plugin host does not run ${pluginId} at all (404), expected ${expected}: it never installed the package.`,
        };
  }
  if (answer.status !== 200) {
    return { ok: false, detail: `The plugin host answered HTTP ${answer.status}: ${snippet(answer.text)}` };
  }
  const parsed = probeBodySchema.safeParse(parseJson(answer.text));
  if (!parsed.success) {
    return {
      ok: false,
      detail: `The plugin host answered 200 with a malformed body (${describeIssues(parsed.error)}).`,
    };
  }
  const body = parsed.data;
  const observed = body.unique_identifier;
  if (body.plugin_id !== pluginId) {
    return {
      ok: false,
      observed,
      detail: `The plugin host answered for ${body.plugin_id}, not ${pluginId}.`,
    };
  }
  if (expected === null) {
    return {
      ok: false,
      observed,
      detail: `${pluginId} should be uninstalled, but the plugin host still reports ${observed} (${body.status}).`,
    };
  }
  if (body.status === 'failed') {
    const which = observed === expected ? observed : `${observed} (expected ${expected})`;
    return {
      ok: false,
      observed,
      detail: `The plugin host reports ${which} as failed${body.error ? `: ${body.error}` : '.'}`,
    };
  }
  if (observed !== expected) {
    return {
      ok: false,
      observed,
      detail: `The plugin host runs ${observed}, not the expected ${expected}: it did not switch versions.`,
    };
  }
  return { ok: true, observed, detail: `The plugin host runs ${observed}.` };
}

let cached: { config: RuntimeConfig; host: RuntimeHost } | undefined;

/** Module-scope adapter: S3 for desired state, HTTP to `config.runtimeUrl` for probes. Rebuilt after `resetConfigCache()`. */
export function runtimeHost(): RuntimeHost {
  const config = getConfig();
  if (cached?.config !== config) {
    cached = {
      config,
      host: createRuntimeHost({
        runtimeUrl: config.runtimeUrl,
        probeTimeoutMs: config.runtimeProbeTimeoutMs,
        s3: s3Client,
        bucket: config.bucket,
      }),
    };
  }
  return cached.host;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`)
    .join('; ');
}

/** undici hides the socket error (ECONNREFUSED, ECONNRESET…) in `cause`. */
function transportReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code !== undefined) return cause.code;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine === '' ? '(empty body)' : oneLine.slice(0, 200);
}
