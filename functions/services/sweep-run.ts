/**
 * Starting a sweep: from the schedule (local croner, or EventBridge on AWS) and from
 * `POST /v1/sweeps`. An execution is named after its window (`sweep-20260101T1000Z`) and its
 * input is the window's end, so a duplicate tick for the same window is the same execution and
 * changes nothing twice; an operator's re-run of a window that already ran gets a suffix.
 */
import { describeExecution, type ExecutionState, workflowEngine } from '#adapters/workflow.ts';
import type { SweepSummary } from '#core/auto-upgrade/records.ts';
import { sweepWindow } from '#core/auto-upgrade/schedule.ts';

/** `2026-01-01T10:00:00.000Z` → `sweep-20260101T1000Z` (Step Functions names allow `[A-Za-z0-9_-]`). */
export function sweepExecutionName(windowStart: Date): string {
  const iso = windowStart.toISOString();
  return `sweep-${iso.slice(0, 10).replaceAll('-', '')}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

export interface StartedSweep {
  name: string;
  executionArn: string;
  /** The window's execution existed already (a duplicate tick, or a run still in progress). */
  alreadyStarted: boolean;
}

/** Starts (or finds) the sweep of the window elapsed at `at`. */
export async function startSweep(
  at: Date,
  options: { rerun?: boolean; now?: Date } = {},
): Promise<StartedSweep> {
  const window = sweepWindow(at);
  const base = sweepExecutionName(window.start);
  const name =
    options.rerun === true ? `${base}-rerun-${(options.now ?? new Date()).getTime().toString(36)}` : base;
  const started = await workflowEngine().startExecution('sweep', name, { at: window.end.toISOString() });
  return { name, executionArn: started.executionArn, alreadyStarted: started.alreadyStarted };
}

export type SweepRunResult =
  | { status: 'succeeded'; execution: string; summary: SweepSummary }
  | { status: 'running'; execution: string }
  | { status: 'failed'; execution: string; error: string | undefined; cause: string | undefined };

const POLL_MS = 200;

async function waitForExecution(
  executionArn: string,
  timeoutMs: number,
): Promise<ExecutionState | undefined> {
  const deadline = Date.now() + timeoutMs;
  let state = await describeExecution('sweep', executionArn);
  while ((state === undefined || state.status === 'RUNNING') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    state = await describeExecution('sweep', executionArn);
  }
  return state;
}

/**
 * Runs the sweep of the window elapsed at `at` and waits for its summary (at most `timeoutMs`).
 * The window's own execution is used when it does not exist yet or is still running; a window
 * that was already swept is swept again under a suffixed name (tenants it already handled are no
 * longer due, so a re-run only picks up what changed since).
 */
export async function runSweep(at: Date, now: Date, timeoutMs = 25_000): Promise<SweepRunResult> {
  let started = await startSweep(at);
  if (started.alreadyStarted) {
    const existing = await describeExecution('sweep', started.executionArn);
    if (existing !== undefined && existing.status !== 'RUNNING')
      started = await startSweep(at, { rerun: true, now });
  }
  const state = await waitForExecution(started.executionArn, timeoutMs);
  if (state === undefined || state.status === 'RUNNING')
    return { status: 'running', execution: started.name };
  if (state.status === 'SUCCEEDED') {
    return { status: 'succeeded', execution: started.name, summary: state.output as SweepSummary };
  }
  return { status: 'failed', execution: started.name, error: state.error, cause: state.cause };
}
