/**
 * `pluginops approve|reject <tenant> <deployment_id> [--comment]` (admin key): decides a
 * deployment awaiting approval. A deployment that is not waiting (already decided, finished)
 * answers 409 → exit 4.
 */
import type { Command } from 'commander';
import type { Deployment } from '#cli/api-types.ts';
import { tenantPath } from '#cli/client.ts';
import { describeTarget } from '#cli/deployment-view.ts';
import { type CliIo, printFields, printJson } from '#cli/output.ts';
import { connect, parseTenantId, type RemoteOptions, remoteCommand } from '#cli/remote-command.ts';

interface DecisionOptions extends RemoteOptions {
  comment?: string;
}

export function approveCommand(io: CliIo): Command {
  return decisionCommand(io, 'approve');
}

export function rejectCommand(io: CliIo): Command {
  return decisionCommand(io, 'reject');
}

function decisionCommand(io: CliIo, decision: 'approve' | 'reject'): Command {
  return remoteCommand(decision)
    .description(
      decision === 'approve'
        ? 'Approve a deployment awaiting approval; the workflow goes on'
        : 'Reject a deployment awaiting approval; nothing changes on the tenant',
    )
    .argument('<tenant>', 'tenant id', parseTenantId)
    .argument('<deployment_id>', 'the deployment (as printed by deploy or status)')
    .option('--comment <text>', 'recorded with the decision')
    .action(async (tenant: string, deploymentId: string, options: DecisionOptions) => {
      const client = await connect(io, options);
      const { body } = await client.post<Deployment>(
        `${tenantPath(tenant)}/deployments/${encodeURIComponent(deploymentId)}/${decision}`,
        { json: options.comment === undefined ? {} : { comment: options.comment } },
      );
      if (options.json) {
        printJson(io, body);
        return;
      }
      printFields(io, [
        ['deployment_id', body.deployment_id],
        ['operation', `${body.operation} ${describeTarget(body)}`],
        ['decision', body.approval?.decision ?? `${decision}d`],
        ['status', body.status],
        ['comment', body.approval?.comment],
      ]);
    });
}
