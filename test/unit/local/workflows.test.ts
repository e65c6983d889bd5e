/**
 * The local workflow engine on small ASL files generated here, with test task handlers
 * registered through `resolveTaskHandler` (no functions/tasks needed). Waits are scaled by
 * `timeScale` so Retry backoff and timeouts run in milliseconds.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ExecutionNameConflictError,
  TaskNotPendingError,
  WorkflowEngineUnavailableError,
} from '#adapters/workflow.ts';
import { ASL_VALIDATION_CACHE } from '#local/workflow-definitions.ts';
import {
  createLocalWorkflowEngine,
  type ExecutionDescription,
  InvalidExecutionNameError,
  type LocalWorkflowEngine,
  type LocalWorkflowEngineOptions,
  type PutEventsEntry,
  type TaskHandler,
  WorkflowDefinitionError,
} from '#local/workflows.ts';

/** `${Name}` as it appears in ASL. */
const ph = (name: string) => `\${${name}}`;

class TransientError extends Error {
  constructor(message = 'try again') {
    super(message);
    this.name = 'TransientError';
  }
}

class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

const dirs: string[] = [];
const engines: LocalWorkflowEngine[] = [];

afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop(1_000)));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes `<name>.asl.json` files into a fresh dir and starts an engine on them. */
function engineFor(
  definitions: Record<string, unknown>,
  handlers: Record<string, TaskHandler>,
  options: Partial<LocalWorkflowEngineOptions> = {},
): LocalWorkflowEngine {
  const dir = mkdtempSync(join(tmpdir(), 'pluginops-asl-'));
  dirs.push(dir);
  for (const [name, definition] of Object.entries(definitions)) {
    writeFileSync(join(dir, `${name}.asl.json`), JSON.stringify(definition, null, 2));
  }
  const engine = createLocalWorkflowEngine({
    statemachinesDir: dir,
    stage: 'test',
    mainTable: 'pluginops-test-main',
    bucket: 'pluginops-test-packages',
    timeScale: 0.001,
    timeoutScale: 0.001,
    resolveTaskHandler: (task) => {
      const handler = handlers[task];
      if (handler === undefined) throw new Error(`test has no handler for task ${task}`);
      return handler;
    },
    ...options,
  });
  engines.push(engine);
  return engine;
}

async function run(
  engine: LocalWorkflowEngine,
  input: Record<string, unknown> = {},
  machine = 'deploy',
  name = `run-${Math.random().toString(36).slice(2)}`,
): Promise<ExecutionDescription> {
  await engine.startExecution(machine, name, input);
  return engine.waitForExecution(name, 5_000);
}

function statesEntered(execution: ExecutionDescription): string[] {
  return execution.events.filter((event) => event.type === 'StateEntered').map((event) => event.state ?? '');
}

/** Task → Choice → Task, with function-ARN resources as CDK fills them. */
const PLAN_AND_APPLY = {
  Comment: 'fixture',
  StartAt: 'Plan',
  States: {
    Plan: {
      Type: 'Task',
      Comment: 'plan',
      Resource: ph('ResolvePlanFunctionArn'),
      ResultPath: '$.plan',
      Next: 'NeedsWork',
    },
    NeedsWork: {
      Type: 'Choice',
      Comment: 'anything to do?',
      Choices: [{ Variable: '$.plan.count', NumericGreaterThan: 0, Next: 'Apply' }],
      Default: 'Nothing',
    },
    Apply: { Type: 'Task', Comment: 'apply', Resource: ph('ApplyFunctionArn'), End: true },
    Nothing: { Type: 'Succeed', Comment: 'nothing to do' },
  },
};

