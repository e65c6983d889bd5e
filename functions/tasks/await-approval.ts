/**
 * Deploy workflow task `AwaitApproval` (invoked with `.waitForTaskToken`): stores the task token on
 * the deployment, marks it awaiting approval and emits `Approval Requested`. The step ends when the
 * approve/reject API answers the token, or the state times out.
 */
import { type DeployState, deployTask } from '#services/deploy-task.ts';
import { awaitApprovalStep } from '#services/deploy-workflow.ts';

export const handler = deployTask<DeployState & { task_token: string }, void>(
  'AwaitApproval',
  awaitApprovalStep,
  {
    endsStep: false,
  },
);
