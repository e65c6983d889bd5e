/**
 * Vitest global setup of the `integration` project: one local stack (DynamoDB Local, s3rver,
 * gateway) per run, on random ports and a temp data dir, shared by every integration test file.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '#local/dynamodb.ts';
import { LOCAL_REGION, startLocalStack } from '#local/stack.ts';
import { type PrivateStages, seedPrivateStages } from './private-stages.ts';

/** What integration tests get through `inject('localStack')` (see test/support/local-stack.ts). */
export interface LocalStackInfo {
  baseUrl: string;
  bootstrapKey: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  bucket: string;
  mainTable: string;
  dataDir: string;
  /** The local plugin host (runtime port); see local/plugin-host.ts. */
  runtimeUrl: string;
  /**
   * A second DynamoDB Local (in memory) that private test stacks share (`sharedEngineOptions()`):
   * their deployment-heavy suites then do not queue behind the shared stack's traffic in one JVM.
   */
  privateDynamodbEndpoint: string;
  /** Stages of that engine created before the run, for private stacks (test/support/private-stages.ts). */
  privateStages: PrivateStages;
}

declare module 'vitest' {
  export interface ProvidedContext {
    localStack: LocalStackInfo;
  }
}

/** A fixed operator key, so a failing run can be reproduced by hand against the same data. */
export const TEST_BOOTSTRAP_KEY = `po_${'t'.repeat(43)}`;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // A probe that never answers costs its whole deadline per attempt; 1.5 s (instead of 5 s) is
  // still far above a healthy local probe (a few ms) and keeps timeout scenarios short.
  process.env.PLUGINOPS_RUNTIME_PROBE_TIMEOUT_MS ??= '1500';
  // On tmpfs where there is one (s3rver writes every package to a file), and DynamoDB Local in
  // memory: the run never restarts this stack, so nothing has to reach a disk.
  const dataDir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'pluginops-it-'));
  const [stack, privateEngine] = await Promise.all([
    startLocalStack({
      dataDir,
      port: 0,
      dynamodbPort: 0,
      s3Port: 0,
      dynamodbInMemory: true,
      bootstrapKey: TEST_BOOTSTRAP_KEY,
      quiet: process.env.PLUGINOPS_TEST_LOGS !== '1',
      // Retry backoff (ASL Retry intervals) in hundredths: the retries still happen, in order and
      // with their backoff rate and jitter, but a failed probe's two retries cost ms, not seconds.
      // Task and approval timeouts keep their real length (timeoutScale 1).
      workflows: { timeScale: 0.01 },
    }),
    startPrivateEngine(dataDir),
  ]);
  project.provide('localStack', {
    baseUrl: stack.baseUrl,
    bootstrapKey: stack.bootstrapKey,
    s3Endpoint: stack.s3Endpoint,
    dynamodbEndpoint: stack.dynamodbEndpoint,
    bucket: stack.bucket,
    mainTable: stack.mainTable,
    dataDir: stack.dataDir,
    runtimeUrl: stack.runtimeUrl,
    privateDynamodbEndpoint: privateEngine.endpoint,
    privateStages: privateEngine.stages,
  });
  return async () => {
    await privateEngine.stop();
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}

/** The engine private stacks share, with its stages created and seeded. */
async function startPrivateEngine(dataDir: string) {
  const engine = await startDynamoDbLocal({
    directory: join(dataDir, 'private-dynamodb'),
    port: 0,
    inMemory: true,
  });
  const client = new DynamoDBClient({
    endpoint: engine.endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const stages = await seedPrivateStages(client, join(dataDir, 'private-stages'));
    return Object.assign(engine, { stages });
  } finally {
    client.destroy();
  }
}