describe('running state machines', () => {
  it('runs Task → Choice → Task with each task handler, in the background', async () => {
    const seen: unknown[] = [];
    const engine = engineFor(
      { deploy: PLAN_AND_APPLY },
      {
        'resolve-plan': async (input: any) => ({ count: input.plugins.length }),
        apply: async (input: any, context) => {
          seen.push({ input, functionName: context.functionName });
          return { applied: input.plan.count, at: new Date(0) };
        },
      },
    );

    const started = await engine.startExecution('deploy', 'd-1', { plugins: ['a', 'b'] });
    expect(started).toEqual({
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:pluginops-test-deploy:d-1',
      alreadyStarted: false,
    });
    expect(engine.describeExecution('d-1')?.status).toBe('RUNNING');
    expect(seen).toEqual([]);

    const done = await engine.waitForExecution('d-1');
    expect(done.status).toBe('SUCCEEDED');
    // Crossing the Lambda boundary is a JSON round trip (the Date became a string).
    expect(done.output).toEqual({ applied: 2, at: '1970-01-01T00:00:00.000Z' });
    expect(seen).toEqual([
      { input: { plugins: ['a', 'b'], plan: { count: 2 } }, functionName: 'pluginops-test-task-apply' },
    ]);
    expect(statesEntered(done)).toEqual(['Plan', 'NeedsWork', 'Apply']);
    const exited = done.events.find((event) => event.type === 'StateExited' && event.state === 'Plan');
    expect(exited).toMatchObject({ output: { plugins: ['a', 'b'], plan: { count: 2 } } });
    expect(exited?.durationMs).toBeGreaterThanOrEqual(0);
    expect(done.stopDate).toBeInstanceOf(Date);
    expect(engine.listExecutions()).toEqual([expect.objectContaining({ name: 'd-1', status: 'SUCCEEDED' })]);
  });

  it('takes the Choice default when the plan is empty', async () => {
    const engine = engineFor(
      { deploy: PLAN_AND_APPLY },
      { 'resolve-plan': async () => ({ count: 0 }), apply: async () => ({}) },
    );
    const done = await run(engine, { plugins: [] });
    expect(statesEntered(done)).toEqual(['Plan', 'NeedsWork', 'Nothing']);
  });

  it('wraps lambda:invoke results in Payload, like Step Functions', async () => {
    const engine = engineFor(
      {
        deploy: {
          StartAt: 'Verify',
          States: {
            Verify: {
              Type: 'Task',
              Comment: 'optimized integration',
              Resource: 'arn:aws:states:::lambda:invoke',
              Parameters: { FunctionName: ph('VerifyFunctionArn'), 'Payload.$': '$.pkg' },
              ResultSelector: { 'verified.$': '$.Payload', 'status.$': '$.StatusCode' },
              End: true,
            },
          },
        },
      },
      { verify: async (input: any) => ({ ok: true, name: input.name }) },
    );
    const done = await run(engine, { pkg: { name: 'a/b' } });
    expect(done.output).toEqual({ verified: { ok: true, name: 'a/b' }, status: 200 });
  });

  it('exposes $$.Execution.Name and Id to Parameters', async () => {
    const engine = engineFor(
      {
        deploy: {
          StartAt: 'Echo',
          States: {
            Echo: {
              Type: 'Task',
              Comment: 'echo the context',
              Resource: ph('EchoFunctionArn'),
              Parameters: {
                'name.$': '$$.Execution.Name',
                'id.$': '$$.Execution.Id',
                table: ph('TableName'),
              },
              End: true,
            },
          },
        },
      },
      { echo: async (input) => input },
    );
    const done = await run(engine, {}, 'deploy', 'ctx-1');
    expect(done.output).toEqual({
      name: 'ctx-1',
      id: 'arn:aws:states:us-east-1:000000000000:execution:pluginops-test-deploy:ctx-1',
      table: 'pluginops-test-main',
    });
  });

  it('fails the execution with the thrown error name and a Lambda-style cause', async () => {
    const engine = engineFor(
      { deploy: PLAN_AND_APPLY },
      {
        'resolve-plan': async () => {
          throw new PlanError('b ^2 conflicts with b ^1');
        },
        apply: async () => ({}),
      },
    );
    const done = await run(engine);
    expect(done).toMatchObject({ status: 'FAILED', error: 'PlanError' });
    expect(JSON.parse(done.cause ?? '')).toEqual({
      errorType: 'PlanError',
      errorMessage: 'b ^2 conflicts with b ^1',
    });
    expect(done.events.map((event) => event.type)).toContain('ExecutionFailed');
  });

  it('times out the whole execution after its (scaled) TimeoutSeconds', async () => {
    const engine = engineFor(
      {
        deploy: {
          StartAt: 'Slow',
          TimeoutSeconds: 20,
          States: { Slow: { Type: 'Wait', Comment: 'too long', Seconds: 3600, End: true } },
        },
      },
      {},
    );
    const done = await run(engine);
    expect(done).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
  });
});

