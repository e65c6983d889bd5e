/**
 * `pluginops promote <unique_identifier> --from <profile> --to <profile> [--deploy <tenant>]`:
 * moves one exact build to the next stage. The target stage pulls the bytes itself by identifier
 * (`POST /v1/packages {source:"marketplace"}`; its `PLUGINOPS_MARKETPLACE_URL` points at the
 * source stage's `/v1/marketplace`, docs/decisions/002-marketplace-protocol.md) and re-checks them
 * with its own signers; the CLI then verifies the identifier it got is the one it asked for, so
 * what reaches prod is what was tested. With `--deploy` it also starts an install there, which
 * waits for approval when that stage's policy says so.
 */
import { Command } from 'commander';
import type { Deployment, PackageRecord } from '#cli/api-types.ts';
import { ApiClient } from '#cli/client.ts';
import { assertSucceeded, followDeployment } from '#cli/follow.ts';
import { type CliIo, envOf, printFields, printJson, RemoteProblemError } from '#cli/output.ts';
import { resolveProfile } from '#cli/profiles.ts';
import { parsePositiveNumber, parseTenantId, parseUniqueIdentifier } from '#cli/remote-command.ts';
import { ValidationError } from '#core/errors.ts';
import { addWaitOptions, startDeployment, type WaitOptions } from './deploy.ts';
import { assertIdentifier, publishPackage } from './publish.ts';

interface PromoteOptions extends WaitOptions {
  from: string;
  to: string;
  deploy?: string;
  idempotencyKey?: string;
  requestTimeout?: number;
  json: boolean;
}

export function promoteCommand(io: CliIo): Command {
  const command = new Command('promote')
    .description('Promote an exact build from one stage to the next (the target pulls it by identifier)')
    .argument('<unique_identifier>', 'the build to promote', parseUniqueIdentifier)
    .requiredOption('--from <profile>', 'profile of the source stage (where the build was tested)')
    .requiredOption('--to <profile>', 'profile of the target stage')
    .option('--deploy <tenant>', 'also install the build on this tenant of the target stage', parseTenantId)
    .option('--idempotency-key <key>', 'with --deploy: repeat the start safely')
    .option('--request-timeout <seconds>', 'deadline of each HTTP request (default 30)', parsePositiveNumber)
    .option('--json', 'print one JSON document on stdout', false);
  return addWaitOptions(command, 'the --deploy deployment').action(
    async (uniqueIdentifier: string, options: PromoteOptions) => {
      if (options.from === options.to) {
        throw new ValidationError('--from and --to name the same profile.', [
          { path: 'to', message: 'same as --from' },
        ]);
      }
      const warn = (line: string) => io.stderr(`${line}\n`);
      const source = new ApiClient(
        await resolveProfile(options.from, envOf(io), warn, options.requestTimeout),
      );
      const target = new ApiClient(await resolveProfile(options.to, envOf(io), warn, options.requestTimeout));

      // Fail early, with the stage named, if the source never had the build.
      await source.get<PackageRecord>(`/v1/packages/${encodeURIComponent(uniqueIdentifier)}`);
      const existing = await findPackage(target, uniqueIdentifier);
      const published =
        existing === undefined
          ? await publishPackage(
              io,
              target,
              { source: 'marketplace', unique_identifier: uniqueIdentifier },
              { progress: false },
            )
          : { package: existing, created: false };
      assertIdentifier(published.package, uniqueIdentifier);

      let deployment: Deployment | undefined;
      let outcome: Parameters<typeof assertSucceeded>[0] | undefined;
      if (options.deploy !== undefined) {
        deployment = await startDeployment(
          target,
          options.deploy,
          { operation: 'install', unique_identifier: uniqueIdentifier },
          options.idempotencyKey,
        );
        if (!options.json) printPromotion(io, options, published.package, existing === undefined);
        if (options.wait) {
          outcome = await followDeployment(io, target, deployment, {
            timeoutSeconds: options.timeout,
            json: options.json,
          });
          deployment = outcome.deployment;
        } else if (!options.json) {
          printFields(io, [
            ['deployment_id', deployment.deployment_id],
            ['status', deployment.status],
            [
              'follow',
              `pluginops status ${options.deploy} ${deployment.deployment_id} --wait --profile ${options.to}`,
            ],
          ]);
          if (deployment.status === 'awaiting_approval' || deployment.status === 'pending') {
            io.stdout(
              `approve: pluginops approve ${options.deploy} ${deployment.deployment_id} --profile ${options.to}\n`,
            );
          }
        }
      } else if (!options.json) {
        printPromotion(io, options, published.package, existing === undefined);
      }
      if (options.json) {
        printJson(io, {
          unique_identifier: uniqueIdentifier,
          from: { profile: options.from, endpoint: source.connection.endpoint },
          to: { profile: options.to, endpoint: target.connection.endpoint },
          pulled: existing === undefined,
          created: published.created,
          package: published.package,
          ...(deployment === undefined ? {} : { deployment }),
        });
      }
      if (outcome !== undefined)
        assertSucceeded(outcome, { timeoutSeconds: options.timeout, json: options.json });
    },
  );
}

async function findPackage(client: ApiClient, uniqueIdentifier: string): Promise<PackageRecord | undefined> {
  try {
    return (await client.get<PackageRecord>(`/v1/packages/${encodeURIComponent(uniqueIdentifier)}`)).body;
  } catch (error) {
    if (error instanceof RemoteProblemError && error.problem.status === 404) return undefined;
    throw error;
  }
}

function printPromotion(io: CliIo, options: PromoteOptions, pkg: PackageRecord, pulled: boolean): void {
  printFields(io, [
    ['unique_identifier', pkg.unique_identifier],
    ['promoted', `${options.from} → ${options.to}${pulled ? '' : ' (already there)'}`],
    [
      'signature',
      pkg.signature.key_id === undefined
        ? pkg.signature.status
        : `${pkg.signature.status} (key ${pkg.signature.key_id})`,
    ],
  ]);
}
