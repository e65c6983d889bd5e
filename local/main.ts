/**
 * `npm start`: the local runtime as a foreground process. Settings come from the environment
 * (API.md "Running locally"); everything else lives in local/stack.ts.
 */
import { LocalStackError } from './errors.ts';
import { watchAncestors } from './parent-watch.ts';
import { parsePort } from './ports.ts';
import { DEFAULT_PORT, type LocalStack, startLocalStack } from './stack.ts';

/** In-flight requests and drop handlers get this long after Ctrl-C / SIGTERM. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const env = process.env;
  const port = parsePort(env.PLUGINOPS_PORT, 'PLUGINOPS_PORT') ?? DEFAULT_PORT;
  // The local plugin host sits next to the API (8790 by default) so its admin API is easy to find.
  // With the Dify daemon stand-in, the stand-in takes that port instead (its admin API takes the same faults).
  if (port !== 0 && env.PLUGINOPS_RUNTIME === 'dify-daemon' && !env.PLUGINOPS_DIFY_DAEMON_URL) {
    env.PLUGINOPS_DIFY_DAEMON_PORT ??= String(port + 3);
    env.PLUGINOPS_RUNTIME_PORT ??= '0';
  }
  if (port !== 0) env.PLUGINOPS_RUNTIME_PORT ??= String(port + 3);
  const stack = await startLocalStack({
    dataDir: env.PLUGINOPS_DATA_DIR || '.pluginops',
    port,
    host: env.PLUGINOPS_HOST || undefined,
    dynamodbPort: parsePort(env.PLUGINOPS_DYNAMODB_PORT, 'PLUGINOPS_DYNAMODB_PORT'),
    s3Port: parsePort(env.PLUGINOPS_S3_PORT, 'PLUGINOPS_S3_PORT'),
    bootstrapKey: env.PLUGINOPS_BOOTSTRAP_KEY || undefined,
    stage: env.PLUGINOPS_STAGE || undefined,
  });

  console.log(`pluginops listening on ${stack.baseUrl}`);
  console.log(`web console: ${stack.baseUrl}/ (sign in with an API key)`);
  if (stack.bootstrapKeyCreated) {
    console.log(`bootstrap API key (operator, shown once; also in ${stack.dataDir}/bootstrap-key):`);
    console.log(`  ${stack.bootstrapKey}`);
  }
  console.log(
    `[debug] started in ${stack.startupMs} ms (${formatPhases(stack.startupPhases)}); dynamodb ${stack.dynamodbEndpoint}, s3 ${stack.s3Endpoint} ` +
      `(bucket ${stack.bucket}, credentials S3RVER/S3RVER), data ${stack.dataDir}`,
  );
  if (stack.difyDaemon !== undefined) {
    console.log(
      `Dify plugin daemon stand-in on ${stack.difyDaemon.url} (key in ${stack.dataDir}/dify-daemon.key unless PLUGINOPS_DIFY_DAEMON_KEY is set)`,
    );
  }
  handleShutdown(stack);
}

function formatPhases(phases: Record<string, number>): string {
  return Object.entries(phases)
    .map(([phase, ms]) => `${phase} at ${ms}`)
    .join(', ');
}

function handleShutdown(stack: LocalStack): void {
  let stoppingSince: number | undefined;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // Ctrl-C reaches us twice at once: from the terminal's process group and relayed by tsx.
      if (Date.now() - stoppingSince < 1_000) return;
      console.error(`pluginops: ${signal} again, exiting without waiting`);
      process.exit(130);
    }
    stoppingSince = Date.now();
    console.log(`pluginops: ${signal} received, stopping`);
    const force = setTimeout(() => {
      console.error('pluginops: shutdown took too long, exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + 5_000);
    force.unref();
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('pluginops: unclean shutdown:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('SIGHUP', shutdown);
  // `kill <npm pid>` never reaches us (sh does not relay it): stop when whoever started us exits.
  watchAncestors((pid) => {
    console.log(`pluginops: parent process ${pid} exited`);
    shutdown('SIGHUP');
  });
  process.on('uncaughtException', (error) => {
    // DynamoDB Local is killed by its 'exit' hook; everything else dies with the process.
    console.error('pluginops: uncaught exception:', error);
    process.exit(1);
  });
}

main().catch((error: unknown) => {
  if (error instanceof LocalStackError) {
    console.error(`pluginops: ${error.message}`);
  } else {
    console.error('pluginops: failed to start:', error);
  }
  process.exit(1);
});
