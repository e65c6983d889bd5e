/**
 * Deploy workflow task `AwaitApproval` (invoked with `.waitForTaskToken`): stores the task token on
 * the deployment, marks it awaiting approval and emits `Approval Requested`. The step ends when the
 * approve/reject API answers the token, or the state times out.
 */

import { deployStepHandler } from '#services/deploy-ports.ts';
import type { DeployState } from '#services/deploy-task.ts';

export const handler = deployStepHandler<DeployState & { task_token: string }, void>(
  'AwaitApproval',
  (steps) => steps.awaitApproval,
);
