/**
 * `pluginops deploy <tenant> install|upgrade <unique_identifier>` and
 * `pluginops deploy <tenant> uninstall|rollback <plugin_id>`: starts a deployment; with `--wait`
 * follows it to its end (exit 5 when it failed, rolled back or was rejected).
 */
import { Argument, type Command } from 'commander';
import type { Deployment } from '#cli/api-types.ts';
import { type ApiClient, tenantPath } from '#cli/client.ts';
import { describeTarget } from '#cli/deployment-view.ts';
import { assertSucceeded, followDeployment } from '#cli/follow.ts';
import { type CliIo, printFields, printJson } from '#cli/output.ts';
import {
  connect,
  isPluginIdText,
  isUniqueIdentifierText,
  parsePositiveInt,
  parsePositiveNumber,
  parseTenantId,
  type RemoteOptions,
  remoteCommand,
} from '#cli/remote-command.ts';
import { readUserFile } from '#cli/user-files.ts';
import { ValidationError } from '#core/errors.ts';

export const DEPLOY_OPERATIONS = ['install', 'upgrade', 'uninstall', 'rollback'] as const;
export type DeployOperation = (typeof DEPLOY_OPERATIONS)[number];

/** Default bound of `--wait`: a deployment awaiting approval may wait far longer on the server. */
export const DEFAULT_WAIT_SECONDS = 600;

interface DeployOptions extends RemoteOptions {
  toRevision?: number;
  expectedCurrent?: string;
  allowDowngrade?: boolean;
  config?: string;
  approvalTimeout?: number;
  idempotencyKey?: string;
  wait: boolean;
  timeout: number;
}

export interface WaitOptions {
  wait: boolean;
  timeout: number;
}

/** `--wait` and `--timeout`, shared by deploy, status and promote. */
export function addWaitOptions(command: Command, what = 'the deployment'): Command {
  return command
    .option('--wait', `follow ${what} until it succeeded, failed, rolled back or was rejected`, false)
    .option(
      '--timeout <seconds>',
      'with --wait: give up waiting after this long (exit 7)',
      parsePositiveNumber,
      DEFAULT_WAIT_SECONDS,
    );
}

export function deployCommand(io: CliIo): Command {
  const command = remoteCommand('deploy')
    .description('Install, upgrade, uninstall or roll back a plugin on a tenant')
    .argument('<tenant>', 'tenant id', parseTenantId)
    .addArgument(new Argument('<operation>', 'what to do').choices(DEPLOY_OPERATIONS))
    .argument('<target>', 'install/upgrade: a unique identifier; uninstall/rollback: a plugin id author/name')
    .option(
      '--to-revision <n>',
      'rollback: the revision to restore (default: the previous one)',
      parsePositiveInt,
    )
    .option(
      '--expected-current <unique_identifier|none>',
      'only deploy if this is installed now ("none": nothing installed); otherwise exit 4',
    )
    .option('--allow-downgrade', 'install/upgrade: accept a lower version than installed')
    .option('--config <file.json>', 'plugin config for this tenant (JSON object; stored sealed)')
    .option('--approval-timeout <seconds>', 'how long the deployment may wait for approval', parsePositiveInt)
    .option('--idempotency-key <key>', 'repeat a start safely: the same key returns the same deployment');
  return addWaitOptions(command).action(
    async (tenant: string, operation: DeployOperation, target: string, options: DeployOptions) => {
      const body = await deploymentBody(operation, target, options);
      const client = await connect(io, options);
      const started = await startDeployment(client, tenant, body, options.idempotencyKey);
      await reportDeployment(io, client, started, options);
    },
  );
}

export async function deploymentBody(
  operation: DeployOperation,
  target: string,
  options: Pick<
    DeployOptions,
    'toRevision' | 'expectedCurrent' | 'allowDowngrade' | 'config' | 'approvalTimeout'
  >,
): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = { operation };
  if (operation === 'install' || operation === 'upgrade') {
    if (!isUniqueIdentifierText(target)) {
      throw new ValidationError(
        `${operation} needs a unique identifier (author/name:1.2.3@<checksum>), got "${target}".`,
        [{ path: 'target', message: 'must be a unique identifier' }],
      );
    }
    if (options.toRevision !== undefined) {
      throw new ValidationError('--to-revision is for rollback.', [
        { path: 'to-revision', message: 'rollback only' },
      ]);
    }
    body.unique_identifier = target;
  } else {
    if (!isPluginIdText(target)) {
      throw new ValidationError(`${operation} needs a plugin id (author/name), got "${target}".`, [
        { path: 'target', message: 'must be a plugin id author/name' },
      ]);
    }
    if (operation === 'uninstall' && options.toRevision !== undefined) {
      throw new ValidationError('--to-revision is for rollback.', [
        { path: 'to-revision', message: 'rollback only' },
      ]);
    }
    body.plugin_id = target;
    if (options.toRevision !== undefined) body.to_revision = options.toRevision;
  }
  if (options.expectedCurrent !== undefined) {
    body.expected_current = options.expectedCurrent === 'none' ? null : options.expectedCurrent;
  }
  if (options.allowDowngrade === true) body.allow_downgrade = true;
  if (options.approvalTimeout !== undefined) body.approval_timeout_seconds = options.approvalTimeout;
  if (options.config !== undefined) body.config = await readConfig(options.config);
  return body;
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  const text = (await readUserFile(path, 'config')).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${path} is not JSON: ${(error as Error).message}`, [
      { path: 'config', message: 'not JSON' },
    ]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${path} must hold a JSON object.`, [
      { path: 'config', message: 'not an object' },
    ]);
  }
  return value as Record<string, unknown>;
}

export async function startDeployment(
  client: ApiClient,
  tenant: string,
  body: Record<string, unknown>,
  idempotencyKey?: string,
): Promise<Deployment> {
  const response = await client.post<Deployment>(`${tenantPath(tenant)}/deployments`, {
    json: body,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  });
  return response.body;
}

/**
 * Prints a started deployment, or follows it with `--wait` and prints its end. Throws the exit
 * code of an unsuccessful end.
 */
export async function reportDeployment(
  io: CliIo,
  client: ApiClient,
  deployment: Deployment,
  options: WaitOptions & { json: boolean },
): Promise<Deployment> {
  if (!options.wait) {
    if (options.json) {
      printJson(io, deployment);
    } else {
      printFields(io, [
        ['deployment_id', deployment.deployment_id],
        ['operation', `${deployment.operation} ${describeTarget(deployment)}`],
        ['status', deployment.status],
        ['follow', `pluginops status ${deployment.tenant_id} ${deployment.deployment_id} --wait`],
      ]);
    }
    return deployment;
  }
  const result = await followDeployment(io, client, deployment, {
    timeoutSeconds: options.timeout,
    json: options.json,
  });
  if (options.json) printJson(io, result.deployment);
  assertSucceeded(result, { timeoutSeconds: options.timeout, json: options.json });
  return result.deployment;
}
