/**
 * The local workflow engine: runs the same `statemachines/*.asl.json` that CDK deploys, in
 * process, on `aws-local-stepfunctions`, with every Task state dispatched to the handler of
 * `functions/tasks/<task>.ts`. It implements the workflow port (`#adapters/workflow.ts`), so the
 * API and tasks start executions and answer task tokens the same way they do on AWS.
 *
 * Executions run in the background. Each one keeps its status, output or error, and an event
 * log (states entered/exited with timings, failures, retries, catches) for tests and debugging.
 *
 * Task tokens: the engine passes `context.Task` to each run and puts a fresh token in it right
 * after a `.waitForTaskToken` state has read it (its Parameters are resolved synchronously
 * before the task is dispatched), so every such state attempt — several per execution, retries,
 * concurrent Map iterations — gets its own token. Alone, aws-local-stepfunctions 3.0.0 would give
 * every state of an execution the same token.
 *
 * Errors, as Step Functions reports them: a handler's thrown `error.name` is the ASL error name
 * (Lambda's `errorType`; Retry/Catch match on it) and `{"errorType","errorMessage"}` the cause;
 * `sendTaskFailure(token, error, cause)` fails the state with exactly `error`/`cause`; a state
 * past its `TimeoutSeconds` fails with `States.Timeout` (which `States.TaskFailed` does not
 * match), and its token then answers `TaskNotPendingError('timed-out')`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  type StateMachine,
} from 'aws-local-stepfunctions';
import {
  ExecutionNameConflictError,
  type StartResult,
  type StateMachineName,
  type WorkflowEngine,
  WorkflowEngineUnavailableError,
} from '#adapters/workflow.ts';
import { getConfig } from '#config/runtime-config.ts';
import {
  type LoadedStateMachine,
  LocalNaming,
  loadStateMachines,
  type TaskBinding,
  takeResolvedTimeout,
} from './workflow-definitions.ts';
import { DEFAULT_FAULT_ERROR, FaultPlan, type FaultSpec, type InjectedFault } from './workflow-faults.ts';
import {
  ExecutionStoppedSignal,
  importTaskHandler,
  jsonCopy,
  lambdaContext,
  lambdaFailure,
  lambdaInvokeResult,
  type PutEventsEntry,
  putEventsEntries,
  TaskFailure,
  type TaskHandler,
} from './workflow-tasks.ts';
import {
  newTaskToken,
  type PendingTask,
  type PendingTaskFilter,
  TaskTokenRegistry,
} from './workflow-tokens.ts';

export type { LoadedStateMachine, TaskBinding } from './workflow-definitions.ts';
export { WorkflowDefinitionError } from './workflow-definitions.ts';
export type { FaultSpec, InjectedFault } from './workflow-faults.ts';
export type { PutEventsEntry, TaskHandler } from './workflow-tasks.ts';
export { TaskFailure } from './workflow-tasks.ts';
export type { PendingTask, PendingTaskFilter } from './workflow-tokens.ts';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_STATEMACHINES_DIR = join(PROJECT_ROOT, 'statemachines');
export const DEFAULT_TASKS_DIR = join(PROJECT_ROOT, 'functions', 'tasks');

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionEvent {
  /** The engine's event types (`StateEntered`, `StateExited`, `StateFailed`, `StateRetried`,
   * `StateCaught`, `Execution*`, `MapIteration*`, `ParallelBranch*`) plus `TaskCallbackPending`
   * (a token is waiting) and `FaultInjected`. */
  type: string;
  timestamp: string;
  /** Since the execution started. */
  elapsedMs: number;
  state?: string;
  stateType?: string;
  /** Map iteration. */
  index?: number;
  /** `StateExited`: time since the matching `StateEntered`. */
  durationMs?: number;
  input?: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  /** `StateRetried`: retries of that retrier so far. */
  retryAttempt?: number;
  /** `StateCaught`: the catcher's target. */
  next?: string;
  /** `TaskCallbackPending`. */
  taskToken?: string;
}

export interface ExecutionSummary {
  machine: string;
  name: string;
  executionArn: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate: Date | undefined;
}