describe('errors, Retry and Catch', () => {
  const RETRYING = {
    StartAt: 'Probe',
    States: {
      Probe: {
        Type: 'Task',
        Comment: 'flaky',
        Resource: ph('ProbeFunctionArn'),
        Retry: [
          {
            ErrorEquals: ['TransientError'],
            IntervalSeconds: 100,
            BackoffRate: 2,
            MaxAttempts: 3,
            JitterStrategy: 'NONE',
          },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rollback' }],
        End: true,
      },
      Rollback: { Type: 'Task', Comment: 'undo', Resource: ph('RollbackFunctionArn'), End: true },
    },
  };

  it('retries a custom error with scaled exponential backoff, then succeeds', async () => {
    const calls: number[] = [];
    const engine = engineFor(
      { deploy: RETRYING },
      {
        probe: async () => {
          calls.push(Date.now());
          if (calls.length < 3) throw new TransientError();
          return { healthy: true };
        },
        rollback: async () => ({ rolledBack: true }),
      },
      { timeScale: 0.0005 }, // 100 s → 50 ms, then 100 ms
    );
    const done = await run(engine);
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { healthy: true } });
    expect(calls).toHaveLength(3);
    const [first, second, third] = calls as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(45);
    expect(third - second).toBeGreaterThanOrEqual(95);
    const retries = done.events.filter((event) => event.type === 'StateRetried');
    expect(retries.map((event) => event.retryAttempt)).toEqual([1, 2]);
  });

  it('catches after MaxAttempts into the fallback, with Error and Cause at ResultPath', async () => {
    let probes = 0;
    const engine = engineFor(
      { deploy: RETRYING },
      {
        probe: async () => {
          probes += 1;
          throw new TransientError('host did not confirm');
        },
        rollback: async (input: any) => ({ caught: input.error.Error, cause: JSON.parse(input.error.Cause) }),
      },
      { timeScale: 0.0001 },
    );
    const done = await run(engine);
    expect(probes).toBe(4);
    expect(done.output).toEqual({
      caught: 'TransientError',
      cause: { errorType: 'TransientError', errorMessage: 'host did not confirm' },
    });
    expect(done.events.find((event) => event.type === 'StateCaught')).toMatchObject({
      state: 'Probe',
      next: 'Rollback',
    });
  });

  it('scales Retry waits without shrinking task timeouts (timeScale vs timeoutScale)', async () => {
    let probes = 0;
    const slow = structuredClone(RETRYING);
    Object.assign(slow.States.Probe, { TimeoutSeconds: 1 });
    const engine = engineFor(
      { deploy: slow },
      {
        probe: async () => {
          probes += 1;
          await new Promise((resolve) => setTimeout(resolve, 150));
          if (probes === 1) throw new TransientError();
          return { healthy: true };
        },
        rollback: async () => ({}),
      },
      { timeScale: 0.0001, timeoutScale: 1 },
    );
    const done = await run(engine);
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { healthy: true } });
    expect(probes).toBe(2);
  });

  it('does not retry errors the retrier does not name, but States.ALL catches them', async () => {
    let probes = 0;
    const engine = engineFor(
      { deploy: RETRYING },
      {
        probe: async () => {
          probes += 1;
          throw new Error('plain');
        },
        rollback: async (input: any) => input.error.Error,
      },
    );
    const done = await run(engine);
    expect(probes).toBe(1);
    expect(done.output).toBe('Error');
  });
});

/** Approval: the handler stores the token; someone answers it later. */
function approvalMachine(catchers: unknown[] = []) {
  return {
    StartAt: 'AwaitApproval',
    States: {
      AwaitApproval: {
        Type: 'Task',
        Comment: 'wait for a human',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: {
          FunctionName: ph('RequestApprovalFunctionArn'),
          Payload: { 'token.$': '$$.Task.Token', 'deployment.$': '$$.Execution.Name' },
        },
        TimeoutSeconds: 50,
        ResultPath: '$.approval',
        Catch: catchers,
        Next: 'Approved',
      },
      Approved: { Type: 'Pass', Comment: 'go on', End: true },
      // Only the targets a catcher names: unreachable states fail validation.
      ...Object.fromEntries(
        Object.entries(CATCH_TARGETS).filter(([state]) =>
          catchers.some((catcher) => (catcher as { Next: string }).Next === state),
        ),
      ),
    },
  };
}

