/**
 * The whole local runtime in one call: DynamoDB Local and s3rver on the data dir, the handler
 * environment, tables from the CDK definitions, the bootstrap key, the drop pipeline and the HTTP
 * gateway. `npm start` (local/main.ts) and the integration tests both use this.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { configuredSink, type EventSink } from '#adapters/events.ts';
import { setLocalWorkflowEngine } from '#adapters/workflow.ts';
import { ENV } from '#config/names.ts';
import { resetConfigCache } from '#config/runtime-config.ts';
import { IDEMPOTENCY_TABLE, MAIN_TABLE, physicalTableName, TABLES } from '../infra/definitions/tables.ts';
import {
  assertBootstrapKeyShape,
  isModuleMissing,
  registerBootstrapKey,
  resolveBootstrapKey,
} from './bootstrap-key.ts';
import { consoleAssets } from './console-assets.ts';
import { CONSOLE_DIST } from './console-paths.ts';
import { type DifyDaemon, startDifyDaemon } from './dify-daemon.ts';
import { createDropDispatcher, type DropHandler, dropEventsFrom } from './drop-events.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb.ts';
import { LocalStackError } from './errors.ts';
import { type Gateway, startGateway } from './gateway.ts';
import { nudgeOnWrites, type OutboxStream, startOutboxStream } from './outbox-stream.ts';
import { type PluginHost, pluginHostSettings, startPluginHost } from './plugin-host.ts';
import { assertPortFree, parsePort } from './ports.ts';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from './s3.ts';
import { schedulerEnabled, startLocalScheduler } from './scheduler.ts';
import { ensureTables } from './tables.ts';
import {
  createLocalWorkflowEngine,
  type LocalWorkflowEngine,
  type LocalWorkflowEngineOptions,
} from './workflows.ts';

export const DEFAULT_PORT = 8787;
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

export interface LocalStackOptions {
  dataDir: string;
  /** Gateway port (default 8787; 0 = any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default `port + 1` (0 when `port` is 0). */
  dynamodbPort?: number;
  /** Default `port + 2` (0 when `port` is 0). */
  s3Port?: number;
  /**
   * An already running DynamoDB Local to use instead of starting one (`dynamodbPort` is then
   * ignored): the stack creates its stage's tables there and leaves the engine running on stop.
   * Test stacks share one engine this way; each needs a stage of its own (table names).
   */
  dynamodbEndpoint?: string;
  /** Keep the started DynamoDB Local's data in memory only (tests that never restart). */
  dynamodbInMemory?: boolean;
  /** Operator key to use instead of the generated one kept in `<dataDir>/bootstrap-key`. */
  bootstrapKey?: string;
  /** Default `local`. */
  stage?: string;
  /** No request log lines and no info lines (errors still go to stderr). */
  quiet?: boolean;
  /** Replaces the `handler` of `#events/drop.ts` (tests record drop events with it). */
  dropHandler?: DropHandler;
  /** Where the outbox relay delivers events (tests inject failures); default: the events file. */
  eventSink?: EventSink;
  /** Longest pause of the outbox relay after failed deliveries (default 2000 ms; tests shorten it). */
  outboxRetryMaxMs?: number;
  /** Local workflow engine settings (tests: `timeScale`, `timeoutScale`, `faults`, other dirs). */
  workflows?: Omit<LocalWorkflowEngineOptions, 'stage' | 'mainTable' | 'bucket' | 'region' | 'account'>;
}