export interface ExecutionDescription extends ExecutionSummary {
  stateMachineArn: string;
  input: Record<string, unknown>;
  output: unknown;
  /** ASL error name when FAILED or TIMED_OUT. */
  error: string | undefined;
  cause: string | undefined;
  events: ExecutionEvent[];
}

export interface LocalWorkflowEngineOptions {
  /** Default `statemachines/`. */
  statemachinesDir?: string;
  /** Default `functions/tasks/`. */
  tasksDir?: string;
  /** Defaults: from `getConfig()` (the local stack sets the environment first). */
  stage?: string;
  mainTable?: string;
  bucket?: string;
  region?: string;
  account?: string;
  /**
   * Replaces the import of `<tasksDir>/<task>.ts` (tests register handlers here). When given,
   * task files are not required to exist at load.
   */
  resolveTaskHandler?: (task: string) => TaskHandler | Promise<TaskHandler>;
  /** Where `events:putEvents` entries go; default `publishEvent` of `#adapters/events.ts`. */
  publishEvents?: (entries: PutEventsEntry[]) => Promise<void>;
  /**
   * Multiplies ASL waits: Retry `IntervalSeconds`/`MaxDelaySeconds` (BackoffRate and jitter still
   * apply) and Wait `Seconds`. `0.001` turns seconds into milliseconds. Default 1.
   */
  timeScale?: number;
  /**
   * Multiplies Task and execution `TimeoutSeconds` (not `TimeoutSecondsPath`). Separate from
   * `timeScale` because real handlers need their real time budget. Default 1.
   */
  timeoutScale?: number;
  /** Faults armed from the start (see {@link LocalWorkflowEngine.injectFault}). */
  faults?: FaultSpec[];
  /** Finished executions kept for describe/list (oldest dropped first). Default 1000. */
  maxRetainedExecutions?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

type TaskOverrides = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type JsonValue = Parameters<TaskOverrides[string]>[0];
type EngineEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

interface ExecutionRecord extends ExecutionDescription {
  startMs: number;
  /** Holds the current task token; the engine's context object shares it. */
  taskContext: { Token: string };
  enteredAt: Map<string, number>;
  abortRun: (() => void) | undefined;
  aborting: boolean;
  done: Promise<void>;
  markDone: () => void;
}

/** After the run settles, how long its last events may take to arrive. */
const EVENT_DRAIN_MS = 1_000;

export class LocalWorkflowEngine implements WorkflowEngine {
  readonly machines: ReadonlyMap<string, LoadedStateMachine>;
  readonly naming: LocalNaming;
  private readonly options: LocalWorkflowEngineOptions;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly tokens = new TaskTokenRegistry();
  private readonly faults = new FaultPlan();
  private readonly handlers = new Map<string, Promise<TaskHandler>>();
  private stopped = false;

  constructor(options: LocalWorkflowEngineOptions = {}) {
    const config = getConfig();
    const timeScale = positive('timeScale', options.timeScale ?? 1);
    const timeoutScale = positive('timeoutScale', options.timeoutScale ?? 1);
    this.options = options;
    this.naming = new LocalNaming(
      options.stage ?? config.stage,
      options.region ?? 'us-east-1',
      options.account ?? '000000000000',
    );
    const tasksDir = options.tasksDir ?? DEFAULT_TASKS_DIR;
    this.machines = loadStateMachines({
      dir: options.statemachinesDir ?? DEFAULT_STATEMACHINES_DIR,
      naming: this.naming,
      tableName: options.mainTable ?? config.mainTable,
      bucketName: options.bucket ?? config.bucket,
      timeScale,
      timeoutScale,
      taskExists: (task) =>
        options.resolveTaskHandler !== undefined || existsSync(join(tasksDir, `${task}.ts`)),
    });
    for (const fault of options.faults ?? []) this.injectFault(fault);
  }

  // ── The workflow port ──────────────────────────────────────────────────────────────────────