const CATCH_TARGETS = {
  Rejected: {
    Type: 'Pass',
    Comment: 'rejected',
    Parameters: { 'rejected.$': '$.error.Error', 'cause.$': '$.error.Cause' },
    End: true,
  },
  TimedOut: { Type: 'Pass', Comment: 'nobody answered', Result: 'timed out', End: true },
  WrongPath: { Type: 'Pass', Comment: 'must not happen for timeouts', Result: 'task failed', End: true },
};

describe('waitForTaskToken', () => {
  function approvalEngine(catchers?: unknown[]) {
    const requests: Array<{ token: string; deployment: string }> = [];
    const engine = engineFor(
      { deploy: approvalMachine(catchers) },
      {
        'request-approval': async (input: any) => {
          requests.push(input);
          return { ignored: true };
        },
      },
    );
    return { engine, requests };
  }

  it('waits for sendTaskSuccess and continues with its output', async () => {
    const { engine, requests } = approvalEngine();
    await engine.startExecution('deploy', 'a-1', { plugin: 'x' });
    const pending = await engine.waitForPendingTask({ execution: 'a-1', state: 'AwaitApproval' });
    expect(requests).toEqual([{ token: pending.token, deployment: 'a-1' }]);
    expect(engine.describeExecution('a-1')?.status).toBe('RUNNING');

    await engine.sendTaskSuccess(pending.token, { approvedBy: 'ops' });
    const done = await engine.waitForExecution('a-1');
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      output: { plugin: 'x', approval: { approvedBy: 'ops' } },
    });
    expect(engine.pendingTasks()).toEqual([]);
    await expect(engine.sendTaskSuccess(pending.token, {})).rejects.toBeInstanceOf(TaskNotPendingError);
  });

  it('fails the state with the name given to sendTaskFailure, so Catch matches it', async () => {
    const { engine } = approvalEngine([
      { ErrorEquals: ['ApprovalRejected'], ResultPath: '$.error', Next: 'Rejected' },
    ]);
    await engine.startExecution('deploy', 'a-2', {});
    const pending = await engine.waitForPendingTask({ execution: 'a-2' });
    await engine.sendTaskFailure(pending.token, 'ApprovalRejected', 'not this week');
    const done = await engine.waitForExecution('a-2');
    expect(done.output).toEqual({ rejected: 'ApprovalRejected', cause: 'not this week' });
  });

  it('times out with States.Timeout (not matched by States.TaskFailed) and rejects late answers', async () => {
    const { engine } = approvalEngine([
      { ErrorEquals: ['States.TaskFailed'], Next: 'WrongPath' },
      { ErrorEquals: ['States.Timeout'], Next: 'TimedOut' },
    ]);
    await engine.startExecution('deploy', 'a-3', {});
    const pending = await engine.waitForPendingTask({ execution: 'a-3' });
    const done = await engine.waitForExecution('a-3');
    expect(done.output).toBe('timed out');
    const failure = done.events.find((event) => event.type === 'StateFailed');
    expect(failure).toMatchObject({ state: 'AwaitApproval', error: 'States.Timeout' });
    await expect(engine.sendTaskSuccess(pending.token, {})).rejects.toMatchObject({
      name: 'TaskNotPendingError',
      reason: 'timed-out',
    });
  });

  it('resolves TimeoutSecondsPath against the state input, as Step Functions does', async () => {
    const payloads: unknown[] = [];
    const machine = approvalMachine([{ ErrorEquals: ['States.Timeout'], Next: 'TimedOut' }]);
    const { TimeoutSeconds: _, ...awaitApproval } = machine.States.AwaitApproval;
    machine.States.AwaitApproval = {
      ...awaitApproval,
      TimeoutSecondsPath: '$.approval.timeout_seconds',
    } as any;
    const engine = engineFor(
      { deploy: machine },
      { 'request-approval': async (input) => void payloads.push(input) },
    );
    await engine.startExecution('deploy', 'tsp-1', { approval: { timeout_seconds: 1 } });
    const pending = await engine.waitForPendingTask({ execution: 'tsp-1' });
    const done = await engine.waitForExecution('tsp-1', 5_000);
    expect(done.output).toBe('timed out');
    // Whole seconds, not scaled: the engine takes integers only for TimeoutSecondsPath.
    const failed = done.events.find((event) => event.type === 'StateFailed');
    expect(failed?.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(payloads).toEqual([{ token: pending.token, deployment: 'tsp-1' }]);
    await expect(engine.sendTaskSuccess(pending.token, {})).rejects.toMatchObject({ reason: 'timed-out' });
  });

  it('accepts an answer that arrives before the handler returns', async () => {
    let answer: (() => Promise<void>) | undefined;
    const engine = engineFor(
      { deploy: approvalMachine() },
      {
        'request-approval': async (input: any) => {
          answer = () => engine.sendTaskSuccess(input.token, { fast: true });
          await answer();
          return {};
        },
      },
    );
    const done = await run(engine);
    expect(answer).toBeDefined();
    expect(done.output).toMatchObject({ approval: { fast: true } });
  });

  it('gives every waitForTaskToken state and every Map iteration its own token', async () => {
    const tokens: string[] = [];
    const waitState = (next: Record<string, unknown>) => ({
      Type: 'Task',
      Comment: 'callback',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: ph('NotifyFunctionArn'), Payload: { 'token.$': '$$.Task.Token' } },
      ResultPath: null,
      ...next,
    });
    const engine = engineFor(
      {
        deploy: {
          StartAt: 'First',
          States: {
            First: waitState({ Next: 'Second' }),
            Second: waitState({ Next: 'Each' }),
            Each: {
              Type: 'Map',
              Comment: 'one callback per item',
              ItemsPath: '$.items',
              MaxConcurrency: 3,
              ItemProcessor: { StartAt: 'PerItem', States: { PerItem: waitState({ End: true }) } },
              End: true,
            },
          },
        },
      },
      {
        notify: async (input: any) => {
          tokens.push(input.token);
          // Answer from outside the handler, like the approval API would.
          setTimeout(() => void engine.sendTaskSuccess(input.token, {}), 5);
          return {};
        },
      },
    );
    const done = await run(engine, { items: [1, 2, 3] });
    expect(done.status).toBe('SUCCEEDED');
    expect(tokens).toHaveLength(5);
    expect(new Set(tokens).size).toBe(5);
  });

  it('issues a new token when a waitForTaskToken state is retried', async () => {
    const tokens: string[] = [];
    const machine = approvalMachine();
    Object.assign(machine.States.AwaitApproval, {
      Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 2 }],
    });
    const engine = engineFor(
      { deploy: machine },
      {
        'request-approval': async (input: any) => {
          tokens.push(input.token);
          if (tokens.length === 1) throw new TransientError();
          setTimeout(() => void engine.sendTaskSuccess(input.token, { ok: 1 }), 1);
          return {};
        },
      },
    );
    const done = await run(engine);
    expect(done.status).toBe('SUCCEEDED');
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe(tokens[1]);
  });
});

