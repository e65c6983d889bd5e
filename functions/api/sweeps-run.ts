/**
 * `POST /v1/sweeps` (operator, admin) `{at?}`: runs the auto-upgrade sweep of the window elapsed
 * at `at` (default now) through the same state machine the schedule starts, and returns its
 * summary. Waits at most ~25 s (API Gateway's limit is 30 s); a sweep still running then answers
 * 202 with the execution name.
 */
import { isSweepInstantAllowed } from '#core/auto-upgrade/schedule.ts';
import { ProblemError, ValidationError } from '#core/errors.ts';
import { runSweep } from '#services/sweep-run.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { SweepBody } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, body: SweepBody },
  async ({ body, now }) => {
    const at = body.at === undefined ? now : new Date(body.at);
    if (!isSweepInstantAllowed(at, now)) {
      throw new ValidationError('A sweep may run as if at most 7 days before or after now.', [
        { path: 'body.at', message: 'more than 7 days from now' },
      ]);
    }
    const result = await runSweep(at, now);
    if (result.status === 'running') {
      return jsonResponse(202, { execution: result.execution, status: 'running' });
    }
    if (result.status === 'failed') {
      throw new ProblemError(
        'internal',
        `Sweep ${result.execution} failed (${result.error ?? 'unknown error'}).`,
      );
    }
    return jsonResponse(200, { execution: result.execution, status: 'succeeded', ...result.summary });
  },
);