export interface LocalStack {
  baseUrl: string;
  port: number;
  bootstrapKey: string;
  /** True on the first start of a data dir without a given key: the key is new and not yet shown. */
  bootstrapKeyCreated: boolean;
  /** False while `#adapters/dynamo/api-keys.ts` lacks `registerOperatorKey` (the key then cannot authenticate). */
  bootstrapKeyRegistered: boolean;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  bucket: string;
  stage: string;
  dataDir: string;
  mainTable: string;
  idempotencyTable: string;
  /** Local plugin host the runtime port probes (`PLUGINOPS_RUNTIME_URL`; see local/plugin-host.ts). */
  runtimeUrl: string;
  /** The Dify plugin daemon stand-in, started when `PLUGINOPS_RUNTIME=dify-daemon` has no URL (local/dify-daemon.ts). */
  difyDaemon: DifyDaemon | undefined;
  /** Milliseconds from the call to a serving gateway. */
  startupMs: number;
  /** Milliseconds since the call at which each startup phase finished. */
  startupPhases: Record<string, number>;
  /** Resolves once every drop event received so far has been handled. */
  dropIdle(): Promise<void>;
  /** The engine running `statemachines/*.asl.json` (describe, wait, abort, inject faults). */
  workflows: LocalWorkflowEngine;
  /** The outbox relay over the main table's stream (`drained()` waits for delivery). */
  outbox: OutboxStream;
  stop(): Promise<void>;
}

