/**
 * The one shape of a deploy workflow task: record the step as started, run it, record how it
 * ended, and leave the state machine an error name it can Retry or Catch on:
 * - `TransientError` — throttling, 5xx, network: retried by the ASL with backoff and jitter;
 * - `ProbeFailed` — the runtime did not confirm the change (retried, then rolled back);
 * - `ProblemError` — a domain failure; its problem is stored as the deployment's `error` first,
 *   so the failure path never has to parse the ASL `Cause` (whose shape differs between AWS and
 *   the local engine).
 */
import { recordStep, updateDeployment } from '#adapters/dynamo/deployments.ts';
import type { StepName } from '#core/deploy/model.ts';
import { type Problem, ProblemError, toProblem } from '#core/errors.ts';
import { logger } from '#shared/logger.ts';

/** What travels between states: ids only; everything else is read from DynamoDB. */
export interface DeployState {
  deployment_id: string;
  tenant_id: string;
  approval?: { required: boolean; timeout_seconds: number };
  /** Set by a Catch (`ResultPath: $.error`). */
  error?: { Error?: string; Cause?: string };
  [extra: string]: unknown;
}

export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** The runtime did not confirm the change; carries the problem recorded on the deployment. */
export class ProbeFailedError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail);
    this.name = 'ProbeFailed';
    this.problem = problem;
  }
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TimeoutError',
  'SlowDown',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

export function isTransient(error: unknown): boolean {
  if (error instanceof ProblemError) return false;
  const candidate = error as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    CancellationReasons?: Array<{ Code?: string }>;
  };
  if (candidate === null || typeof candidate !== 'object') return false;
  if (candidate.$retryable !== undefined) return true;
  if (candidate.name !== undefined && TRANSIENT_NAMES.has(candidate.name)) return true;
  if (candidate.code !== undefined && TRANSIENT_CODES.has(candidate.code)) return true;
  if ((candidate.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return (candidate.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict');
}

export interface TaskOptions {
  /** False for a step that ends later (AwaitApproval ends with the decision). Default true. */
  endsStep?: boolean;
}

/** Statuses in which a task may still write the deployment's error. */
const OPEN = ['pending', 'running', 'awaiting_approval'] as const;

export function deployTask<I extends DeployState, O>(
  step: StepName,
  impl: (input: I, now: Date) => Promise<O>,
  options: TaskOptions = {},
): (input: I) => Promise<O> {
  return async (input) => {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    try {
      // Inside the try: a throttled first write must leave as TransientError (retried), like any other.
      await recordStep(tenantId, deploymentId, step, { status: 'running' }, new Date());
      const output = await impl(input, new Date());
      if (options.endsStep !== false) {
        await recordStep(tenantId, deploymentId, step, { status: 'succeeded' }, new Date());
      }
      return output;
    } catch (error) {
      const problem: Problem | undefined =
        error instanceof ProblemError
          ? error.toProblem()
          : error instanceof ProbeFailedError
            ? error.problem
            : undefined;
      // A refused package or a failed probe is an outcome, not a fault of the service.
      const expected = problem !== undefined || isTransient(error);
      (expected ? logger.info.bind(logger) : logger.warn.bind(logger))('deploy step failed', {
        step,
        deployment_id: deploymentId,
        tenant_id: tenantId,
        error: error as Error,
      });
      await recordStep(
        tenantId,
        deploymentId,
        step,
        { status: 'failed', error: problem ?? toProblem(error) },
        new Date(),
      ).catch(() => undefined);
      if (problem !== undefined) {
        await updateDeployment(tenantId, deploymentId, { error: problem }, new Date(), OPEN);
      }
      if (isTransient(error)) {
        throw new TransientError(`${step}: ${(error as Error).message ?? String(error)}`, { cause: error });
      }
      throw error;
    }
  };
}