  async startExecution(
    machine: StateMachineName | (string & {}),
    name: string,
    input: Record<string, unknown>,
  ): Promise<StartResult> {
    if (this.stopped) throw new WorkflowEngineUnavailableError('The local workflow engine has stopped.');
    const loaded = this.machines.get(machine);
    if (loaded === undefined) {
      throw new WorkflowEngineUnavailableError(
        `No state machine ${machine} in the local engine (statemachines/${machine}.asl.json was not loaded).`,
      );
    }
    assertExecutionName(name);
    const executionArn = this.naming.executionArn(machine, name);
    const normalized = jsonCopy<Record<string, unknown>>(input);
    const existing = this.executions.get(executionArn);
    if (existing !== undefined) {
      if (!isDeepStrictEqual(existing.input, normalized)) throw new ExecutionNameConflictError(machine, name);
      return { executionArn, alreadyStarted: true };
    }
    const record = this.createRecord(loaded, name, executionArn, normalized);
    this.executions.set(executionArn, record);
    // Like StartExecution, return before the first state runs.
    setImmediate(() => this.launch(record, loaded));
    return { executionArn, alreadyStarted: false };
  }

  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    this.tokens.succeed(taskToken, jsonCopy(output));
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    this.tokens.fail(taskToken, error, cause);
  }

  // ── Inspection, for tests and debugging ────────────────────────────────────────────────────

  /** By execution name (unique per machine; pass the ARN when two machines share it) or ARN. */
  describeExecution(nameOrArn: string): ExecutionDescription | undefined {
    const record = this.find(nameOrArn);
    return record === undefined ? undefined : describe(record);
  }

  listExecutions(filter: { machine?: string; status?: ExecutionStatus } = {}): ExecutionSummary[] {
    return [...this.executions.values()]
      .filter(
        (record) =>
          (filter.machine === undefined || record.machine === filter.machine) &&
          (filter.status === undefined || record.status === filter.status),
      )
      .map(summarize);
  }

  /**
   * Resolves with the execution once it is no longer RUNNING (it may not have started yet);
   * rejects after `timeoutMs` naming the state it is stuck in.
   */
  async waitForExecution(nameOrArn: string, timeoutMs = 10_000): Promise<ExecutionDescription> {
    const deadline = Date.now() + timeoutMs;
    let record = this.find(nameOrArn);
    while (record === undefined && Date.now() < deadline) {
      await delay(10);
      record = this.find(nameOrArn);
    }
    if (record === undefined) throw new Error(`no execution ${nameOrArn} was started within ${timeoutMs} ms`);
    const finished = await Promise.race([record.done.then(() => true), delay(deadline - Date.now(), false)]);
    if (!finished) {
      const last = record.events.at(-1);
      throw new Error(
        `execution ${record.name} is still ${record.status} after ${timeoutMs} ms` +
          (last === undefined ? '' : ` (last event: ${last.type}${last.state ? ` ${last.state}` : ''})`),
      );
    }
    return describe(record);
  }

  /** Tokens of `.waitForTaskToken` states waiting for a callback (listed once their handler returned). */
  pendingTasks(filter: PendingTaskFilter = {}): PendingTask[] {
    return this.tokens.pending(filter);
  }

  /** The first waiting task that matches, once its handler has been called. */
  waitForPendingTask(filter: PendingTaskFilter = {}, timeoutMs = 10_000): Promise<PendingTask> {
    return this.tokens.waitForPending(filter, timeoutMs);
  }

  // ── Crashes and faults ─────────────────────────────────────────────────────────────────────

  /**
   * Stops an execution where it is, as a crash would: the state in flight never completes, no
   * Retry or Catch runs, pending task tokens stop waiting; status ABORTED. A handler already
   * running finishes (as a Lambda would), but its result is discarded.
   */
  async abortExecution(nameOrArn: string, waitMs = 2_000): Promise<ExecutionDescription> {
    const record = this.find(nameOrArn);
    if (record === undefined) throw new Error(`no execution ${nameOrArn}`);
    if (record.status === 'RUNNING') {
      this.abortRecord(record);
      await Promise.race([record.done, delay(waitMs)]);
    }
    return describe(record);
  }

