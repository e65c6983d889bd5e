/**
 * `pluginops auto-upgrade get|set|runs <tenant>`: the tenant's auto-upgrade settings (Dify's
 * strategy, time of day, mode and lists, plus an IANA time zone) and recent sweep results.
 * `set` changes only the flags given: it reads the settings, applies the flags and writes the whole
 * document back (the API's PUT replaces; omitted fields would fall back to defaults).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { AutoUpgradeSettings, Page } from '#cli/api-types.ts';
import { tenantPath } from '#cli/client.ts';
import { type CliIo, printFields, printJson, printTable } from '#cli/output.ts';
import {
  collectList,
  connect,
  isPluginIdText,
  parsePositiveInt,
  parseTenantId,
  type RemoteOptions,
  remoteCommand,
} from '#cli/remote-command.ts';
import { ValidationError } from '#core/errors.ts';

interface SetOptions extends RemoteOptions {
  strategy?: AutoUpgradeSettings['strategy_setting'];
  time?: number;
  timezone?: string;
  mode?: AutoUpgradeSettings['upgrade_mode'];
  include?: string[];
  exclude?: string[];
  allowPrerelease?: boolean;
}

/** The fields a PUT takes (GET adds next_run_at, is_default, updated_at). */
const SETTING_FIELDS = [
  'strategy_setting',
  'upgrade_time_of_day',
  'timezone',
  'upgrade_mode',
  'include_plugins',
  'exclude_plugins',
  'allow_prerelease',
] as const;

export function autoUpgradeCommand(io: CliIo): Command {
  return new Command('auto-upgrade')
    .description("Read or change a tenant's auto-upgrade settings, or list its sweep results")
    .addCommand(getCommand(io))
    .addCommand(setCommand(io))
    .addCommand(runsCommand(io));
}

function getCommand(io: CliIo): Command {
  return remoteCommand('get')
    .description('Show the auto-upgrade settings and the next run')
    .argument('<tenant>', 'tenant id', parseTenantId)
    .action(async (tenant: string, options: RemoteOptions) => {
      const client = await connect(io, options);
      const { body } = await client.get<AutoUpgradeSettings>(`${tenantPath(tenant)}/auto-upgrade`);
      if (options.json) printJson(io, body);
      else printSettings(io, body);
    });
}

function setCommand(io: CliIo): Command {
  return remoteCommand('set')
    .description('Change auto-upgrade settings; flags not given keep their current value')
    .argument('<tenant>', 'tenant id', parseTenantId)
    .addOption(
      new Option('--strategy <strategy>', 'which versions to take').choices([
        'disabled',
        'fix_only',
        'latest',
      ]),
    )
    .option('--time <HH:MM>', 'local time of day to upgrade at', parseTimeOfDay)
    .option('--timezone <Area/City>', 'IANA time zone of --time (e.g. Europe/Berlin, UTC)')
    .addOption(
      new Option('--mode <mode>', 'all plugins, only --include (partial), or all but --exclude').choices([
        'all',
        'partial',
        'exclude',
      ]),
    )
    .option(
      '--include <plugin_id>',
      'plugin for mode partial (repeatable, comma lists; replaces the list)',
      collectList,
    )
    .option(
      '--exclude <plugin_id>',
      'plugin for mode exclude (repeatable, comma lists; replaces the list)',
      collectList,
    )
    .option('--allow-prerelease', 'let auto-upgrade pick pre-release versions')
    .option('--no-allow-prerelease', 'never pick pre-release versions')
    .action(async (tenant: string, options: SetOptions) => {
      for (const [field, ids] of [
        ['include', options.include ?? []],
        ['exclude', options.exclude ?? []],
      ] as const) {
        for (const id of ids) {
          if (!isPluginIdText(id)) {
            throw new ValidationError(`"${id}" is not a plugin id (author/name).`, [
              { path: field, message: id },
            ]);
          }
        }
      }
      const client = await connect(io, options);
      const path = `${tenantPath(tenant)}/auto-upgrade`;
      const { body: current } = await client.get<AutoUpgradeSettings>(path);
      const next: Record<string, unknown> = Object.fromEntries(
        SETTING_FIELDS.map((field) => [field, current[field]]),
      );
      if (options.strategy !== undefined) next.strategy_setting = options.strategy;
      if (options.time !== undefined) next.upgrade_time_of_day = options.time;
      if (options.timezone !== undefined) next.timezone = options.timezone;
      if (options.mode !== undefined) next.upgrade_mode = options.mode;
      if (options.include !== undefined) next.include_plugins = options.include;
      if (options.exclude !== undefined) next.exclude_plugins = options.exclude;
      if (options.allowPrerelease !== undefined) next.allow_prerelease = options.allowPrerelease;
      // Fields the server does not know yet (an older stage) are not sent back to it.
      for (const field of SETTING_FIELDS) if (next[field] === undefined) delete next[field];
      const { body } = await client.request<AutoUpgradeSettings>('PUT', path, { json: next });
      if (options.json) {
        printJson(io, body);
        return;
      }
      printSettings(io, body);
      for (const warning of body.warnings ?? []) io.stderr(`warning: ${warning.path}: ${warning.message}\n`);
    });
}

