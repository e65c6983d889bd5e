/**
 * `npm start` as a process manager or CI runs it: a child process stopped by PID. After
 * `kill -TERM <npm pid>` (which npm relays only to `sh`, not to tsx) and after SIGINT to the
 * started process, every process of the tree is gone and every port (API, DynamoDB Local, S3,
 * plugin host) is free again. A second start on a port in use fails with a clear one-line reason.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** DynamoDB Local's JVM alone takes 15–40 s to start on a busy 2-core machine. */
const START_DEADLINE_MS = 150_000;
const STOP_DEADLINE_MS = 20_000;

let dataRoot: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'pluginops-start-stop-'));
});

afterAll(async () => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dataRoot, { recursive: true, force: true });
});

/**
 * Where the kernel takes ports for outgoing connections and port-0 listeners (Linux's
 * `ip_local_port_range`; 32768 elsewhere, below macOS's 49152).
 */
function ephemeralPortsFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_000) return low;
  } catch {
    // not Linux
  }
  return 32_768;
}

/**
 * A base port whose four neighbours (API, DynamoDB, S3, plugin host) are free right now, below the
 * ephemeral range: a base from there (a port-0 listener's) once lost its plugin-host neighbour to
 * an outgoing connection of a suite running beside this one, in the seconds before the plugin
 * host bound it. Below the range only a listener can take a port, and every other suite listens
 * on port 0.
 */
const claimed = new Set<number>();
async function freeBasePort(): Promise<number> {
  const highest = ephemeralPortsFrom() - 4;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 10_000 + Math.floor(Math.random() * (highest - 10_000));
    const ports = [port, port + 1, port + 2, port + 3];
    // The cases run concurrently: never hand out a port another case was given.
    if (ports.some((candidate) => claimed.has(candidate))) continue;
    if ((await Promise.all(ports.map(isPortFree))).every(Boolean)) {
      for (const candidate of ports) claimed.add(candidate);
      return port;
    }
  }
  throw new Error('no four consecutive free ports');
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const probe = createServer();
    probe.once('error', () => resolvePromise(false));
    // DynamoDB Local binds every interface, so probe the wildcard address.
    probe.listen({ port, host: '0.0.0.0', exclusive: true }, () => probe.close(() => resolvePromise(true)));
  });
}

/** Every descendant of `pid` (children, grandchildren…), from `ps`. */
function descendants(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const [child, ppid] of table) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false;
  }
}

async function until(what: string, condition: () => Promise<boolean> | boolean, deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 250));
  }
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(command: string, args: string[], port: number, name: string): Started {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: {
      // Not the shared test stack's settings: this start picks its own ports and data.
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PLUGINOPS_'))),
      PLUGINOPS_PORT: String(port),
      PLUGINOPS_DATA_DIR: join(dataRoot, name),
      PLUGINOPS_SCHEDULER: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', resolvePromise));
  return { child, output: () => text, exited };
}

async function startAndStop(
  command: string,
  args: string[],
  name: string,
  stop: (started: Started) => void,
): Promise<void> {
  const port = await freeBasePort();
  const ports = [port, port + 1, port + 2, port + 3];
  const run = start(command, args, port, name);
  await until(
    `"pluginops listening" from ${command} ${args.join(' ')}`,
    () => {
      if (run.child.exitCode !== null) throw new Error(`exited early:\n${run.output()}`);
      return run.output().includes('pluginops listening on');
    },
    START_DEADLINE_MS,
  );
  const tree = descendants(run.child.pid as number);
  // npm (or tsx) → … → node running local/main.ts → java (DynamoDB Local).
  expect(tree.length, run.output()).toBeGreaterThanOrEqual(2);
  for (const taken of ports)
    expect(await isPortFree(taken), `port ${taken} in use while running`).toBe(false);

  stop(run);

  await until('every process of the tree to exit', () => tree.every((pid) => !alive(pid)), STOP_DEADLINE_MS);
  await until(
    `ports ${ports.join(', ')} to be free`,
    async () => (await Promise.all(ports.map(isPortFree))).every(Boolean),
    STOP_DEADLINE_MS,
  );
  await run.exited;
}

// Each case starts its own stack on its own ports: they run side by side.
describe.concurrent('npm start stops completely when stopped by PID', () => {
  it('kill -TERM <npm pid> stops tsx, node and DynamoDB Local and frees every port', async () => {
    await startAndStop('npm', ['start', '--silent'], 'npm-term', (run) => run.child.kill('SIGTERM'));
  }, 240_000);

  it('SIGINT to a directly started tsx local/main.ts stops everything too', async () => {
    await startAndStop(join(repoRoot, 'node_modules/.bin/tsx'), ['local/main.ts'], 'tsx-int', (run) =>
      run.child.kill('SIGINT'),
    );
  }, 240_000);

  it('a second start on a port in use says which port and exits 1', async () => {
    const port = await freeBasePort();
    const holder: Server = createServer();
    await new Promise<void>((resolvePromise) => holder.listen({ port, host: '127.0.0.1' }, resolvePromise));
    try {
      const run = start(join(repoRoot, 'node_modules/.bin/tsx'), ['local/main.ts'], port, 'busy');
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain(
        `pluginops: port ${port} (API gateway) is already in use; stop the other process or set a different port`,
      );
    } finally {
      await new Promise((resolvePromise) => holder.close(resolvePromise));
    }
  }, 60_000);
});
