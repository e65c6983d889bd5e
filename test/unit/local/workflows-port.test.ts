/**
 * The workflow port (`#adapters/workflow.ts`): which engine a call goes to, and how the Step
 * Functions implementation treats duplicate starts and dead task tokens. Step Functions is a
 * small HTTP server speaking its JSON protocol (`AWS_ENDPOINT_URL_SFN`), recording each call.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ExecutionNameConflictError,
  setLocalWorkflowEngine,
  TaskNotPendingError,
  type WorkflowEngine,
  WorkflowEngineUnavailableError,
  workflowEngine,
} from '#adapters/workflow.ts';
import { resetConfigCache } from '#config/runtime-config.ts';

const DEPLOY_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:pluginops-dev-deploy';

interface SfnCall {
  action: string;
  body: Record<string, unknown>;
}
type SfnReply = { status: number; body: Record<string, unknown> };

let server: Server;
let reply: (call: SfnCall) => SfnReply = () => ({ status: 200, body: {} });
const calls: SfnCall[] = [];
const ENV = [
  'AWS_ENDPOINT_URL_SFN',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'PLUGINOPS_DEPLOY_STATE_MACHINE_ARN',
] as const;
const savedEnv = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += chunk;
    });
    request.on('end', () => {
      const call = {
        action: String(request.headers['x-amz-target']).replace('AWSStepFunctions.', ''),
        body: JSON.parse(text) as Record<string, unknown>,
      };
      calls.push(call);
      const { status, body } = reply(call);
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.AWS_ENDPOINT_URL_SFN = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  resetConfigCache();
});

afterEach(() => {
  setLocalWorkflowEngine(undefined);
  delete process.env.PLUGINOPS_DEPLOY_STATE_MACHINE_ARN;
  resetConfigCache();
  calls.length = 0;
});

/** Points the deploy machine at Step Functions (the configuration is read once, so re-read it). */
function useDeployStateMachine(): void {
  process.env.PLUGINOPS_DEPLOY_STATE_MACHINE_ARN = DEPLOY_ARN;
  resetConfigCache();
}

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfigCache();
});

/** A local engine stand-in that records what reaches it. */
function recordingEngine() {
  const seen: unknown[][] = [];
  const engine: WorkflowEngine = {
    startExecution: async (...args) => {
      seen.push(['start', ...args]);
      return { executionArn: 'local-arn', alreadyStarted: false };
    },
    sendTaskSuccess: async (...args) => void seen.push(['success', ...args]),
    sendTaskFailure: async (...args) => void seen.push(['failure', ...args]),
  };
  return { engine, seen };
}

describe('choosing the engine', () => {
  it('fails clearly when neither a state machine ARN nor a local engine is configured', async () => {
    await expect(workflowEngine().startExecution('deploy', 'd-1', {})).rejects.toThrow(
      WorkflowEngineUnavailableError,
    );
    await expect(workflowEngine().startExecution('deploy', 'd-1', {})).rejects.toThrow(
      /PLUGINOPS_DEPLOY_STATE_MACHINE_ARN is not set/,
    );
    await expect(workflowEngine().sendTaskSuccess('t', {})).rejects.toThrow(WorkflowEngineUnavailableError);
  });

  it('uses the registered local engine when no ARN is set', async () => {
    const { engine, seen } = recordingEngine();
    setLocalWorkflowEngine(engine);
    await workflowEngine().startExecution('sweep', 's-1', { slot: 3 });
    await workflowEngine().sendTaskSuccess('tok', { ok: true });
    await workflowEngine().sendTaskFailure('tok', 'Rejected', 'no');
    expect(seen).toEqual([
      ['start', 'sweep', 's-1', { slot: 3 }],
      ['success', 'tok', { ok: true }],
      ['failure', 'tok', 'Rejected', 'no'],
    ]);
    expect(calls).toEqual([]);
  });

  it('prefers Step Functions when the machine ARN is set', async () => {
    const { engine, seen } = recordingEngine();
    setLocalWorkflowEngine(engine);
    useDeployStateMachine();
    reply = () => ({ status: 200, body: { executionArn: `${DEPLOY_ARN}:d-1`, startDate: 1 } });
    await workflowEngine().startExecution('deploy', 'd-1', {});
    await workflowEngine().sendTaskSuccess('tok', {});
    expect(seen).toEqual([]);
    expect(calls.map((call) => call.action)).toEqual(['StartExecution', 'SendTaskSuccess']);
  });
});

describe('Step Functions', () => {
  const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:pluginops-dev-deploy:d-1';

  it('starts an execution with the name and the input as JSON', async () => {
    useDeployStateMachine();
    reply = () => ({ status: 200, body: { executionArn, startDate: 1 } });
    const started = await workflowEngine().startExecution('deploy', 'd-1', { plugin: 'a/b' });
    expect(started).toEqual({ executionArn, alreadyStarted: false });
    expect(calls[0]?.body).toEqual({ stateMachineArn: DEPLOY_ARN, name: 'd-1', input: '{"plugin":"a/b"}' });
  });

  it('treats ExecutionAlreadyExists with the same input as already started', async () => {
    useDeployStateMachine();
    reply = (call) =>
      call.action === 'StartExecution'
        ? { status: 400, body: { __type: 'ExecutionAlreadyExists', message: 'Execution Already Exists' } }
        : {
            status: 200,
            body: { executionArn, input: '{"plugin":"a/b"}', status: 'SUCCEEDED', startDate: 1 },
          };
    const started = await workflowEngine().startExecution('deploy', 'd-1', { plugin: 'a/b' });
    expect(started).toEqual({ executionArn, alreadyStarted: true });
    expect(calls[1]).toEqual({ action: 'DescribeExecution', body: { executionArn } });
  });

  it('reports a name reused with a different input as a conflict', async () => {
    useDeployStateMachine();
    reply = (call) =>
      call.action === 'StartExecution'
        ? { status: 400, body: { __type: 'ExecutionAlreadyExists', message: 'Execution Already Exists' } }
        : { status: 200, body: { executionArn, input: '{"plugin":"c/d"}', status: 'RUNNING', startDate: 1 } };
    await expect(workflowEngine().startExecution('deploy', 'd-1', { plugin: 'a/b' })).rejects.toBeInstanceOf(
      ExecutionNameConflictError,
    );
  });

  it('turns dead task tokens into TaskNotPendingError', async () => {
    useDeployStateMachine();
    reply = (call) => ({
      status: 400,
      body: { __type: call.action === 'SendTaskSuccess' ? 'TaskTimedOut' : 'TaskDoesNotExist', message: 'x' },
    });
    await expect(workflowEngine().sendTaskSuccess('tok', { ok: 1 })).rejects.toMatchObject({
      name: 'TaskNotPendingError',
      reason: 'timed-out',
      status: 409,
    });
    await expect(workflowEngine().sendTaskFailure('tok', 'Rejected', 'no')).rejects.toBeInstanceOf(
      TaskNotPendingError,
    );
    expect(calls.map((call) => call.body)).toEqual([
      { taskToken: 'tok', output: '{"ok":1}' },
      { taskToken: 'tok', error: 'Rejected', cause: 'no' },
    ]);
  });
});