/** Environment variables the stack sets for the handlers (restored by `stop()`). */
const MANAGED_ENV = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_S3',
  ENV.s3ForcePathStyle,
  ENV.stage,
  ENV.mainTable,
  ENV.idempotencyTable,
  ENV.bucket,
  ENV.localInfo,
  ENV.runtimeUrl,
  ENV.eventsFile,
  ENV.cursorSecret,
  ENV.difyDaemonUrl,
  ENV.difyDaemonKey,
] as const;

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const started = performance.now();
  const dataDir = resolve(options.dataDir);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_PORT;
  const dynamodbPort = options.dynamodbPort ?? (port === 0 ? 0 : port + 1);
  const s3Port = options.s3Port ?? (port === 0 ? 0 : port + 2);
  const stage = options.stage ?? 'local';
  const bucket = `pluginops-${stage}-packages`;
  const mainTable = physicalTableName(stage, MAIN_TABLE);
  const idempotencyTable = physicalTableName(stage, IDEMPOTENCY_TABLE);
  const log = createLog(options.quiet === true);
  const phases: Record<string, number> = {};
  const mark = (phase: string) => {
    phases[phase] = Math.round(performance.now() - started);
  };

  // Fail fast, before spawning java, on the mistakes a user can fix.
  if (options.bootstrapKey !== undefined)
    assertBootstrapKeyShape(options.bootstrapKey, 'PLUGINOPS_BOOTSTRAP_KEY');
  await mkdir(dataDir, { recursive: true });
  await assertPortFree(port, host, 'API gateway');
  if (s3Port !== 0 && (s3Port === port || s3Port === dynamodbPort)) {
    throw new LocalStackError(
      `the API, DynamoDB and S3 ports must differ (got ${port}, ${dynamodbPort}, ${s3Port})`,
    );
  }

  const cleanups: Array<() => Promise<void>> = [];
  const savedEnv = Object.fromEntries(MANAGED_ENV.map((name) => [name, process.env[name]]));
  let dropHandlerModule: Promise<DropHandler | undefined> | undefined;
  const dispatcher = createDropDispatcher({
    loadHandler: () => {
      if (options.dropHandler !== undefined) return Promise.resolve(options.dropHandler);
      // Only a loaded handler is cached, so a drop.ts added while running is picked up.
      dropHandlerModule ??= loadDropHandler().then(
        (handler) => {
          if (handler === undefined) dropHandlerModule = undefined;
          return handler;
        },
        (error: unknown) => {
          dropHandlerModule = undefined;
          throw error;
        },
      );
      return dropHandlerModule;
    },
    log: (level, message, fields) => log[level](message, fields),
  });
  cleanups.push(() => dispatcher.close());

  try {
    // allSettled: when one engine fails, the other still registers its cleanup before we unwind.
    const [dynamodb, s3] = await settleAll([
      (options.dynamodbEndpoint === undefined
        ? startDynamoDbLocal({
            directory: join(dataDir, 'dynamodb'),
            port: dynamodbPort,
            inMemory: options.dynamodbInMemory === true,
          }).then((engine) => {
            cleanups.push(() => engine.stop());
            return engine;
          })
        : Promise.resolve(sharedDynamoDb(options.dynamodbEndpoint))
      ).then((engine) => {
        mark('dynamodb');
        return engine;
      }),
      startS3Server({
        directory: join(dataDir, 's3'),
        host,
        port: s3Port,
        bucket,
        dataDir,
        onEvent: (notification) => {
          for (const event of dropEventsFrom(notification, bucket, {
            account: LOCAL_ACCOUNT,
            region: LOCAL_REGION,
          })) {
            dispatcher.enqueue(event);
          }
        },
      }).then((engine) => {
        cleanups.push(() => withTimeout(engine.stop(), 5_000));
        mark('s3');
        return engine;
      }),
    ]);
    const engines = { dynamodb, s3 };
    const tables = await ensureLocalTables(engines.dynamodb, stage);
    if (tables.created.length > 0) log.info('created tables', { tables: tables.created });
    mark('tables');

    // --- Plugin host (runtime port): needs S3 up; its URL must be in the env before handlers load.
    const pluginHost: PluginHost = await startPluginHost({
      ...pluginHostSettings(),
      s3Endpoint: engines.s3.endpoint,
      bucket,
      log: (message, fields) => log.info(message, fields),
    });
    cleanups.push(() => pluginHost.stop());
    mark('plugin-host');
    // --- end plugin host
    const difyDaemon = await startDifyDaemonStandIn(dataDir, log);
    if (difyDaemon !== undefined) cleanups.push(() => difyDaemon.stop());

    applyEnvironment({
      dataDir,
      stage,
      bucket,
      mainTable,
      idempotencyTable,
      engines,
      runtimeUrl: pluginHost.url,
    });

    // --- Outbox relay: the table's stream → the events file (EventBridge on AWS).
    const outboxClient = new DynamoDBClient({
      endpoint: engines.dynamodb.endpoint,
      region: LOCAL_REGION,
      credentials: S3RVER_CREDENTIALS,
    });
    const outbox = await startOutboxStream({
      dynamodb: outboxClient,
      endpoint: engines.dynamodb.endpoint,
      region: LOCAL_REGION,
      table: mainTable,
      checkpointFile: join(dataDir, 'outbox-checkpoint.json'),
      ...(options.outboxRetryMaxMs === undefined ? {} : { retryMaxMs: options.outboxRetryMaxMs }),
      sink: options.eventSink ?? configuredSink(),
      log: (level, message, fields) => log[level](message, fields),
    });
    cleanups.push(async () => {
      await outbox.stop();
      outboxClient.destroy();
    });
    // The handlers' writes wake the relay; an idle stack polls its stream once a second.
    const { dynamoClient } = await import('#adapters/dynamo/client.ts');
    const stopNudging = nudgeOnWrites(dynamoClient(), outbox);
    cleanups.push(async () => stopNudging());
    mark('outbox');
    // --- end outbox

    const key = await resolveBootstrapKey(dataDir, options.bootstrapKey);
    const registered = await registerBootstrapKey(key.key);
    if (!registered) {
      log.warn('bootstrap key NOT registered: #adapters/dynamo/api-keys.ts has no registerOperatorKey yet');
    }

    mark('bootstrap-key');

    // --- Workflows: the ASL files on the local engine; registered before the gateway serves.
    const workflows = createLocalWorkflowEngine({
      ...options.workflows,
      stage,
      mainTable,
      bucket,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      log: (level, message, fields) => log[level](message, fields),
    });
    setLocalWorkflowEngine(workflows);
    cleanups.push(async () => {
      setLocalWorkflowEngine(undefined);
      await workflows.stop(5_000);
    });
    mark('workflows');
    // --- end workflows

    // --- Scheduler: the 15-minute sweep (EventBridge rule on AWS); off with PLUGINOPS_SCHEDULER=off.
    if (schedulerEnabled()) {
      const scheduler = startLocalScheduler({
        log: (level, message, fields) => log[level](message, fields),
        recover: async () => {
          const { realRecoveryPorts } = await import('#services/deploy-ports.ts');
          const { recoverDeployments } = await import('#services/deploy-recovery.ts');
          return recoverDeployments(realRecoveryPorts(), new Date());
        },
      });
      cleanups.push(() => scheduler.stop());
      log.info('auto-upgrade scheduler on', { next_sweep: scheduler.nextRun()?.toISOString() ?? null });
    }
    // --- end scheduler

    const { dispatchApiEvent } = await import('#api/router.ts');
    const { ROUTES } = await import('#api/routes.ts');
    const gateway: Gateway = await startGateway({
      routes: ROUTES,
      dispatch: dispatchApiEvent,
      host,
      port,
      // The web console, when built (npm start / npm test build it first: local/console-build.ts).
      assets: consoleAssets({ dir: CONSOLE_DIST, uploadOrigin: engines.s3.endpoint }),
      logger: {
        // Quiet (tests, benches): no access-log line is built at all.
        ...(options.quiet === true
          ? {}
          : {
              request: (line: Record<string, unknown>) => {
                process.stdout.write(`${JSON.stringify({ level: 'INFO', msg: 'request', ...line })}\n`);
              },
            }),
        error: (message, error) => log.error(message, { error: errorText(error) }),
      },
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE'
        ? new LocalStackError(`port ${port} (API gateway) is already in use; set PLUGINOPS_PORT`, {
            cause: error,
          })
        : error;
    });
    cleanups.push(() => gateway.close());
    mark('gateway');

    let stopping: Promise<void> | undefined;
    return {
      baseUrl: gateway.url,
      port: gateway.port,
      bootstrapKey: key.key,
      bootstrapKeyCreated: key.created,
      bootstrapKeyRegistered: registered,
      s3Endpoint: engines.s3.endpoint,
      dynamodbEndpoint: engines.dynamodb.endpoint,
      bucket,
      stage,
      dataDir,
      mainTable,
      idempotencyTable,
      runtimeUrl: pluginHost.url,
      difyDaemon,
      startupMs: Math.round(performance.now() - started),
      startupPhases: phases,
      dropIdle: () => dispatcher.idle(),
      workflows,
      outbox,
      stop() {
        stopping ??= runCleanups(cleanups).finally(() => restoreEnvironment(savedEnv));
        return stopping;
      },
    };
  } catch (error) {
    await runCleanups(cleanups);
    restoreEnvironment(savedEnv);
    throw error;
  }
}

