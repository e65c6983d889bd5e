/**
 * A test file's own local stack (gateway, S3, plugin host, workflow engine) on the run's shared
 * DynamoDB Local, for suites whose actions reach every tenant of a stage — an auto-upgrade sweep
 * upgrades whichever tenant is due, so on the shared stack it would move other files' tenants.
 * Call at module level: the returned info is filled in by a `beforeAll` and the stack stopped by an
 * `afterAll`; only `bootstrapKey` and `dynamodbEndpoint` are usable before that.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '#local/stack.ts';
import { type LocalStackInfo, sharedEngineOptions, stackInfo } from './local-stack.ts';

export interface PrivateStack extends LocalStackInfo {
  /** The running stack (workflow engine, outbox, …); throws before `beforeAll` ran. */
  readonly stack: LocalStack;
  /** With `eventsFile: true`: where the stack's events are delivered (`<dataDir>/events.jsonl`). */
  eventsFile: string;
}

export interface PrivateStackOptions extends Partial<Omit<LocalStackOptions, 'dataDir'>> {
  /** Deliver events to `<dataDir>/events.jsonl` (`PLUGINOPS_EVENTS_FILE`), read back by the suite. */
  eventsFile?: boolean;
  /** Environment the stack's handlers read, set before it starts and restored after it stops. */
  env?: () => Record<string, string | undefined>;
}

export function privateStack(options: PrivateStackOptions = {}): PrivateStack {
  const { eventsFile, env, ...stackOptions } = options;
  const saved = new Map<string, string | undefined>();
  const assignEnv = (name: string, value: string | undefined) => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  const setEnv = (name: string, value: string | undefined) => {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    assignEnv(name, value);
  };
  let running: LocalStack | undefined;
  let dataDir: string | undefined;
  const engine = sharedEngineOptions();
  const info = {
    bootstrapKey: options.bootstrapKey ?? stackInfo().bootstrapKey,
    eventsFile: '',
    dynamodbEndpoint: engine.dynamodbEndpoint,
    get stack(): LocalStack {
      if (running === undefined)
        throw new Error('the private stack is not started yet (use it inside tests)');
      return running;
    },
  } as PrivateStack;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pluginops-private-'));
    if (eventsFile === true) {
      info.eventsFile = join(dataDir, 'events.jsonl');
      setEnv('PLUGINOPS_EVENTS_FILE', info.eventsFile);
    }
    for (const [name, value] of Object.entries(env?.() ?? {})) setEnv(name, value);
    running = await startLocalStack({
      port: 0,
      s3Port: 0,
      quiet: true,
      workflows: { timeScale: 0.01 },
      ...engine,
      ...stackOptions,
      bootstrapKey: info.bootstrapKey,
      dataDir,
    });
    Object.assign(info, {
      baseUrl: running.baseUrl,
      s3Endpoint: running.s3Endpoint,
      dynamodbEndpoint: running.dynamodbEndpoint,
      bucket: running.bucket,
      mainTable: running.mainTable,
      dataDir: running.dataDir,
      runtimeUrl: running.runtimeUrl,
      privateDynamodbEndpoint: engine.dynamodbEndpoint,
    } satisfies Omit<LocalStackInfo, 'bootstrapKey' | 'privateStages'>);
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    for (const [name, value] of saved) assignEnv(name, value);
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });
  return info;
}
