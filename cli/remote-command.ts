/**
 * What every command that talks to the API shares: the connection options (`--endpoint`, `--key`,
 * `--profile`, `--request-timeout`), `--json`, argument parsers, and {@link connect}.
 */
import { Command, InvalidArgumentError } from 'commander';
import { ApiClient } from './client.ts';
import { type CliIo, envOf } from './output.ts';
import { type ConnectionFlags, resolveConnection } from './profiles.ts';

export interface RemoteOptions extends ConnectionFlags {
  json: boolean;
}

/** A command with the connection options and `--json`. */
export function remoteCommand(name: string): Command {
  return new Command(name)
    .option('--endpoint <url>', 'API base URL (env PLUGINOPS_ENDPOINT)')
    .option(
      '--key <api-key>',
      'API key (env PLUGINOPS_KEY; prefer the env var: argv is visible to other users)',
    )
    .option('--profile <name>', 'a profile of the profiles file (env PLUGINOPS_PROFILE)')
    .option('--request-timeout <seconds>', 'deadline of each HTTP request (default 30)', parsePositiveNumber)
    .option('--json', 'print one JSON document on stdout', false);
}

export async function connect(io: CliIo, options: ConnectionFlags): Promise<ApiClient> {
  const connection = await resolveConnection(options, envOf(io), (line) => io.stderr(`${line}\n`));
  return new ApiClient(connection);
}

const PLUGIN_ID = /^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}$/;
const UNIQUE_IDENTIFIER =
  /^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}:\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?@[a-f0-9]{64}$/;
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function parsePositiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError('use a positive number of seconds.');
  return number;
}

export function parsePositiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('use a whole number ≥ 1.');
  return number;
}

export function parsePluginId(value: string): string {
  if (!PLUGIN_ID.test(value)) throw new InvalidArgumentError('use a plugin id author/name (lowercase).');
  return value;
}

export function parseUniqueIdentifier(value: string): string {
  if (!UNIQUE_IDENTIFIER.test(value)) {
    throw new InvalidArgumentError('use a unique identifier author/name:1.2.3@<64 hex checksum>.');
  }
  return value;
}

export function parseTenantId(value: string): string {
  if (!TENANT_ID.test(value))
    throw new InvalidArgumentError('use a tenant id (lowercase letters, digits, "_", "-").');
  return value;
}

export function isPluginIdText(value: string): boolean {
  return PLUGIN_ID.test(value);
}

export function isUniqueIdentifierText(value: string): boolean {
  return UNIQUE_IDENTIFIER.test(value);
}

export function pluginIdOfIdentifier(uniqueIdentifier: string): string {
  return uniqueIdentifier.slice(0, uniqueIdentifier.indexOf(':'));
}

/** Collects a repeatable option, also splitting comma lists: `--include a/b,c/d --include e/f`. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== ''),
  ];
}
