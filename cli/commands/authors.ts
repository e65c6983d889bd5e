/**
 * `pluginops authors show|grant|revoke|signers`: who may publish under an author (operator key).
 * Tenant keys publish only under authors granted to their tenant; reserved and bound authors
 * need a signature by a bound signer (docs/security.md).
 */
import { Command } from 'commander';
import { type CliIo, printJson } from '#cli/output.ts';
import { connect, parseTenantId, type RemoteOptions, remoteCommand } from '#cli/remote-command.ts';

function authorPath(author: string): string {
  return `/v1/authors/${encodeURIComponent(author)}`;
}

function parseAuthor(value: string): string {
  if (!/^[a-z0-9_-]{1,64}$/.test(value)) throw new Error(`"${value}" is not an author (a-z, 0-9, "_", "-").`);
  return value;
}

export function authorsCommand(io: CliIo): Command {
  return new Command('authors')
    .description('Grant authors to tenants and bind signers to authors (operator)')
    .addCommand(
      remoteCommand('show')
        .description('Whether an author is reserved, its bound signers and its tenants')
        .argument('<author>', 'manifest author', parseAuthor)
        .action(async (author: string, options: RemoteOptions) => {
          const client = await connect(io, options);
          const { body: view } = await client.request('GET', authorPath(author));
          if (options.json) printJson(io, view);
          else io.stdout(`${JSON.stringify(view, null, 2)}\n`);
        }),
    )
    .addCommand(
      remoteCommand('grant')
        .description("Let a tenant's keys publish under an author")
        .argument('<author>', 'manifest author', parseAuthor)
        .argument('<tenant>', 'tenant id', parseTenantId)
        .action(async (author: string, tenant: string, options: RemoteOptions) => {
          const client = await connect(io, options);
          const { body: grant } = await client.request(
            'PUT',
            `${authorPath(author)}/tenants/${encodeURIComponent(tenant)}`,
          );
          if (options.json) printJson(io, grant);
          else io.stdout(`granted: ${author} → ${tenant}\n`);
        }),
    )
    .addCommand(
      remoteCommand('revoke')
        .description("Stop a tenant's keys publishing under an author")
        .argument('<author>', 'manifest author', parseAuthor)
        .argument('<tenant>', 'tenant id', parseTenantId)
        .action(async (author: string, tenant: string, options: RemoteOptions) => {
          const client = await connect(io, options);
          await client.request('DELETE', `${authorPath(author)}/tenants/${encodeURIComponent(tenant)}`);
          if (options.json) printJson(io, { author, tenant_id: tenant, granted: false });
          else io.stdout(`revoked: ${author} → ${tenant}\n`);
        }),
    )
    .addCommand(
      remoteCommand('signers')
        .description('Bind the signers every build of an author must be signed by (none: unbind)')
        .argument('<author>', 'manifest author', parseAuthor)
        .argument('[signers...]', 'signer key ids (POST /v1/signers)')
        .action(async (author: string, signers: string[], options: RemoteOptions) => {
          const client = await connect(io, options);
          const { body: view } = await client.request('PUT', `${authorPath(author)}/signers`, {
            json: { signers },
          });
          if (options.json) printJson(io, view);
          else io.stdout(`${author}: ${signers.length === 0 ? 'no bound signers' : signers.join(', ')}\n`);
        }),
    );
}