interface UpgradeRun {
  run_at: string;
  checked: number;
  upgraded: Array<{ plugin_id: string; from: string; to: string }>;
  skipped: Array<{ plugin_id: string; reason: string }>;
  failed: Array<{ plugin_id: string; to: string; problem?: { detail: string } }>;
}

function runsCommand(io: CliIo): Command {
  return remoteCommand('runs')
    .description('List recent auto-upgrade sweep results for the tenant, newest first')
    .argument('<tenant>', 'tenant id', parseTenantId)
    .option('--limit <n>', 'runs to show (1-100)', parsePositiveInt, 10)
    .action(async (tenant: string, options: RemoteOptions & { limit: number }) => {
      const client = await connect(io, options);
      const { body } = await client.get<Page<UpgradeRun>>(`${tenantPath(tenant)}/auto-upgrade/runs`, {
        query: { limit: Math.min(options.limit, 100) },
      });
      if (options.json) {
        printJson(io, { tenant_id: tenant, ...body });
        return;
      }
      printTable(
        io,
        ['run_at', 'checked', 'upgraded', 'skipped', 'failed'],
        body.items.map((run) => [
          run.run_at,
          run.checked,
          run.upgraded.map((entry) => `${entry.plugin_id} ${entry.from}→${entry.to}`).join(', ') || '-',
          run.skipped.length,
          run.failed.map((entry) => `${entry.plugin_id}→${entry.to}`).join(', ') || '-',
        ]),
        '(no auto-upgrade runs yet)',
      );
    });
}

function printSettings(io: CliIo, settings: AutoUpgradeSettings): void {
  printFields(io, [
    ['strategy', settings.strategy_setting],
    ['time', `${formatTimeOfDay(settings.upgrade_time_of_day)} ${settings.timezone}`],
    ['mode', settings.upgrade_mode],
    ['include', settings.include_plugins.join(', ') || undefined],
    ['exclude', settings.exclude_plugins.join(', ') || undefined],
    ['prerelease', settings.allow_prerelease ? 'allowed' : 'never'],
    [
      'next_run_at',
      settings.next_run_at ?? (settings.strategy_setting === 'disabled' ? 'never (disabled)' : undefined),
    ],
    ['defaults', settings.is_default === true ? 'yes (never saved)' : undefined],
  ]);
}

/** `03:30` → 12600 seconds after local midnight. */
export function parseTimeOfDay(value: string): number {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError('use HH:MM, 24-hour (e.g. 03:30).');
  return Number(match[1]) * 3600 + Number(match[2]) * 60;
}

/** 12600 → `03:30` (seconds shown only when set). */
export function formatTimeOfDay(seconds: number): string {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const hhmm = `${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
  return rest === 0 ? hhmm : `${hhmm}:${String(rest).padStart(2, '0')}`;
}
