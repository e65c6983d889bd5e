/**
 * Runtime configuration, read once from the environment (the names are in `names.ts`). Adapters
 * take their endpoints from the standard AWS SDK variables (`AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_S3`), so the code that runs locally is the code that ships.
 */
import { randomBytes } from 'node:crypto';
import { ENV, STATE_MACHINES, type StateMachineName, stateMachineArnVariable } from './names.ts';

export interface RuntimeConfig {
  stage: string;
  region: string;
  /** Logger level (`PLUGINOPS_LOG_LEVEL`, then `POWERTOOLS_LOG_LEVEL`, default `INFO`). */
  logLevel: string;
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
  /**
   * `PLUGINOPS_MARKETPLACE_PUBLIC=true`: this stage's Dify marketplace protocol is readable by
   * anyone at `<api>/marketplace/public/`; otherwise only with a marketplace token in the path.
   */
  marketplacePublic: boolean;
  /**
   * How long a verified API key (and an existing tenant) is trusted without reading DynamoDB, in ms
   * (`PLUGINOPS_AUTH_CACHE_TTL_MS`, default 5000; 0 = no cache). A key revoked through another
   * process is refused at most this long after.
   */
  authCacheTtlMs: number;
  /**
   * Vendor authors nobody may publish under without a signer the operator bound to them
   * (`PLUGINOPS_RESERVED_AUTHORS`, comma-separated, default `langgenius`; docs/security.md).
   */
  reservedAuthors: string[];
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
  /** Stage default of the tenant policy's `approval_required`. */
  approvalRequired: boolean;
  /** How long an approval may wait when the request does not say (default 24 h). */
  approvalTimeoutSeconds: number;
  /**
   * Stage default of the tenant policy's `canary` (`PLUGINOPS_CANARY_FIRST_WAVE_PERCENT` and
   * `PLUGINOPS_CANARY_HALT_FAILURE_PERCENT`); `null` (no canary) unless the first-wave percent is set.
   */
  canary: { percent: number; failure_threshold: number } | null;
  /** EventBridge bus events go to (AWS). */
  eventBus: string | undefined;
  /** JSON-lines file events go to when there is no bus (local stack). */
  eventsFile: string | undefined;
  /** Base64 key that seals tenant plugin config; unset locally (a key file is used instead). */
  configKey: string | undefined;
  /** Raw `PLUGINOPS_LOCAL_INFO` (JSON) the local stack sets once every engine is up; unset on AWS. */
  localInfo: string | undefined;
  /** ARN of each state machine; unset = the in-process local engine. */
  stateMachineArns: Record<StateMachineName, string | undefined>;
}

const processCursorSecret = randomBytes(32).toString('base64url');

const ONE_DAY_SECONDS = 24 * 60 * 60;

function positiveNumber(value: string | undefined): number | undefined {
  const number = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(number) && number > 0 ? number : undefined;
}

function percentSetting(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0 || number > 100) {
    throw new Error(`${name} must be a percentage (0–100), got "${value}"`);
  }
  return number;
}

/**
 * The stage canary. A first wave of 0 % means no canary; the halt threshold defaults to 100 %
 * (never halt) when only the wave is set. A malformed value stops the function at start.
 */
function readCanary(env: NodeJS.ProcessEnv): RuntimeConfig['canary'] {
  const percent = percentSetting(env[ENV.canaryFirstWavePercent], ENV.canaryFirstWavePercent);
  const threshold = percentSetting(env[ENV.canaryHaltFailurePercent], ENV.canaryHaltFailurePercent);
  if (percent === undefined || percent === 0) return null;
  return { percent, failure_threshold: threshold ?? 100 };
}

/** Reads a configuration from `env` (no caching; {@link getConfig} is what the code calls). */
export function readRuntimeConfig(env: NodeJS.ProcessEnv): RuntimeConfig {
  const stage = env[ENV.stage] ?? 'local';
  const approvalTimeout = Number(env[ENV.approvalTimeoutSeconds]);
  return {
    stage,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    logLevel: env[ENV.logLevel] ?? env[ENV.powertoolsLogLevel] ?? 'INFO',
    mainTable: env[ENV.mainTable] ?? `pluginops-${stage}-main`,
    idempotencyTable: env[ENV.idempotencyTable] ?? `pluginops-${stage}-idempotency`,
    bucket: env[ENV.bucket] ?? `pluginops-${stage}-packages`,
    s3ForcePathStyle: env[ENV.s3ForcePathStyle] === 'true',
    githubApiUrl: (env[ENV.githubApiUrl] ?? 'https://api.github.com').replace(/\/+$/, ''),
    githubToken: env[ENV.githubToken] || undefined,
    marketplaceUrl: (env[ENV.marketplaceUrl] ?? 'https://marketplace.dify.ai').replace(/\/+$/, ''),
    marketplaceToken: env[ENV.marketplaceToken] || undefined,
    marketplacePublic: env[ENV.marketplacePublic] === 'true',
    authCacheTtlMs:
      env[ENV.authCacheTtlMs] !== undefined && Number(env[ENV.authCacheTtlMs]) >= 0
        ? Number(env[ENV.authCacheTtlMs])
        : 5_000,
    reservedAuthors: (env[ENV.reservedAuthors] ?? 'langgenius')
      .split(',')
      .map((author) => author.trim())
      .filter((author) => author !== ''),
    defaultPlatformVersion: env[ENV.platformVersion] ?? '1.9.0',
    cursorSecret: env[ENV.cursorSecret] || processCursorSecret,
    runtimeUrl: env[ENV.runtimeUrl]?.replace(/\/+$/, '') || undefined,
    runtimeProbeTimeoutMs: positiveNumber(env[ENV.runtimeProbeTimeoutMs]) ?? 5_000,
    runtime: env[ENV.runtime] === 'dify-daemon' ? 'dify-daemon' : 'plugin-host',
    difyDaemonUrl: env[ENV.difyDaemonUrl]?.replace(/\/+$/, '') || undefined,
    difyDaemonKey: env[ENV.difyDaemonKey] || undefined,
    difyDaemonTaskTimeoutMs: positiveNumber(env[ENV.difyDaemonTaskTimeoutMs]) ?? 120_000,
    approvalRequired: env[ENV.approvalRequired] === 'true',
    approvalTimeoutSeconds:
      Number.isInteger(approvalTimeout) && approvalTimeout > 0 ? approvalTimeout : ONE_DAY_SECONDS,
    canary: readCanary(env),
    eventBus: env[ENV.eventBus] || undefined,
    eventsFile: env[ENV.eventsFile] || undefined,
    configKey: env[ENV.configKey] || undefined,
    localInfo: env[ENV.localInfo] || undefined,
    stateMachineArns: Object.fromEntries(
      STATE_MACHINES.map((machine) => [machine, env[stateMachineArnVariable(machine)] || undefined]),
    ) as Record<StateMachineName, string | undefined>,
  };
}

let cached: RuntimeConfig | undefined;

/** The process's configuration, read from `process.env` on first use. */
export function getConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  if (env !== process.env) return readRuntimeConfig(env);
  cached ??= readRuntimeConfig(env);
  return cached;
}

/** Tests and the local runtime call this after changing the environment. */
export function resetConfigCache(): void {
  cached = undefined;
}