describe('starting by name', () => {
  it('starts once per name: a duplicate reports alreadyStarted and does not run again', async () => {
    let plans = 0;
    const engine = engineFor(
      { deploy: PLAN_AND_APPLY },
      {
        'resolve-plan': async () => {
          plans += 1;
          return { count: 0 };
        },
        apply: async () => ({}),
      },
    );
    const first = await engine.startExecution('deploy', 'dup', { plugin: 'x' });
    const second = await engine.startExecution('deploy', 'dup', { plugin: 'x' });
    expect(second).toEqual({ executionArn: first.executionArn, alreadyStarted: true });
    await engine.waitForExecution('dup');
    const third = await engine.startExecution('deploy', 'dup', { plugin: 'x' });
    expect(third.alreadyStarted).toBe(true);
    expect(plans).toBe(1);
    await expect(engine.startExecution('deploy', 'dup', { plugin: 'y' })).rejects.toBeInstanceOf(
      ExecutionNameConflictError,
    );
  });

  it('rejects unknown machines and invalid names', async () => {
    const engine = engineFor({ deploy: PLAN_AND_APPLY }, {});
    await expect(engine.startExecution('sweep', 's', {})).rejects.toBeInstanceOf(
      WorkflowEngineUnavailableError,
    );
    await expect(engine.startExecution('deploy', 'has space', {})).rejects.toBeInstanceOf(
      InvalidExecutionNameError,
    );
    await expect(engine.startExecution('deploy', 'x'.repeat(81), {})).rejects.toBeInstanceOf(
      InvalidExecutionNameError,
    );
  });

  it('fails waitForExecution with the state it is stuck in', async () => {
    const { engine } = {
      engine: engineFor({ deploy: approvalMachine() }, { 'request-approval': async () => ({}) }),
    };
    await engine.startExecution('deploy', 'stuck', {});
    await expect(engine.waitForExecution('stuck', 50)).rejects.toThrow(/still RUNNING.*AwaitApproval/);
  });
});

