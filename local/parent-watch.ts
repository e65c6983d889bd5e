/**
 * Stops `npm start` when the process that started it goes away.
 *
 * `npm start` is a chain: npm → sh -c → tsx → node (this process). `kill <npm pid>` (what a
 * process manager or CI does) makes npm signal `sh`, which dies without relaying; tsx and this
 * process are orphaned and keep DynamoDB Local and every port. Signals cannot fix that, so this
 * process watches its ancestors instead: when any of them exits (npm, sh, tsx, or the shell or
 * manager that ran `npm start`), it shuts down as on SIGTERM. PID 1 and our own session leader's
 * parents above the chain are not watched beyond {@link MAX_ANCESTORS} levels.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** npm, sh, tsx and the caller of `npm start`, plus a little slack for wrappers (script, nohup…). */
export const MAX_ANCESTORS = 5;
/** How often the ancestors are checked; the stack stops within this bound after a parent dies. */
export const PARENT_POLL_MS = 500;

/** This process's ancestors, nearest first, without PID 1 (init / a container's entry point). */
export function ancestorPids(start = process.pid, limit = MAX_ANCESTORS): number[] {
  const pids: number[] = [];
  let pid = start;
  while (pids.length < limit) {
    const parent = parentOf(pid);
    if (parent === undefined || parent <= 1) break;
    pids.push(parent);
    pid = parent;
  }
  return pids;
}

function parentOf(pid: number): number | undefined {
  try {
    // Linux: field 4 of /proc/<pid>/stat, after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    try {
      const out = execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], {
        encoding: 'utf8',
        timeout: 2_000,
      });
      const parent = Number(out.trim());
      return Number.isInteger(parent) ? parent : undefined;
    } catch {
      return undefined;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    // An exited process its parent has not reaped yet still answers kill(0); /proc tells.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (macOS), or the process is gone: ask the kernel.
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Calls `onOrphaned` once when any ancestor exits (or this process is re-parented). Returns a
 * function that stops watching. The timer is unref'd: it never keeps the process alive by itself.
 */
export function watchAncestors(onOrphaned: (pid: number) => void, pollMs = PARENT_POLL_MS): () => void {
  const ancestors = ancestorPids();
  const parent = process.ppid;
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : ancestors.find((pid) => !isAlive(pid));
    if (gone === undefined) return;
    clearInterval(timer);
    onOrphaned(gone);
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
