/**
 * Task tokens of `.waitForTaskToken` states in the local engine: one per state attempt, waiting
 * for `sendTaskSuccess`/`sendTaskFailure`, expiring with the state's `TimeoutSeconds` or the end
 * of its execution. A token is registered before the task handler runs, so a callback that
 * arrives while the handler is still recording the token is not lost.
 */
import { randomBytes } from 'node:crypto';
import { TaskNotPendingError } from '#adapters/workflow.ts';

export interface PendingTask {
  token: string;
  machine: string;
  /** Execution name. */
  execution: string;
  executionArn: string;
  state: string;
  since: Date;
}

export interface PendingTaskFilter {
  machine?: string;
  execution?: string;
  state?: string;
}

/** The error a `sendTaskFailure` delivers: `name` is the ASL error name, `message` the cause. */
export class TaskCallbackError extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

interface Waiter {
  task: PendingTask;
  resolve(output: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Listed as pending only once the task handler has returned (it has recorded the token). */
  announced: boolean;
}

interface PendingWatch {
  filter: PendingTaskFilter;
  resolve(task: PendingTask): void;
}

/** How many answered or expired tokens are remembered to tell "timed out" from "unknown". */
const CLOSED_TOKENS_KEPT = 10_000;

export function newTaskToken(): string {
  return randomBytes(32).toString('base64url');
}

export class TaskTokenRegistry {
  private readonly waiting = new Map<string, Waiter>();
  private readonly closed = new Map<string, 'timed-out' | 'not-pending'>();
  private readonly watches = new Set<PendingWatch>();

  /**
   * Starts waiting for the callback of `task.token`. After `timeoutMs` the token expires (a later
   * callback gets `TaskNotPendingError('timed-out')`); the state itself is failed with
   * `States.Timeout` by the engine's own timer for the same `TimeoutSeconds`.
   */
  register(task: PendingTask, timeoutMs: number | undefined): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    // Nothing may be left unhandled when the run is aborted and nobody awaits this anymore.
    promise.catch(() => undefined);
    const waiter: Waiter = { task, resolve, reject, timer: undefined, announced: false };
    if (timeoutMs !== undefined) {
      waiter.timer = setTimeout(() => this.close(task.token, 'timed-out'), timeoutMs);
      waiter.timer.unref();
    }
    this.waiting.set(task.token, waiter);
    return promise;
  }

  /** The handler has returned: the token is now listed by {@link pending} and {@link waitForPending}. */
  announce(token: string): void {
    const waiter = this.waiting.get(token);
    if (waiter === undefined) return;
    waiter.announced = true;
    for (const watch of this.watches) {
      if (matches(waiter.task, watch.filter)) {
        this.watches.delete(watch);
        watch.resolve(waiter.task);
      }
    }
  }

  succeed(token: string, output: unknown): void {
    const waiter = this.take(token);
    waiter.resolve(output);
  }

  fail(token: string, error: string, cause: string): void {
    const waiter = this.take(token);
    waiter.reject(new TaskCallbackError(error, cause));
  }

  /** Stops waiting on `token` (its state failed or the run ended); `error` settles the waiter. */
  cancel(token: string, error?: Error): void {
    const waiter = this.waiting.get(token);
    if (waiter === undefined) return;
    this.close(token, 'not-pending');
    if (error !== undefined) waiter.reject(error);
  }

  /** Every token of an execution stops waiting: the execution has ended. */
  closeExecution(executionArn: string, error: Error): void {
    for (const [token, waiter] of [...this.waiting]) {
      if (waiter.task.executionArn === executionArn) this.cancel(token, error);
    }
  }

  pending(filter: PendingTaskFilter = {}): PendingTask[] {
    return [...this.waiting.values()]
      .filter((waiter) => waiter.announced)
      .map((waiter) => waiter.task)
      .filter((task) => matches(task, filter));
  }

  /** The first pending task that matches, now or when it is registered; rejects after `timeoutMs`. */
  waitForPending(filter: PendingTaskFilter, timeoutMs: number): Promise<PendingTask> {
    const existing = this.pending(filter)[0];
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise<PendingTask>((resolve, reject) => {
      const watch: PendingWatch = {
        filter,
        resolve: (task) => {
          clearTimeout(timer);
          resolve(task);
        },
      };
      const timer = setTimeout(() => {
        this.watches.delete(watch);
        reject(new Error(`no task token pending for ${JSON.stringify(filter)} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.watches.add(watch);
    });
  }

  private take(token: string): Waiter {
    const waiter = this.waiting.get(token);
    if (waiter === undefined) {
      throw new TaskNotPendingError(this.closed.get(token) === 'timed-out' ? 'timed-out' : 'not-pending');
    }
    this.close(token, 'not-pending');
    return waiter;
  }

  private close(token: string, reason: 'timed-out' | 'not-pending'): void {
    const waiter = this.waiting.get(token);
    if (waiter?.timer !== undefined) clearTimeout(waiter.timer);
    this.waiting.delete(token);
    this.closed.set(token, reason);
    if (this.closed.size > CLOSED_TOKENS_KEPT) {
      const oldest = this.closed.keys().next().value;
      if (oldest !== undefined) this.closed.delete(oldest);
    }
  }
}

function matches(task: PendingTask, filter: PendingTaskFilter): boolean {
  return (
    (filter.machine === undefined || task.machine === filter.machine) &&
    (filter.execution === undefined ||
      task.execution === filter.execution ||
      task.executionArn === filter.execution) &&
    (filter.state === undefined || task.state === filter.state)
  );
}
