/**
 * The workflow port: start a state machine execution by name, and answer a `.waitForTaskToken`
 * callback. On AWS it is Step Functions (the ARN of each machine comes from
 * `PLUGINOPS_<MACHINE>_STATE_MACHINE_ARN`); locally it is the in-process engine that
 * `local/stack.ts` registers with {@link setLocalWorkflowEngine}, running the same ASL files.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { stateMachineArnVariable } from '#config/names.ts';
import { getConfig } from '#config/runtime-config.ts';
import { ConflictError, type ProblemErrorOptions } from '#core/errors.ts';
import { lazyModule } from './lazy-module.ts';

export type StateMachineName = 'deploy' | 'sweep';

export interface StartResult {
  executionArn: string;
  alreadyStarted: boolean;
}

export interface WorkflowEngine {
  /**
   * Idempotent by name: a second start with the same name (and input) returns
   * `alreadyStarted: true`; the same name with a different input is an
   * {@link ExecutionNameConflictError}.
   */
  startExecution(
    machine: StateMachineName,
    name: string,
    input: Record<string, unknown>,
  ): Promise<StartResult>;
  /** Completes a `.waitForTaskToken` state; {@link TaskNotPendingError} when the token is not waiting. */
  sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void>;
  /** Fails a `.waitForTaskToken` state with `error` as the ASL error name (Retry/Catch match on it). */
  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void>;
}

/** The name was used before for this state machine with a different input. */
export class ExecutionNameConflictError extends ConflictError {
  readonly machine: string;
  readonly executionName: string;

  constructor(machine: string, executionName: string, options?: ProblemErrorOptions) {
    super(
      `An execution of ${machine} named ${executionName} already exists with a different input.`,
      options,
    );
    this.name = 'ExecutionNameConflictError';
    this.machine = machine;
    this.executionName = executionName;
  }
}

/**
 * The task token is not waiting for a callback: it never existed, was already answered, its
 * execution has ended, or its state timed out (`reason: 'timed-out'`).
 */
export class TaskNotPendingError extends ConflictError {
  readonly reason: 'timed-out' | 'not-pending';

  constructor(reason: 'timed-out' | 'not-pending', options?: ProblemErrorOptions) {
    super(
      reason === 'timed-out'
        ? 'The workflow step waiting for this callback has timed out.'
        : 'No workflow step is waiting for this callback (unknown token, already answered, or the run has ended).',
      options,
    );
    this.name = 'TaskNotPendingError';
    this.reason = reason;
  }
}

/** Neither a state machine ARN nor a local engine is configured: a deployment or setup bug. */
export class WorkflowEngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowEngineUnavailableError';
  }
}

/** `deploy` → `PLUGINOPS_DEPLOY_STATE_MACHINE_ARN` (the names live in `#config/names.ts`). */
export { stateMachineArnVariable };

let localEngine: WorkflowEngine | undefined;

/** The local runtime registers its engine here (and `undefined` when it stops). */
export function setLocalWorkflowEngine(engine: WorkflowEngine | undefined): void {
  localEngine = engine;
}

/**
 * The engine for this process. Decided per call, not once: a machine with
 * `PLUGINOPS_<MACHINE>_STATE_MACHINE_ARN` set goes to Step Functions, otherwise to the
 * registered local engine. Task callbacks go to Step Functions when any machine ARN is set.
 */
export function workflowEngine(): WorkflowEngine {
  return routingEngine;
}

const routingEngine: WorkflowEngine = {
  async startExecution(machine, name, input) {
    const stateMachineArn = getConfig().stateMachineArns[machine];
    if (stateMachineArn) return startStepFunctionsExecution(machine, stateMachineArn, name, input);
    return requireLocalEngine(stateMachineArnVariable(machine)).startExecution(machine, name, input);
  },
  async sendTaskSuccess(taskToken, output) {
    if (stepFunctionsConfigured()) return sendStepFunctionsTaskSuccess(taskToken, output);
    return requireLocalEngine('PLUGINOPS_DEPLOY_STATE_MACHINE_ARN').sendTaskSuccess(taskToken, output);
  },
  async sendTaskFailure(taskToken, error, cause) {
    if (stepFunctionsConfigured()) return sendStepFunctionsTaskFailure(taskToken, error, cause);
    return requireLocalEngine('PLUGINOPS_DEPLOY_STATE_MACHINE_ARN').sendTaskFailure(taskToken, error, cause);
  },
};

function requireLocalEngine(variable: string): WorkflowEngine {
  if (localEngine !== undefined) return localEngine;
  throw new WorkflowEngineUnavailableError(
    `No workflow engine: ${variable} is not set and no local engine is registered ` +
      '(the local runtime registers one in local/stack.ts).',
  );
}