describe('nested executions and events', () => {
  it('starts a deploy from the sweep (async and .sync:2) and publishes events', async () => {
    const published: PutEventsEntry[] = [];
    const engine = engineFor(
      {
        deploy: {
          StartAt: 'Apply',
          States: { Apply: { Type: 'Task', Comment: 'apply', Resource: ph('ApplyFunctionArn'), End: true } },
        },
        sweep: {
          StartAt: 'StartOne',
          States: {
            StartOne: {
              Type: 'Task',
              Comment: 'fire and forget',
              Resource: 'arn:aws:states:::states:startExecution',
              Parameters: {
                StateMachineArn: ph('DeployStateMachineArn'),
                Name: 'auto-1',
                'Input.$': '$.first',
              },
              ResultPath: '$.started',
              Next: 'RunOne',
            },
            RunOne: {
              Type: 'Task',
              Comment: 'wait for it',
              Resource: 'arn:aws:states:::states:startExecution.sync:2',
              Parameters: {
                StateMachineArn: ph('DeployStateMachineArn'),
                Name: 'auto-2',
                'Input.$': '$.second',
              },
              ResultSelector: { 'output.$': '$.Output', 'status.$': '$.Status' },
              ResultPath: '$.ran',
              Next: 'Announce',
            },
            Announce: {
              Type: 'Task',
              Comment: 'summary event',
              Resource: 'arn:aws:states:::events:putEvents',
              Parameters: {
                Entries: [
                  {
                    EventBusName: ph('EventBusName'),
                    Source: 'pluginops',
                    DetailType: 'Sweep Finished',
                    'Detail.$': '$.ran',
                  },
                ],
              },
              ResultPath: null,
              End: true,
            },
          },
        },
      },
      { apply: async (input: any) => ({ applied: input.plugin }) },
      { publishEvents: async (entries) => void published.push(...entries) },
    );
    const done = await run(engine, { first: { plugin: 'a' }, second: { plugin: 'b' } }, 'sweep');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.output).toMatchObject({
      started: {
        ExecutionArn: 'arn:aws:states:us-east-1:000000000000:execution:pluginops-test-deploy:auto-1',
      },
      ran: { output: { applied: 'b' }, status: 'SUCCEEDED' },
    });
    expect((await engine.waitForExecution('auto-1')).output).toEqual({ applied: 'a' });
    expect(published).toEqual([
      {
        source: 'pluginops',
        detailType: 'Sweep Finished',
        detail: { output: { applied: 'b' }, status: 'SUCCEEDED' },
        eventBusName: 'pluginops-test',
      },
    ]);
  });
});