/** A DynamoDB Local owned by someone else: used as is, never stopped by this stack. */
function sharedDynamoDb(endpoint: string): DynamoDbLocal {
  const url = new URL(endpoint);
  return { endpoint: url.origin, port: Number(url.port), pid: undefined, stop: async () => {} };
}

async function ensureLocalTables(dynamodb: DynamoDbLocal, stage: string) {
  const client = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: LOCAL_REGION,
    credentials: S3RVER_CREDENTIALS,
  });
  try {
    return await ensureTables(client, stage, TABLES);
  } finally {
    client.destroy();
  }
}

/** What the handlers read; set before any handler module is imported, then the config cache is reset. */
function applyEnvironment(settings: {
  dataDir: string;
  stage: string;
  bucket: string;
  mainTable: string;
  idempotencyTable: string;
  engines: { dynamodb: DynamoDbLocal; s3: S3Server };
  runtimeUrl: string;
}): void {
  const env = process.env;
  env.AWS_REGION = LOCAL_REGION;
  env.AWS_DEFAULT_REGION = LOCAL_REGION;
  env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  // A developer's real session or profile must not leak into signing for the local engines.
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_PROFILE;
  env.AWS_ENDPOINT_URL_DYNAMODB = settings.engines.dynamodb.endpoint;
  env.AWS_ENDPOINT_URL_S3 = settings.engines.s3.endpoint;
  env[ENV.s3ForcePathStyle] = 'true';
  env[ENV.stage] = settings.stage;
  env[ENV.mainTable] = settings.mainTable;
  env[ENV.idempotencyTable] = settings.idempotencyTable;
  env[ENV.bucket] = settings.bucket;
  env[ENV.runtimeUrl] = settings.runtimeUrl;
  // The local "event bus": one JSON line per event (a caller may point it elsewhere).
  env[ENV.eventsFile] ??= join(settings.dataDir, 'events.jsonl');
  // Pagination cursors stay valid across restarts of the same data dir.
  env[ENV.cursorSecret] ??= localSecret(join(settings.dataDir, 'cursor.key'));
  env[ENV.localInfo] = JSON.stringify({
    s3_endpoint: settings.engines.s3.endpoint,
    bucket: settings.bucket,
    dynamodb_endpoint: settings.engines.dynamodb.endpoint,
    data_dir: settings.dataDir,
    runtime_url: settings.runtimeUrl,
    events_file: env[ENV.eventsFile],
  });
  resetConfigCache();
}