function stepFunctionsConfigured(): boolean {
  return Object.values(getConfig().stateMachineArns).some(Boolean);
}

type SfnSdk = typeof import('@aws-sdk/client-sfn');

/** The Step Functions SDK, loaded on first use (locally, never: the in-process engine runs). */
const sfnSdk = lazyModule(() => import('@aws-sdk/client-sfn'));
let sharedClient: SFNClient | undefined;

async function sfn(): Promise<{ sdk: SfnSdk; client: SFNClient }> {
  const sdk = await sfnSdk();
  sharedClient ??= new sdk.SFNClient({ region: getConfig().region, maxAttempts: 4 });
  return { sdk, client: sharedClient };
}

async function startStepFunctionsExecution(
  machine: string,
  stateMachineArn: string,
  name: string,
  input: Record<string, unknown>,
): Promise<StartResult> {
  const { sdk, client } = await sfn();
  try {
    const started = await client.send(
      new sdk.StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    // A duplicate of a RUNNING standard execution with the same input also lands here (AWS
    // answers it like the first call), so alreadyStarted can only be reported from the error path.
    return {
      executionArn: started.executionArn ?? executionArnOf(stateMachineArn, name),
      alreadyStarted: false,
    };
  } catch (error) {
    if (!(error instanceof sdk.ExecutionAlreadyExists)) throw error;
    // Same name, and the run is closed or its input differs: read it to tell the two apart.
    const executionArn = executionArnOf(stateMachineArn, name);
    const existing = await client.send(new sdk.DescribeExecutionCommand({ executionArn }));
    if (existing.input !== undefined && !isDeepStrictEqual(JSON.parse(existing.input), jsonCopy(input))) {
      throw new ExecutionNameConflictError(machine, name, { cause: error });
    }
    return { executionArn, alreadyStarted: true };
  }
}

async function sendStepFunctionsTaskSuccess(
  taskToken: string,
  output: Record<string, unknown>,
): Promise<void> {
  const { sdk, client } = await sfn();
  try {
    await client.send(new sdk.SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
  } catch (error) {
    throw translateTokenError(sdk, error);
  }
}

async function sendStepFunctionsTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
  const { sdk, client } = await sfn();
  try {
    await client.send(new sdk.SendTaskFailureCommand({ taskToken, error, cause }));
  } catch (failure) {
    throw translateTokenError(sdk, failure);
  }
}

function translateTokenError(sdk: SfnSdk, error: unknown): unknown {
  if (error instanceof sdk.TaskTimedOut) return new TaskNotPendingError('timed-out', { cause: error });
  if (error instanceof sdk.TaskDoesNotExist || error instanceof sdk.InvalidToken) {
    return new TaskNotPendingError('not-pending', { cause: error });
  }
  return error;
}

/** How an execution stands, as far as callers that wait for one need to know. */
export interface ExecutionState {
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  /** Parsed JSON output once SUCCEEDED. */
  output?: unknown;
  error?: string;
  cause?: string;
}

/**
 * Reads an execution started through {@link WorkflowEngine.startExecution} (by the ARN it
 * returned): Step Functions `DescribeExecution` when the machine's ARN variable is set, else the
 * registered local engine (which offers `describeExecution(arn)`). `undefined` when unknown.
 */
export async function describeExecution(
  machine: StateMachineName,
  executionArn: string,
): Promise<ExecutionState | undefined> {
  if (getConfig().stateMachineArns[machine]) {
    const { sdk, client } = await sfn();
    const described = await client.send(new sdk.DescribeExecutionCommand({ executionArn }));
    if (described.status === undefined) return undefined;
    return {
      status: described.status,
      ...(described.output === undefined ? {} : { output: JSON.parse(described.output) as unknown }),
      ...(described.error === undefined ? {} : { error: described.error }),
      ...(described.cause === undefined ? {} : { cause: described.cause }),
    };
  }
  const local = requireLocalEngine(stateMachineArnVariable(machine)) as WorkflowEngine & {
    describeExecution?: (nameOrArn: string) => ExecutionState | undefined;
  };
  if (typeof local.describeExecution !== 'function') {
    throw new WorkflowEngineUnavailableError(
      'The registered local workflow engine cannot describe executions.',
    );
  }
  const found = local.describeExecution(executionArn);
  return found === undefined
    ? undefined
    : {
        status: found.status,
        ...(found.output === undefined ? {} : { output: found.output }),
        ...(found.error === undefined ? {} : { error: found.error }),
        ...(found.cause === undefined ? {} : { cause: found.cause }),
      };
}

/** `arn:…:stateMachine:pluginops-dev-deploy` + `d-1` → `arn:…:execution:pluginops-dev-deploy:d-1`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** What Step Functions stores: the input after a JSON round trip. */
function jsonCopy(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
