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
}

export function privateStack(options: Partial<Omit<LocalStackOptions, 'dataDir'>> = {}): PrivateStack {
  let running: LocalStack | undefined;
  let dataDir: string | undefined;
  const engine = sharedEngineOptions();
  const info = {
    bootstrapKey: options.bootstrapKey ?? stackInfo().bootstrapKey,
    dynamodbEndpoint: engine.dynamodbEndpoint,
    get stack(): LocalStack {
      if (running === undefined)
        throw new Error('the private stack is not started yet (use it inside tests)');
      return running;
    },
  } as PrivateStack;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pluginops-private-'));
    running = await startLocalStack({
      port: 0,
      s3Port: 0,
      quiet: true,
      workflows: { timeScale: 0.01 },
      ...engine,
      ...options,
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
    } satisfies Omit<LocalStackInfo, 'bootstrapKey'>);
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });
  return info;
}