  /** Arms a fault in task dispatch (see local/workflow-faults.ts). */
  injectFault(spec: FaultSpec): InjectedFault {
    const machine = this.machines.get(spec.machine);
    if (machine === undefined) throw new Error(`injectFault: no state machine ${spec.machine}`);
    if (!machine.tasks.has(spec.state)) {
      throw new Error(
        `injectFault: ${spec.machine} has no Task state ${spec.state} (Task states: ${[...machine.tasks.keys()].join(', ')})`,
      );
    }
    return this.faults.add(spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Aborts every running execution (waiting at most `waitMs` for them) and refuses new ones. */
  async stop(waitMs = 5_000): Promise<void> {
    this.stopped = true;
    this.faults.clear();
    const running = [...this.executions.values()].filter((record) => record.status === 'RUNNING');
    for (const record of running) this.abortRecord(record);
    await Promise.race([Promise.all(running.map((record) => record.done)), delay(waitMs)]);
  }

  // ── Running ────────────────────────────────────────────────────────────────────────────────

  private createRecord(
    machine: LoadedStateMachine,
    name: string,
    executionArn: string,
    input: Record<string, unknown>,
  ): ExecutionRecord {
    const { promise: done, resolve: markDone } = Promise.withResolvers<void>();
    return {
      machine: machine.name,
      name,
      executionArn,
      stateMachineArn: machine.arn,
      status: 'RUNNING',
      input,
      output: undefined,
      error: undefined,
      cause: undefined,
      startDate: new Date(),
      stopDate: undefined,
      events: [],
      startMs: Date.now(),
      taskContext: { Token: newTaskToken() },
      enteredAt: new Map(),
      abortRun: undefined,
      aborting: false,
      done,
      markDone,
    };
  }

  private launch(record: ExecutionRecord, machine: LoadedStateMachine): void {
    if (record.aborting) {
      this.settle(record, Promise.resolve(), { status: 'ABORTED' });
      return;
    }
    const overrides: TaskOverrides = {};
    for (const binding of machine.tasks.values()) {
      overrides[binding.state] = (input) => this.dispatch(record, binding, input);
    }
    const run = machine.runnable.run(record.input as JsonValue, {
      overrides: { taskResourceLocalHandlers: overrides },
      context: {
        Execution: { Id: record.executionArn, Name: record.name },
        StateMachine: { Id: machine.arn, Name: machine.arn.split(':').at(-1) },
        Task: record.taskContext,
      },
    });
    record.abortRun = run.abort;
    const drained = this.collectEvents(record, run.eventLogs);
    run.result.then(
      (output) => this.settle(record, drained, { status: 'SUCCEEDED', output }),
      (error: unknown) => this.settle(record, drained, outcomeOf(error)),
    );
  }

  private async collectEvents(record: ExecutionRecord, events: AsyncGenerator<EngineEvent>): Promise<void> {
    for await (const event of events) record.events.push(toExecutionEvent(record, event));
  }

  private async settle(
    record: ExecutionRecord,
    drained: Promise<void>,
    outcome: Pick<ExecutionRecord, 'status'> & Partial<Pick<ExecutionRecord, 'output' | 'error' | 'cause'>>,
  ): Promise<void> {
    await Promise.race([drained, delay(EVENT_DRAIN_MS)]);
    const final = record.aborting ? { status: 'ABORTED' as const } : outcome;
    record.status = final.status;
    record.output = final.output;
    record.error = final.error;
    record.cause = final.cause;
    record.stopDate = new Date();
    this.tokens.closeExecution(record.executionArn, new ExecutionStoppedSignal());
    const level = record.status === 'SUCCEEDED' ? 'info' : 'warn';
    this.options.log?.(level, 'workflow execution finished', {
      machine: record.machine,
      execution: record.name,
      status: record.status,
      error: record.error,
      durationMs: record.stopDate.getTime() - record.startMs,
    });
    record.markDone();
    this.evictFinished();
  }

  private abortRecord(record: ExecutionRecord): void {
    if (record.aborting || record.status !== 'RUNNING') return;
    record.aborting = true;
    record.abortRun?.();
    this.tokens.closeExecution(record.executionArn, new ExecutionStoppedSignal());
  }

  /**
   * The local handler of one Task state. Synchronous up to reading the token: the engine has
   * just resolved this state's Parameters from `context.Task`, so the token there is this
   * attempt's; a fresh one replaces it for the next `.waitForTaskToken` state.
   */
  private dispatch(record: ExecutionRecord, binding: TaskBinding, input: JsonValue): Promise<JsonValue> {
    let token: string | undefined;
    if (binding.kind === 'lambda-invoke' && binding.waitForTaskToken) {
      token = record.taskContext.Token;
      record.taskContext.Token = newTaskToken();
    }
    return this.runTask(record, binding, input, token);
  }

  private async runTask(
    record: ExecutionRecord,
    binding: TaskBinding,
    input: JsonValue,
    token: string | undefined,
  ): Promise<JsonValue> {
    if (record.aborting) throw new ExecutionStoppedSignal();
    this.applyFault(record, binding, 'before');
    const { input: taskInput, timeoutMs } = takeResolvedTimeout(binding, input);
    const output = await this.invoke(record, binding, taskInput, { token, timeoutMs });
    if (record.aborting) throw new ExecutionStoppedSignal();
    this.applyFault(record, binding, 'after');
    return output as JsonValue;
  }

  private applyFault(record: ExecutionRecord, binding: TaskBinding, when: 'before' | 'after'): void {
    const fault = this.faults.take({
      machine: record.machine,
      state: binding.state,
      when,
      execution: record.name,
      executionArn: record.executionArn,
    });
    if (fault === undefined) return;
    const errorName = fault.mode === 'throw' ? (fault.errorName ?? DEFAULT_FAULT_ERROR) : undefined;
    this.appendEvent(record, {
      type: 'FaultInjected',
      state: binding.state,
      error: errorName,
      cause: `${fault.mode} ${when}`,
    });
    if (fault.mode === 'abort') {
      this.abortRecord(record);
      throw new ExecutionStoppedSignal();
    }
    const errorMessage = fault.cause ?? `fault injected ${when} ${binding.state}`;
    throw new TaskFailure(
      errorName ?? DEFAULT_FAULT_ERROR,
      JSON.stringify({ errorType: errorName, errorMessage }),
    );
  }

  private async invoke(
    record: ExecutionRecord,
    binding: TaskBinding,
    input: unknown,
    callback: { token: string | undefined; timeoutMs: number | undefined },
  ): Promise<unknown> {
    switch (binding.kind) {
      case 'function':
        return this.callTask(binding.task, input);
      case 'lambda-invoke':
        return this.invokeLambda(record, binding, input, callback);
      case 'start-execution':
        return this.startNested(binding.mode, input);
      case 'put-events':
        return this.putEvents(input);
    }
  }

  private async invokeLambda(
    record: ExecutionRecord,
    binding: TaskBinding,
    input: unknown,
    { token, timeoutMs }: { token: string | undefined; timeoutMs: number | undefined },
  ): Promise<unknown> {
    const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const task = this.naming.taskOf(String(parameters.FunctionName));
    if (task === undefined) {
      throw new TaskFailure(
        'Lambda.ResourceNotFoundException',
        `Function not found: ${String(parameters.FunctionName)}`,
      );
    }
    const payload = parameters.Payload ?? {};
    if (token === undefined) return lambdaInvokeResult(await this.callTask(task, payload));
    // Registered before the handler runs, so an answer that beats the handler's return is kept.
    const callback = this.tokens.register(
      {
        token,
        machine: record.machine,
        execution: record.name,
        executionArn: record.executionArn,
        state: binding.state,
        since: new Date(),
      },
      timeoutMs,
    );
    try {
      await this.callTask(task, payload);
    } catch (error) {
      this.tokens.cancel(token);
      throw error;
    }
    this.tokens.announce(token);
    this.appendEvent(record, { type: 'TaskCallbackPending', state: binding.state, taskToken: token });
    return callback;
  }

  private async callTask(task: string, input: unknown): Promise<unknown> {
    const handler = await this.handlerOf(task);
    try {
      return jsonCopy(await handler(input, lambdaContext(this.naming, task)));
    } catch (error) {
      throw lambdaFailure(error);
    }
  }

  private handlerOf(task: string): Promise<TaskHandler> {
    let handler = this.handlers.get(task);
    if (handler === undefined) {
      const { resolveTaskHandler } = this.options;
      const tasksDir = this.options.tasksDir ?? DEFAULT_TASKS_DIR;
      handler = Promise.resolve().then(() =>
        resolveTaskHandler === undefined ? importTaskHandler(tasksDir, task) : resolveTaskHandler(task),
      );
      // Only a loaded handler is cached, so a task file added while running is picked up.
      handler.catch(() => this.handlers.delete(task));
      this.handlers.set(task, handler);
    }
    return handler.catch((error: unknown) => {
      throw lambdaFailure(error);
    });
  }

  /** `states:startExecution` (async: `{ExecutionArn, StartDate}`), `.sync` and `.sync:2`. */
  private async startNested(mode: 'async' | 'sync' | 'sync:2', input: unknown): Promise<unknown> {
    const parameters = (input ?? {}) as { StateMachineArn?: unknown; Name?: unknown; Input?: unknown };
    const target = this.naming.machineOf(String(parameters.StateMachineArn));
    if (target === undefined || !this.machines.has(target)) {
      throw new TaskFailure(
        'StepFunctions.StateMachineDoesNotExistException',
        `State Machine Does Not Exist: '${String(parameters.StateMachineArn)}'`,
      );
    }
    const childInput =
      typeof parameters.Input === 'string' ? JSON.parse(parameters.Input) : (parameters.Input ?? {});
    const name = typeof parameters.Name === 'string' ? parameters.Name : randomUUID();
    let started: StartResult;
    try {
      started = await this.startExecution(target, name, childInput as Record<string, unknown>);
    } catch (error) {
      if (error instanceof ExecutionNameConflictError) {
        throw new TaskFailure('StepFunctions.ExecutionAlreadyExistsException', error.message, error);
      }
      throw error;
    }
    const child = this.executions.get(started.executionArn);
    if (child === undefined) throw new TaskFailure('States.Runtime', `execution ${name} vanished`);
    // AWS answers a duplicate start like the first only while that execution is running.
    if (started.alreadyStarted && child.status !== 'RUNNING') {
      throw new TaskFailure(
        'StepFunctions.ExecutionAlreadyExistsException',
        `Execution Already Exists: '${started.executionArn}'`,
      );
    }
    if (mode === 'async')
      return { ExecutionArn: started.executionArn, StartDate: child.startDate.toISOString() };
    await child.done;
    if (child.status !== 'SUCCEEDED') {
      throw new TaskFailure(
        'States.TaskFailed',
        JSON.stringify({
          ExecutionArn: child.executionArn,
          Status: child.status,
          Error: child.error,
          Cause: child.cause,
        }),
      );
    }
    const asJson = (value: unknown) => (mode === 'sync:2' ? value : JSON.stringify(value));
    return {
      ExecutionArn: child.executionArn,
      StateMachineArn: child.stateMachineArn,
      Name: child.name,
      Status: child.status,
      StartDate: child.startDate.toISOString(),
      StopDate: child.stopDate?.toISOString(),
      Input: asJson(child.input),
      Output: asJson(child.output),
    };
  }

  private async putEvents(input: unknown): Promise<unknown> {
    const entries = putEventsEntries(input);
    if (this.options.publishEvents !== undefined) {
      await this.options.publishEvents(entries);
    } else {
      const { publishEvent } = await import('#adapters/events.ts');
      for (const entry of entries) {
        await publishEvent(entry.detailType as Parameters<typeof publishEvent>[0], entry.detail);
      }
    }
    return { Entries: entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
  }

  // ── Bookkeeping ────────────────────────────────────────────────────────────────────────────

  private appendEvent(record: ExecutionRecord, event: Omit<ExecutionEvent, 'timestamp' | 'elapsedMs'>): void {
    const now = Date.now();
    record.events.push({ timestamp: new Date(now).toISOString(), elapsedMs: now - record.startMs, ...event });
  }

  private find(nameOrArn: string): ExecutionRecord | undefined {
    if (nameOrArn.startsWith('arn:')) return this.executions.get(nameOrArn);
    const matches = [...this.executions.values()].filter((record) => record.name === nameOrArn);
    if (matches.length > 1) {
      throw new Error(`${matches.length} executions are named ${nameOrArn}; pass the execution ARN`);
    }
    return matches[0];
  }

  private evictFinished(): void {
    const limit = this.options.maxRetainedExecutions ?? 1_000;
    if (this.executions.size <= limit) return;
    for (const [arn, record] of this.executions) {
      if (this.executions.size <= limit) break;
      if (record.status !== 'RUNNING') this.executions.delete(arn);
    }
  }
}

/** Loads and validates the ASL files (failing with a {@link WorkflowDefinitionError}). */
export function createLocalWorkflowEngine(options: LocalWorkflowEngineOptions = {}): LocalWorkflowEngine {
  return new LocalWorkflowEngine(options);
}

function outcomeOf(
  error: unknown,
): Pick<ExecutionRecord, 'status'> & Partial<Pick<ExecutionRecord, 'error' | 'cause'>> {
  if (error instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  if (error instanceof ExecutionTimeoutError) {
    return {
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      cause: 'The execution exceeded its TimeoutSeconds.',
    };
  }
  const failure = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
  if (failure instanceof Error) return { status: 'FAILED', error: failure.name, cause: failure.message };
  return { status: 'FAILED', error: 'States.Runtime', cause: String(failure) };
}

function toExecutionEvent(record: ExecutionRecord, event: EngineEvent): ExecutionEvent {
  const converted: ExecutionEvent = {
    type: event.type,
    timestamp: new Date(event.timestamp).toISOString(),
    elapsedMs: event.timestamp - record.startMs,
  };
  if ('state' in event) {
    converted.state = event.state.name;
    converted.stateType = event.state.type;
    if (event.index !== undefined) converted.index = event.index;
    converted.input = event.state.input;
    const key = `${event.state.name}#${event.index ?? ''}`;
    if (event.type === 'StateEntered') record.enteredAt.set(key, event.timestamp);
    if (event.type === 'StateExited') {
      converted.output = event.state.output;
      const entered = record.enteredAt.get(key);
      if (entered !== undefined) converted.durationMs = event.timestamp - entered;
    }
    if (event.type === 'StateRetried') converted.retryAttempt = event.retry.attempt;
    if (event.type === 'StateCaught') converted.next = event.catch.catcher.Next;
  }
  if ('parentState' in event) {
    converted.state = event.parentState.name;
    converted.stateType = event.parentState.type;
    if ('index' in event) converted.index = event.index;
  }
  if ('Error' in event) {
    converted.error = event.Error;
    converted.cause = typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause);
  }
  if (event.type === 'ExecutionSucceeded') converted.output = event.output;
  return converted;
}

function describe(record: ExecutionRecord): ExecutionDescription {
  return {
    ...summarize(record),
    stateMachineArn: record.stateMachineArn,
    input: record.input,
    output: record.output,
    error: record.error,
    cause: record.cause,
    events: [...record.events].sort((a, b) => a.elapsedMs - b.elapsedMs),
  };
}

function summarize(record: ExecutionRecord): ExecutionSummary {
  return {
    machine: record.machine,
    name: record.name,
    executionArn: record.executionArn,
    status: record.status,
    startDate: record.startDate,
    stopDate: record.stopDate,
  };
}

export class InvalidExecutionNameError extends Error {
  constructor(name: string) {
    super(
      `invalid execution name ${JSON.stringify(name)}: 1–80 characters, no whitespace, brackets, wildcards, ` +
        'control characters or any of " # % \\ ^ | ~ ` $ & , ; : /',
    );
    this.name = 'InvalidExecutionNameError';
  }
}

const FORBIDDEN_NAME_CHARACTERS = new Set('<>{}[]?*"#%\\^|~`$&,;:/');

/** Step Functions' execution name rules. */
function assertExecutionName(name: string): void {
  const valid =
    name.length >= 1 &&
    name.length <= 80 &&
    [...name].every((char) => {
      const code = char.codePointAt(0) ?? 0;
      const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f);
      return !control && !/\s/.test(char) && !FORBIDDEN_NAME_CHARACTERS.has(char);
    });
  if (!valid) throw new InvalidExecutionNameError(name);
}

function positive(option: string, value: number): number {
  if (!(value > 0 && Number.isFinite(value))) {
    throw new RangeError(`${option} must be a positive number (got ${value})`);
  }
  return value;
}

function delay<T = undefined>(ms: number, value?: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value as T), Math.max(0, ms)).unref());
}