/**
 * `PLUGINOPS_RUNTIME=dify-daemon` without `PLUGINOPS_DIFY_DAEMON_URL`: start the daemon stand-in
 * (on `PLUGINOPS_DIFY_DAEMON_PORT`, default any free port) with the given key or one kept in the
 * data dir, and point the runtime at it, so the whole daemon path can be tried without Dify.
 */
async function startDifyDaemonStandIn(
  dataDir: string,
  log: { info(message: string, fields?: Record<string, unknown>): void },
): Promise<DifyDaemon | undefined> {
  const env = process.env;
  if (env[ENV.runtime] !== 'dify-daemon' || env[ENV.difyDaemonUrl]) return undefined;
  const apiKey = env[ENV.difyDaemonKey] || localSecret(join(dataDir, 'dify-daemon.key'));
  const daemon = await startDifyDaemon({
    apiKey,
    port: parsePort(env[ENV.difyDaemonPort], ENV.difyDaemonPort) ?? 0,
  });
  env[ENV.difyDaemonUrl] = daemon.url;
  env[ENV.difyDaemonKey] = apiKey;
  log.info('Dify plugin daemon stand-in', { url: daemon.url });
  return daemon;
}

/** A 32-byte secret kept in the data dir (created once, mode 0600). */
function localSecret(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(file, secret, { mode: 0o600 });
    return secret;
  }
}

function restoreEnvironment(saved: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfigCache();
}

/** Stops in reverse start order; every step runs even if an earlier one fails. */
async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'local stack did not stop cleanly');
}

async function loadDropHandler(): Promise<DropHandler | undefined> {
  // Variable specifier: `#events/drop.ts` may not exist yet, and the runtime must start without it.
  const specifier = '#events/drop.ts';
  try {
    const module = (await import(specifier)) as { handler?: DropHandler };
    return typeof module.handler === 'function' ? module.handler : undefined;
  } catch (error) {
    if (isModuleMissing(error, 'events/drop')) return undefined;
    throw error;
  }
}

async function settleAll<A, B>(promises: [Promise<A>, Promise<B>]): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled(promises);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return Promise.race([promise, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

type LogFields = Record<string, unknown> | undefined;
interface Log {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** One JSON line per event, like the Lambda functions log on AWS. */
function createLog(quiet: boolean): Log {
  // Upper-case levels, as the Powertools logger of the handlers writes them (one casing per stream).
  const write = (stream: NodeJS.WriteStream, level: string, message: string, fields: LogFields) =>
    stream.write(`${JSON.stringify({ level: level.toUpperCase(), msg: message, ...fields })}\n`);
  return {
    info: (message, fields) => {
      if (!quiet) write(process.stdout, 'info', message, fields);
    },
    warn: (message, fields) => {
      if (!quiet) write(process.stderr, 'warn', message, fields);
    },
    error: (message, fields) => write(process.stderr, 'error', message, fields),
  };
}
