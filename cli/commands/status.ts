/**
 * `pluginops status <tenant>`: what the tenant runs (installations, holds, deployments holding a
 * plugin). `--expect <unique_identifier>` makes it a post-deploy check: exit 5 unless each one is
 * installed and healthy (status installed, no hold on it).
 * `pluginops status <tenant> <deployment_id>`: one deployment with its step timeline; exit 5 when
 * it ended failed, rolled back or rejected; `--wait` follows it to its end.
 */
import type { Command } from 'commander';
import type { Deployment, Installation, Page } from '#cli/api-types.ts';
import { FAILED_STATUSES } from '#cli/api-types.ts';
import { type ApiClient, tenantPath } from '#cli/client.ts';
import { formatDuration, renderDeploymentFrame, shortIdentifier } from '#cli/deployment-view.ts';
import { assertSucceeded } from '#cli/follow.ts';
import { CliExitError, type CliIo, EXIT_CODES, printJson, printTable, useColour } from '#cli/output.ts';
import {
  collectList,
  connect,
  parseTenantId,
  type RemoteOptions,
  remoteCommand,
} from '#cli/remote-command.ts';
import { addWaitOptions, reportDeployment, type WaitOptions } from './deploy.ts';

interface StatusOptions extends RemoteOptions, WaitOptions {
  expect?: string[];
}

/** Most installation pages read for one status (100 each). */
const MAX_PAGES = 50;

export function statusCommand(io: CliIo): Command {
  const command = remoteCommand('status')
    .description('Show what a tenant has installed, or one deployment with its steps')
    .argument('<tenant>', 'tenant id', parseTenantId)
    .argument('[deployment_id]', 'a deployment to show instead of the installations')
    .option(
      '--expect <unique_identifier>',
      'exit 5 unless this identifier is installed without a hold (repeatable, comma lists)',
      collectList,
    );
  return addWaitOptions(command).action(
    async (tenant: string, deploymentId: string | undefined, options: StatusOptions) => {
      const client = await connect(io, options);
      if (deploymentId !== undefined) {
        await showDeployment(io, client, tenant, deploymentId, options);
        return;
      }
      const items = await listInstallations(client, tenant);
      const expectations = (options.expect ?? []).map((uid) => expectation(uid, items));
      if (options.json) {
        printJson(io, {
          tenant_id: tenant,
          items,
          ...(expectations.length === 0 ? {} : { expectations }),
        });
      } else {
        printInstallations(io, items);
        for (const check of expectations) {
          io.stdout(`${check.ok ? 'ok  ' : 'FAIL'} ${check.unique_identifier}: ${check.reason}\n`);
        }
      }
      const failed = expectations.filter((check) => !check.ok);
      if (failed.length > 0) {
        throw new CliExitError(
          `error[verification-failed] ${failed.length} of ${expectations.length} expected identifiers are not healthy on ${tenant}: ${failed.map((check) => `${check.unique_identifier} (${check.reason})`).join('; ')}`,
          EXIT_CODES.deploymentFailed,
        );
      }
    },
  );
}

export async function listInstallations(client: ApiClient, tenant: string): Promise<Installation[]> {
  const items: Installation[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const { body } = await client.get<Page<Installation>>(`${tenantPath(tenant)}/installations`, {
      query: { limit: 100, cursor },
    });
    items.push(...body.items);
    if (body.next_cursor === null || body.next_cursor === undefined) break;
    cursor = body.next_cursor;
  }
  return items;
}

export interface Expectation {
  unique_identifier: string;
  ok: boolean;
  reason: string;
}

export function expectation(uniqueIdentifier: string, items: readonly Installation[]): Expectation {
  const pluginId = uniqueIdentifier.slice(0, uniqueIdentifier.indexOf(':'));
  const item = items.find((entry) => entry.plugin_id === pluginId);
  const fail = (reason: string) => ({ unique_identifier: uniqueIdentifier, ok: false, reason });
  if (item === undefined || item.status !== 'installed' || item.unique_identifier === null) {
    return fail(`${pluginId} is not installed`);
  }
  if (item.unique_identifier !== uniqueIdentifier) {
    return fail(`${pluginId} runs ${shortIdentifier(item.unique_identifier)} instead`);
  }
  // A hold on the expected build itself means auto-upgrade gave up on it; a hold on another
  // (failed) build is the normal state after an automatic rollback to this one.
  if (item.hold !== undefined && item.hold.unique_identifier === uniqueIdentifier) {
    return fail(`held: ${item.hold.reason}`);
  }
  if (item.deployment_id !== undefined) return fail(`deployment ${item.deployment_id} is still changing it`);
  return { unique_identifier: uniqueIdentifier, ok: true, reason: `installed, revision ${item.revision}` };
}

function printInstallations(io: CliIo, items: readonly Installation[]): void {
  printTable(
    io,
    ['plugin', 'version', 'rev', 'status', 'hold', 'deployment', 'updated'],
    items.map((item) => [
      item.plugin_id,
      item.version,
      item.revision,
      item.status,
      item.hold === undefined ? undefined : `held ${shortIdentifier(item.hold.unique_identifier)}`,
      item.deployment_id,
      item.updated_at,
    ]),
    '(no plugins installed)',
  );
}

async function showDeployment(
  io: CliIo,
  client: ApiClient,
  tenant: string,
  deploymentId: string,
  options: StatusOptions,
): Promise<void> {
  const { body } = await client.get<Deployment>(
    `${tenantPath(tenant)}/deployments/${encodeURIComponent(deploymentId)}`,
  );
  if (options.wait) {
    await reportDeployment(io, client, body, options);
    return;
  }
  if (options.json) {
    printJson(io, body);
  } else {
    const lines = renderDeploymentFrame(body, { now: Date.now(), tick: 0, colour: useColour(io) });
    io.stdout(`${lines.join('\n')}\n`);
    if (body.approval !== undefined) {
      io.stdout(
        `approval: ${body.approval.decision}${body.approval.by === undefined ? '' : ` by ${body.approval.by}`}${body.approval.comment === undefined ? '' : ` — ${body.approval.comment}`}\n`,
      );
    }
    io.stdout(`age: ${formatDuration(Date.now() - Date.parse(body.created_at))}\n`);
  }
  if (FAILED_STATUSES.has(body.status)) {
    assertSucceeded({ deployment: body, timedOut: false }, { timeoutSeconds: 0, json: options.json });
  }
}
