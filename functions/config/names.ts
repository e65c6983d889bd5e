/**
 * The names the deployed stack, the local stack and the code share: every environment variable a
 * function reads is spelled here once. infra/ sets them on each Lambda function, local/stack.ts
 * sets them on the local process, and `runtime-config.ts` reads them. No CDK and no AWS SDK here,
 * so every side can import it.
 */

export const ENV = {
  stage: 'PLUGINOPS_STAGE',
  logLevel: 'PLUGINOPS_LOG_LEVEL',
  /** Powertools' own variable; the fallback of {@link ENV.logLevel}. */
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  mainTable: 'PLUGINOPS_TABLE',
  idempotencyTable: 'PLUGINOPS_IDEMPOTENCY_TABLE',
  bucket: 'PLUGINOPS_BUCKET',
  s3ForcePathStyle: 'PLUGINOPS_S3_FORCE_PATH_STYLE',
  /** EventBridge bus of the stage (AWS). */
  eventBus: 'PLUGINOPS_EVENT_BUS',
  /** JSON-lines file the local stack writes events to. */
  eventsFile: 'PLUGINOPS_EVENTS_FILE',
  githubApiUrl: 'PLUGINOPS_GITHUB_API_URL',
  githubToken: 'PLUGINOPS_GITHUB_TOKEN',
  marketplaceUrl: 'PLUGINOPS_MARKETPLACE_URL',
  marketplaceToken: 'PLUGINOPS_MARKETPLACE_TOKEN',
  marketplacePublic: 'PLUGINOPS_MARKETPLACE_PUBLIC',
  authCacheTtlMs: 'PLUGINOPS_AUTH_CACHE_TTL_MS',
  reservedAuthors: 'PLUGINOPS_RESERVED_AUTHORS',
  platformVersion: 'PLUGINOPS_PLATFORM_VERSION',
  cursorSecret: 'PLUGINOPS_CURSOR_SECRET',
  /** Key that seals tenant plugin config (32 bytes, base64). */
  configKey: 'PLUGINOPS_CONFIG_KEY',
  runtimeUrl: 'PLUGINOPS_RUNTIME_URL',
  runtimeProbeTimeoutMs: 'PLUGINOPS_RUNTIME_PROBE_TIMEOUT_MS',
  runtime: 'PLUGINOPS_RUNTIME',
  difyDaemonUrl: 'PLUGINOPS_DIFY_DAEMON_URL',
  difyDaemonKey: 'PLUGINOPS_DIFY_DAEMON_KEY',
  difyDaemonTaskTimeoutMs: 'PLUGINOPS_DIFY_DAEMON_TASK_TIMEOUT_MS',
  difyDaemonPort: 'PLUGINOPS_DIFY_DAEMON_PORT',
  /** Stage default of the tenant policy's "deploys need approval" (`true`/`false`). */
  approvalRequired: 'PLUGINOPS_APPROVAL_REQUIRED',
  approvalTimeoutSeconds: 'PLUGINOPS_APPROVAL_TIMEOUT_SECONDS',
  /** Stage default canary of auto-upgrades: share of due tenants in the first wave (percent). */
  canaryFirstWavePercent: 'PLUGINOPS_CANARY_FIRST_WAVE_PERCENT',
  /** Stage default canary of auto-upgrades: failed share of a wave that halts a rollout (percent). */
  canaryHaltFailurePercent: 'PLUGINOPS_CANARY_HALT_FAILURE_PERCENT',
  /** Set by the local stack only: endpoints of the embedded engines and the data dir (JSON). */
  localInfo: 'PLUGINOPS_LOCAL_INFO',
  /** JSON map of env name → Secrets Manager ARN, resolved before any handler loads (AWS). */
  secretArns: 'PLUGINOPS_SECRET_ARNS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** The state machines of a stage. */
export const STATE_MACHINES = ['deploy', 'sweep'] as const;

export type StateMachineName = (typeof STATE_MACHINES)[number];

/** `deploy` → `PLUGINOPS_DEPLOY_STATE_MACHINE_ARN`: where a function finds a state machine's ARN. */
export function stateMachineArnVariable(machine: string): string {
  return `PLUGINOPS_${machine.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_STATE_MACHINE_ARN`;
}
