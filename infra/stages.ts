/**
 * Stage configuration: one plain object per stage (dev, staging, prod), so every difference
 * between stages is visible in one place and the constructs stay free of `if (prod)` branches.
 * Account and region are optional: without them the stacks are environment-agnostic and
 * `cdk synth` works offline with no AWS credentials.
 */

export type StageName = 'dev' | 'staging' | 'prod';

export const STAGE_NAMES: readonly StageName[] = ['dev', 'staging', 'prod'];

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface CanaryDefaults {
  /** Share of due tenants upgraded in the first wave of a sweep (percent). */
  firstWavePercent: number;
  /** Failed deploys (percent of a wave) that halt the rollout of a version. */
  haltFailurePercent: number;
}

export interface AlarmThresholds {
  /** Failed, timed-out or aborted deploy executions per 5 minutes. */
  failedDeploys: number;
  /** Failed, timed-out or aborted sweep executions per 15 minutes. */
  sweepErrors: number;
  /** Messages waiting in the drop function's dead-letter queue. */
  dropDlqDepth: number;
  /** Errors of any one Lambda function per 5 minutes. */
  lambdaErrors: number;
}

export interface StageConfig {
  name: StageName;
  /** Undefined means environment-agnostic (resolved at deploy time). */
  account: string | undefined;
  region: string | undefined;
  /** Every physical name starts with this, so no two stages share a name. */
  resourcePrefix: string;
  /** Stateful resources (tables, bucket, key, secrets) survive `cdk destroy` and deletion. */
  retainData: boolean;
  logRetentionDays: 7 | 30 | 90 | 365;
  logLevel: LogLevel;
  /** Default of the tenant policy's "deploys need approval". */
  approvalRequired: boolean;
  canary: CanaryDefaults;
  alarms: AlarmThresholds;
  apiThrottle: { rateLimit: number; burstLimit: number };
  platformVersion: string;
  githubApiUrl: string;
  marketplaceUrl: string;
  /** Email subscribed to the alert topic; none when unset. */
  alertEmail: string | undefined;
  /**
   * Base URL of the stage's plugin host, which the deploy workflow probes
   * (`PLUGINOPS_RUNTIME_URL`; contract in `functions/adapters/runtime-host.ts`). Context
   * `pluginops:<stage>:runtimeUrl`; defaults to {@link placeholderRuntimeUrl}.
   */
  runtimeUrl: string;
  /**
   * Which runtime deployments drive (`PLUGINOPS_RUNTIME`): the plugin host above, or a Dify
   * plugin daemon at `difyDaemonUrl` (context `pluginops:<stage>:runtime` = `dify-daemon` and
   * `pluginops:<stage>:difyDaemonUrl`; its key is the stage's `dify-daemon-key` secret).
   */
  runtime: 'plugin-host' | 'dify-daemon';
  difyDaemonUrl: string | undefined;
}

type StageDefaults = Omit<
  StageConfig,
  'account' | 'region' | 'alertEmail' | 'runtimeUrl' | 'runtime' | 'difyDaemonUrl'
>;

function runtimeOf(name: StageName, read: ContextReader): Pick<StageConfig, 'runtime' | 'difyDaemonUrl'> {
  const runtime = contextString(read, `pluginops:${name}:runtime`) ?? 'plugin-host';
  if (runtime !== 'plugin-host' && runtime !== 'dify-daemon') {
    throw new Error(
      `Context pluginops:${name}:runtime must be plugin-host or dify-daemon, got "${runtime}".`,
    );
  }
  const key = `pluginops:${name}:difyDaemonUrl`;
  const url = contextString(read, key);
  if (runtime === 'dify-daemon' && url === undefined) {
    throw new Error(`Context ${key} is required when pluginops:${name}:runtime is dify-daemon.`);
  }
  if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) {
    throw new Error(`Context ${key} must be an http(s) URL, got "${url}".`);
  }
  return { runtime, difyDaemonUrl: url?.replace(/\/+$/, '') };
}

/**
 * Runtime URL of a stage whose plugin host is not configured yet: under `.invalid` (RFC 2606),
 * which never resolves, so every probe fails ("unreachable … ENOTFOUND") and deployments roll
 * back instead of reporting a change no host confirmed.
 */