describe('abort and fault injection', () => {
  /** Lock → Apply → Release, any failure → Undo; counts handler calls. */
  function crashEngine() {
    const calls: Record<string, number> = { acquire: 0, apply: 0, release: 0, undo: 0 };
    const count = (task: string) => async () => {
      calls[task] = (calls[task] ?? 0) + 1;
      return { [task]: true };
    };
    const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Undo' }];
    const engine = engineFor(
      {
        deploy: {
          StartAt: 'Acquire',
          States: {
            Acquire: {
              Type: 'Task',
              Comment: 'lock',
              Resource: ph('AcquireFunctionArn'),
              ResultPath: null,
              Next: 'Apply',
            },
            Apply: {
              Type: 'Task',
              Comment: 'write',
              Resource: ph('ApplyFunctionArn'),
              ResultPath: null,
              Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 2 }],
              Catch: catchAll,
              Next: 'Release',
            },
            Release: {
              Type: 'Task',
              Comment: 'unlock',
              Resource: ph('ReleaseFunctionArn'),
              ResultPath: null,
              End: true,
            },
            Undo: { Type: 'Task', Comment: 'rollback', Resource: ph('UndoFunctionArn'), End: true },
          },
        },
      },
      { acquire: count('acquire'), apply: count('apply'), release: count('release'), undo: count('undo') },
    );
    return { engine, calls };
  }

  it("'throw' before: the handler never runs, the error goes through Retry", async () => {
    const { engine, calls } = crashEngine();
    const fault = engine.injectFault({
      machine: 'deploy',
      state: 'Apply',
      when: 'before',
      mode: 'throw',
      errorName: 'TransientError',
    });
    const done = await run(engine);
    expect(done.status).toBe('SUCCEEDED');
    expect(calls).toEqual({ acquire: 1, apply: 1, release: 1, undo: 0 });
    expect(fault).toMatchObject({ fired: 1, remaining: 0 });
    expect(done.events.filter((event) => event.type === 'StateRetried')).toHaveLength(1);
    expect(done.events.find((event) => event.type === 'FaultInjected')).toMatchObject({
      state: 'Apply',
      error: 'TransientError',
    });
  });

  it("'throw' after: the handler's writes happened, then the state fails into Catch", async () => {
    const { engine, calls } = crashEngine();
    engine.injectFault({
      machine: 'deploy',
      state: 'Apply',
      when: 'after',
      mode: 'throw',
      errorName: 'Crashed',
      times: 5,
    });
    const done = await run(engine);
    expect(calls).toEqual({ acquire: 1, apply: 1, release: 0, undo: 1 });
    expect(done.events.find((event) => event.type === 'StateFailed')).toMatchObject({
      state: 'Apply',
      error: 'Crashed',
    });
  });

  it("'abort' before: the run stops at that state, no Catch, no handler", async () => {
    const { engine, calls } = crashEngine();
    engine.injectFault({ machine: 'deploy', state: 'Apply', when: 'before', mode: 'abort' });
    const done = await run(engine);
    expect(done.status).toBe('ABORTED');
    expect(calls).toEqual({ acquire: 1, apply: 0, release: 0, undo: 0 });
  });

  it("'abort' after: the handler ran, nothing after it did", async () => {
    const { engine, calls } = crashEngine();
    engine.injectFault({ machine: 'deploy', state: 'Apply', when: 'after', mode: 'abort' });
    const done = await run(engine);
    expect(done.status).toBe('ABORTED');
    expect(calls).toEqual({ acquire: 1, apply: 1, release: 0, undo: 0 });
    // The fault fired once; a fresh run goes through.
    expect((await run(engine)).status).toBe('SUCCEEDED');
  });

  it('faults can target one execution and are validated against the machine', async () => {
    const { engine, calls } = crashEngine();
    engine.injectFault({
      machine: 'deploy',
      state: 'Apply',
      when: 'before',
      mode: 'abort',
      execution: 'victim',
    });
    expect((await run(engine, {}, 'deploy', 'bystander')).status).toBe('SUCCEEDED');
    expect((await run(engine, {}, 'deploy', 'victim')).status).toBe('ABORTED');
    expect(calls.apply).toBe(1);
    expect(() =>
      engine.injectFault({ machine: 'deploy', state: 'Aply', when: 'before', mode: 'abort' }),
    ).toThrow(/no Task state Aply/);
    expect(() =>
      engine.injectFault({ machine: 'nope', state: 'Apply', when: 'before', mode: 'abort' }),
    ).toThrow(/no state machine nope/);
  });

  it('abortExecution stops a run waiting for a callback: ABORTED, token closed, no Catch', async () => {
    let rejected = 0;
    const engine = engineFor(
      { deploy: approvalMachine([{ ErrorEquals: ['States.ALL'], Next: 'Rejected' }]) },
      { 'request-approval': async () => ({}) },
    );
    await engine.startExecution('deploy', 'ab-1', {});
    const pending = await engine.waitForPendingTask({ execution: 'ab-1' });
    const aborted = await engine.abortExecution('ab-1');
    expect(aborted.status).toBe('ABORTED');
    expect(statesEntered(aborted)).toEqual(['AwaitApproval']);
    await engine.sendTaskSuccess(pending.token, {}).catch(() => {
      rejected += 1;
    });
    expect(rejected).toBe(1);
    expect(engine.pendingTasks()).toEqual([]);
  });

  it('stop() aborts running executions and refuses new ones', async () => {
    const engine = engineFor({ deploy: approvalMachine() }, { 'request-approval': async () => ({}) });
    await engine.startExecution('deploy', 'st-1', {});
    await engine.waitForPendingTask({ execution: 'st-1' });
    await engine.stop(1_000);
    expect(engine.describeExecution('st-1')?.status).toBe('ABORTED');
    await expect(engine.startExecution('deploy', 'st-2', {})).rejects.toBeInstanceOf(
      WorkflowEngineUnavailableError,
    );
  });
});

