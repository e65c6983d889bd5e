/**
 * The one shape of a deploy workflow task: run the step with its ports, keep its timeline entry,
 * and leave the state machine an error name it can Retry or Catch on:
 * - `TransientError` — throttling, 5xx, network: retried by the ASL with backoff and jitter;
 * - `ProbeFailed` — the runtime did not confirm the change (retried, then rolled back);
 * - `ProblemError` — a domain failure; its problem is stored as the deployment's `error` first,
 *   so the failure path never has to parse the ASL `Cause` (whose shape differs between AWS and
 *   the local engine).
 *
 * Timeline bookkeeping costs no request of its own: a step's entries travel in the state
 * (`timeline`) and are written with the next write the workflow makes to the deployment anyway
 * (Resolve's plan, Apply's revision transaction, Release's final status, a failure's error). So
 * the stored timeline may trail a running deployment by a step, and is complete once it ends.
 */
import type { DeploymentPlan, DeploymentStep, StepName } from '#core/deploy/model.ts';
import type { DeployPorts } from '#core/deploy/ports.ts';
import { type Problem, ProblemError, toProblem } from '#core/errors.ts';
import { logger } from '#shared/logger.ts';

/** What travels between states. */
export interface DeployState {
  deployment_id: string;
  tenant_id: string;
  approval?: { required: boolean; timeout_seconds: number };
  /** The frozen plan (Resolve): what Verify judged is exactly what Apply applies. */
  plan?: DeploymentPlan;
  /** How many times Acquire sent this run back to Resolve. */
  replans?: number;
  /** Acquire's verdict: false sends the run back to Resolve (the `PlanHolds` Choice). */
  plan_holds?: boolean;
  /** The deployment's fixed facts and the tenant policy (Resolve), so later steps need not re-read them. */
  facts?: unknown;
  policy?: unknown;
  /** What Resolve found installed: `{plugin_id, unique_identifier, version, status}` per plugin. */
  installed?: unknown;
  /** The deployment as the API stored it (the execution input), read by Resolve instead of DynamoDB. */
  deployment?: unknown;
  /** Timeline entries not yet written. */
  timeline?: DeploymentStep[];
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

/** What a step gets besides its input. */
export interface StepContext {
  now: Date;
  /**
   * The timeline entries to write with the step's own write to the deployment: the pending ones
   * and this step's (running, or ended with `ended`). Once taken, they are not carried on.
   */
  timeline(ended?: 'succeeded'): DeploymentStep[];
}

export type StepImpl<I extends DeployState, O> = (input: I, context: StepContext) => Promise<O>;

/** Statuses in which a task may still write the deployment's error. */
const OPEN = ['pending', 'running', 'awaiting_approval'] as const;

export function deployTask<I extends DeployState, O>(
  step: StepName,
  impl: StepImpl<I, O>,
  ports: () => DeployPorts,
): (input: I) => Promise<O> {
  return async (input) => {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const started = ports().clock();
    const pending = [...(input.timeline ?? [])];
    const taken: { by: 'none' | 'running' | 'ended' } = { by: 'none' };
    const entry = (status: DeploymentStep['status'], at: Date, error?: Problem): DeploymentStep => ({
      name: step,
      status,
      started_at: started.toISOString(),
      ...(status === 'running' ? {} : { ended_at: at.toISOString() }),
      ...(error === undefined ? {} : { error }),
    });
    const context: StepContext = {
      now: started,
      timeline(ended) {
        const entries = [...pending.splice(0), entry(ended ?? 'running', ports().clock())];
        taken.by = ended === undefined ? 'running' : 'ended';
        return entries;
      },
    };
    try {
      const output = await impl(input, context);
      if (output !== null && typeof output === 'object') {
        const carried = taken.by === 'ended' ? pending : [...pending, entry('succeeded', ports().clock())];
        return { ...output, timeline: carried } as O;
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
      // One write: the step's failed entry (and those still pending), and the problem it ended with.
      const failed = [...pending, entry('failed', ports().clock(), problem ?? toProblem(error))];
      await ports()
        .deployments.update(
          tenantId,
          deploymentId,
          { steps: failed, ...(problem === undefined ? {} : { error: problem }) },
          ports().clock(),
          problem === undefined ? undefined : OPEN,
        )
        .catch(() => undefined);
      if (isTransient(error)) {
        throw new TransientError(`${step}: ${(error as Error).message ?? String(error)}`, { cause: error });
      }
      throw error;
    }
  };
}
