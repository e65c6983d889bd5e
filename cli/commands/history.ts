/** `pluginops history <tenant> <plugin_id>`: the plugin's revisions on the tenant, newest first. */
import type { Command } from 'commander';
import type { Page, Revision } from '#cli/api-types.ts';
import { pluginPath, tenantPath } from '#cli/client.ts';
import { shortIdentifier } from '#cli/deployment-view.ts';
import { type CliIo, printJson, printTable } from '#cli/output.ts';
import {
  connect,
  parsePluginId,
  parsePositiveInt,
  parseTenantId,
  type RemoteOptions,
  remoteCommand,
} from '#cli/remote-command.ts';

interface HistoryOptions extends RemoteOptions {
  limit: number;
  cursor?: string;
}

export function historyCommand(io: CliIo): Command {
  return remoteCommand('history')
    .description("Show a plugin's revisions on a tenant, newest first (what rollback --to-revision takes)")
    .argument('<tenant>', 'tenant id', parseTenantId)
    .argument('<plugin_id>', 'author/name', parsePluginId)
    .option('--limit <n>', 'revisions per page (1-100)', parsePositiveInt, 20)
    .option('--cursor <cursor>', 'the next_cursor of a previous page')
    .action(async (tenant: string, pluginId: string, options: HistoryOptions) => {
      const client = await connect(io, options);
      const { body } = await client.get<Page<Revision>>(
        `${tenantPath(tenant)}/installations/${pluginPath(pluginId)}/revisions`,
        { query: { limit: Math.min(options.limit, 100), cursor: options.cursor } },
      );
      if (options.json) {
        printJson(io, { tenant_id: tenant, plugin_id: pluginId, ...body });
        return;
      }
      printTable(
        io,
        ['rev', 'operation', 'version', 'outcome', 'identifier', 'actor', 'deployment', 'created'],
        body.items.map((revision) => [
          revision.revision,
          revision.operation,
          revision.version,
          revision.outcome,
          revision.unique_identifier === null ? null : shortIdentifier(revision.unique_identifier),
          revision.actor,
          revision.deployment_id,
          revision.created_at,
        ]),
        `(no revisions of ${pluginId} on ${tenant})`,
      );
      if (body.next_cursor !== null) io.stdout(`more: --cursor ${body.next_cursor}\n`);
    });
}
