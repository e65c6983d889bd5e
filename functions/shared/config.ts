/**
 * Runtime configuration, read once from the environment. Adapters take their endpoints from the
 * standard AWS SDK variables (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`), so the code
 * that runs locally is the code that ships.
 */
import { randomBytes } from 'node:crypto';

export interface RuntimeConfig {
  stage: string;
  region: string;
  mainTable: string;
  idempotencyTable: string;
  bucket: string;
  /** Path-style S3 addressing (needed by the local S3 server). */
  s3ForcePathStyle: boolean;
  /** Base URL of the GitHub REST API (GitHub Enterprise: `https://host/api/v3`). */
  githubApiUrl: string;
  githubToken: string | undefined;
  /** Base URL of the marketplace (Dify's, or another pluginops stage's `/v1/marketplace`). */
  marketplaceUrl: string;
  marketplaceToken: string | undefined;
  /** Platform (Dify) version used when a tenant policy does not set one. */
  defaultPlatformVersion: string;
  /**
   * HMAC key for pagination cursors. On AWS it comes from Secrets Manager via the environment;
   * when unset a per-process random key is used (cursors then expire with the process).
   */
  cursorSecret: string;
  /** Base URL of the plugin host the runtime port probes (`PLUGINOPS_RUNTIME_URL`); unset = none. */
  runtimeUrl: string | undefined;
  /** Deadline of one probe across its retries, in ms (`PLUGINOPS_RUNTIME_PROBE_TIMEOUT_MS`, default 5000). */
  runtimeProbeTimeoutMs: number;
  /** Which runtime deployments drive (`PLUGINOPS_RUNTIME`): the built-in plugin host (default) or a Dify plugin daemon. */
  runtime: 'plugin-host' | 'dify-daemon';
  /** Base URL of the Dify plugin daemon (`PLUGINOPS_DIFY_DAEMON_URL`), e.g. `http://plugin_daemon:5002`. */
  difyDaemonUrl: string | undefined;
  /** The daemon's `SERVER_KEY` (`PLUGINOPS_DIFY_DAEMON_KEY`; Secrets Manager on AWS). Never logged. */
  difyDaemonKey: string | undefined;
  /** Deadline for one daemon install/upgrade task, in ms (`PLUGINOPS_DIFY_DAEMON_TASK_TIMEOUT_MS`, default 120000). */
  difyDaemonTaskTimeoutMs: number;
}

const processCursorSecret = randomBytes(32).toString('base64url');

let cached: RuntimeConfig | undefined;

export function getConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  if (cached !== undefined && env === process.env) return cached;
  const stage = env.PLUGINOPS_STAGE ?? 'local';
  const config: RuntimeConfig = {
    stage,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    mainTable: env.PLUGINOPS_TABLE ?? `pluginops-${stage}-main`,
    idempotencyTable: env.PLUGINOPS_IDEMPOTENCY_TABLE ?? `pluginops-${stage}-idempotency`,
    bucket: env.PLUGINOPS_BUCKET ?? `pluginops-${stage}-packages`,
    s3ForcePathStyle: env.PLUGINOPS_S3_FORCE_PATH_STYLE === 'true',
    githubApiUrl: (env.PLUGINOPS_GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
    githubToken: env.PLUGINOPS_GITHUB_TOKEN || undefined,
    marketplaceUrl: (env.PLUGINOPS_MARKETPLACE_URL ?? 'https://marketplace.dify.ai').replace(/\/+$/, ''),
    marketplaceToken: env.PLUGINOPS_MARKETPLACE_TOKEN || undefined,
    defaultPlatformVersion: env.PLUGINOPS_PLATFORM_VERSION ?? '1.9.0',
    cursorSecret: env.PLUGINOPS_CURSOR_SECRET || processCursorSecret,
    runtimeUrl: env.PLUGINOPS_RUNTIME_URL ? env.PLUGINOPS_RUNTIME_URL.replace(/\/+$/, '') : undefined,
    runtimeProbeTimeoutMs:
      Number(env.PLUGINOPS_RUNTIME_PROBE_TIMEOUT_MS) > 0
        ? Number(env.PLUGINOPS_RUNTIME_PROBE_TIMEOUT_MS)
        : 5_000,
    runtime: env.PLUGINOPS_RUNTIME === 'dify-daemon' ? 'dify-daemon' : 'plugin-host',
    difyDaemonUrl: env.PLUGINOPS_DIFY_DAEMON_URL
      ? env.PLUGINOPS_DIFY_DAEMON_URL.replace(/\/+$/, '')
      : undefined,
    difyDaemonKey: env.PLUGINOPS_DIFY_DAEMON_KEY || undefined,
    difyDaemonTaskTimeoutMs:
      Number(env.PLUGINOPS_DIFY_DAEMON_TASK_TIMEOUT_MS) > 0
        ? Number(env.PLUGINOPS_DIFY_DAEMON_TASK_TIMEOUT_MS)
        : 120_000,
  };
  if (env === process.env) cached = config;
  return config;
}

/** Tests and the local runtime call this after changing the environment. */
export function resetConfigCache(): void {
  cached = undefined;
}
