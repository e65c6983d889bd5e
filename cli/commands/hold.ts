/**
 * `pluginops hold clear <tenant> <plugin_id>`: clears the auto-upgrade hold a rolled-back
 * deployment put on the failed identifier, so auto-upgrade may try it again.
 */
import { Command } from 'commander';
import { pluginPath, tenantPath } from '#cli/client.ts';
import { type CliIo, printJson } from '#cli/output.ts';
import {
  connect,
  parsePluginId,
  parseTenantId,
  type RemoteOptions,
  remoteCommand,
} from '#cli/remote-command.ts';

export function holdCommand(io: CliIo): Command {
  return new Command('hold').description('Manage auto-upgrade holds set by rollbacks').addCommand(
    remoteCommand('clear')
      .description('Clear the hold on a plugin (auto-upgrade may retry the held version)')
      .argument('<tenant>', 'tenant id', parseTenantId)
      .argument('<plugin_id>', 'author/name', parsePluginId)
      .action(async (tenant: string, pluginId: string, options: RemoteOptions) => {
        const client = await connect(io, options);
        await client.request('DELETE', `${tenantPath(tenant)}/installations/${pluginPath(pluginId)}/hold`);
        if (options.json) printJson(io, { tenant_id: tenant, plugin_id: pluginId, hold: null });
        else io.stdout(`hold cleared: ${pluginId} on ${tenant}\n`);
      }),
  );
}