export function placeholderRuntimeUrl(name: StageName): string {
  return `https://plugin-host.pluginops-${name}.invalid`;
}

function runtimeUrlOf(name: StageName, read: ContextReader): string {
  const key = `pluginops:${name}:runtimeUrl`;
  const configured = contextString(read, key);
  if (configured === undefined) return placeholderRuntimeUrl(name);
  let url: URL;
  try {
    url = new URL(configured);
  } catch {
    throw new Error(`Context ${key} must be an http(s) URL, got "${configured}".`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`Context ${key} must be an http(s) URL, got "${configured}".`);
  }
  return configured.replace(/\/+$/, '');
}

const COMMON = {
  platformVersion: '1.9.0',
  githubApiUrl: 'https://api.github.com',
  marketplaceUrl: 'https://marketplace.dify.ai',
} as const;

export const STAGE_DEFAULTS: Readonly<Record<StageName, StageDefaults>> = {
  dev: {
    ...COMMON,
    name: 'dev',
    resourcePrefix: 'pluginops-dev',
    retainData: false,
    logRetentionDays: 7,
    logLevel: 'DEBUG',
    approvalRequired: false,
    canary: { firstWavePercent: 100, haltFailurePercent: 50 },
    alarms: { failedDeploys: 5, sweepErrors: 3, dropDlqDepth: 10, lambdaErrors: 20 },
    apiThrottle: { rateLimit: 20, burstLimit: 40 },
  },
  staging: {
    ...COMMON,
    name: 'staging',
    resourcePrefix: 'pluginops-staging',
    retainData: false,
    logRetentionDays: 30,
    logLevel: 'INFO',
    approvalRequired: false,
    canary: { firstWavePercent: 20, haltFailurePercent: 20 },
    alarms: { failedDeploys: 3, sweepErrors: 1, dropDlqDepth: 1, lambdaErrors: 10 },
    apiThrottle: { rateLimit: 50, burstLimit: 100 },
  },
  prod: {
    ...COMMON,
    name: 'prod',
    resourcePrefix: 'pluginops-prod',
    retainData: true,
    logRetentionDays: 365,
    logLevel: 'INFO',
    approvalRequired: true,
    canary: { firstWavePercent: 5, haltFailurePercent: 10 },
    alarms: { failedDeploys: 1, sweepErrors: 1, dropDlqDepth: 1, lambdaErrors: 5 },
    apiThrottle: { rateLimit: 200, burstLimit: 400 },
  },
};

/** Reads a CDK context value (`-c key=value` or `cdk.json`); a function so this module needs no CDK. */
export type ContextReader = (key: string) => unknown;

function contextString(read: ContextReader, key: string): string | undefined {
  const value = read(key);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The full config of one stage. Account/region come from context (`pluginops:<stage>:account`,
 * `pluginops:<stage>:region`, then `pluginops:account`, `pluginops:region`), then from
 * `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION`; when none is set the stack is environment-agnostic.
 */
export function resolveStageConfig(
  name: StageName,
  read: ContextReader = () => undefined,
  env: NodeJS.ProcessEnv = process.env,
): StageConfig {
  const pick = (key: string, envKey: string): string | undefined =>
    contextString(read, `pluginops:${name}:${key}`) ??
    contextString(read, `pluginops:${key}`) ??
    (env[envKey] || undefined);
  const approval = read(`pluginops:${name}:approvalRequired`);
  const defaults = STAGE_DEFAULTS[name];
  return {
    ...defaults,
    account: pick('account', 'CDK_DEFAULT_ACCOUNT'),
    region: pick('region', 'CDK_DEFAULT_REGION'),
    alertEmail: contextString(read, `pluginops:${name}:alertEmail`),
    runtimeUrl: runtimeUrlOf(name, read),
    ...runtimeOf(name, read),
    approvalRequired:
      approval === undefined ? defaults.approvalRequired : approval === true || approval === 'true',
  };
}

export function stackName(stage: StageName): string {
  return `pluginops-${stage}`;
}