describe('loading ASL files', () => {
  const load = (definition: unknown, options: Partial<LocalWorkflowEngineOptions> = {}) =>
    engineFor({ deploy: definition }, {}, options);

  it('substitutes CDK placeholders with local names', () => {
    const engine = load(PLAN_AND_APPLY);
    const machine = engine.machines.get('deploy');
    expect(machine?.arn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:pluginops-test-deploy');
    expect((machine!.definition.States.Plan as { Resource: string }).Resource).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:pluginops-test-task-resolve-plan',
    );
    expect([...(machine?.tasks.values() ?? [])].map((task) => [task.state, task.kind])).toEqual([
      ['Plan', 'function'],
      ['Apply', 'function'],
    ]);
  });

  it('fails on an unknown placeholder', () => {
    const definition = structuredClone(PLAN_AND_APPLY);
    definition.States.Apply.Resource = ph('ApplyLambdaArn');
    expect(() => load(definition)).toThrow(/unknown substitution \$\{ApplyLambdaArn\}/);
  });

  it('fails when a task file is missing (without a resolver)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pluginops-tasks-'));
    dirs.push(dir);
    expect(() => load(PLAN_AND_APPLY, { resolveTaskHandler: undefined, tasksDir: dir })).toThrow(
      /functions\/tasks\/apply\.ts does not exist/,
    );
  });

  it('fails on an invalid definition, naming the file', () => {
    const definition = structuredClone(PLAN_AND_APPLY);
    definition.States.Plan.Next = 'Missing';
    expect(() => load(definition)).toThrow(WorkflowDefinitionError);
    expect(() => load(definition)).toThrow(/deploy\.asl\.json: State machine definition is invalid/);
  });

  it('remembers a definition that passed validation, never one that failed', () => {
    const markers = () => (existsSync(ASL_VALIDATION_CACHE) ? readdirSync(ASL_VALIDATION_CACHE).length : 0);
    const valid = { ...structuredClone(PLAN_AND_APPLY), Comment: `unique ${Math.random()}` };
    const before = markers();
    load(valid);
    expect(markers()).toBe(before + 1);
    load(valid);
    expect(markers()).toBe(before + 1);
    const invalid = structuredClone(valid);
    invalid.States.Plan.Next = 'Missing';
    expect(() => load(invalid)).toThrow(WorkflowDefinitionError);
    expect(() => load(invalid)).toThrow(WorkflowDefinitionError);
    expect(markers()).toBe(before + 1);
  });

  it('validates a file once for stacks that differ only in their names, unless a name is unusual', () => {
    const markers = () => (existsSync(ASL_VALIDATION_CACHE) ? readdirSync(ASL_VALIDATION_CACHE).length : 0);
    const valid = { ...structuredClone(PLAN_AND_APPLY), Comment: `unique ${Math.random()}` };
    const before = markers();
    for (const stage of ['one', 'two']) {
      const machine = load(valid, {
        stage,
        mainTable: `pluginops-${stage}-main`,
        bucket: `pluginops-${stage}-packages`,
      }).machines.get('deploy');
      // Each stack still runs its own names.
      expect(JSON.stringify(machine?.definition)).toContain(`pluginops-${stage}-task-apply`);
    }
    expect(markers()).toBe(before + 1);
    // Names outside letters, digits and hyphens are validated as the stack fills them.
    load(valid, { stage: 'three', mainTable: 'pluginops_three.main' });
    expect(markers()).toBe(before + 2);
    const invalid = structuredClone(valid);
    invalid.States.Plan.Next = 'Missing';
    expect(() => load(invalid, { stage: 'four', mainTable: 'pluginops-four-main' })).toThrow(
      WorkflowDefinitionError,
    );
  });

  it('fails on resources the local engine cannot run', () => {
    const definition = structuredClone(PLAN_AND_APPLY);
    definition.States.Apply.Resource = 'arn:aws:states:::dynamodb:putItem';
    expect(() => load(definition)).toThrow(/dynamodb:putItem cannot run locally/);
  });

  it('fails on a waitForTaskToken state that does not pass the token', () => {
    const definition = approvalMachine();
    definition.States.AwaitApproval.Parameters.Payload = {
      'token.$': '$.nothing',
      'deployment.$': '$$.Execution.Name',
    };
    expect(() => load(definition)).toThrow(/must pass \$\$\.Task\.Token/);
  });

  it('starts with no machines when there are no ASL files', () => {
    const engine = engineFor({}, {});
    expect(engine.machines.size).toBe(0);
  });
});
