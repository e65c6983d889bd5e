/**
 * `DELETE /v1/rollouts/{unique_identifier}/halt` (operator, admin): resumes a canary rollout the
 * sweep halted. The build is then open to every tenant at its next run; the halt record stays on
 * the rollout with who resumed it and when. 404 without a rollout, 409 when it is not halted.
 */

import { resumeRollout } from '#adapters/dynamo/sweep-store.ts';
import { actorOf } from '#services/deploy.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { RolloutParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, idempotent: true, params: RolloutParams },
  async ({ params, event, now }) => {
    const rollout = await resumeRollout(params.unique_identifier, actorOf(callerOf(event)), now);
    return jsonResponse(200, rollout);
  },
);
