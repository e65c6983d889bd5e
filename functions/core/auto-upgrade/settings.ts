/**
 * Auto-upgrade settings of a tenant, in Dify's shape (`TenantPluginAutoUpgradeStrategy`:
 * `strategy_setting`, `upgrade_time_of_day`, `upgrade_mode`, `include_plugins`, `exclude_plugins`)
 * plus two pluginops fields: `timezone` (Dify always assumes UTC) and `allow_prerelease` (the
 * opt-in docs/design.md#packages-and-identity asks for; pre-releases are never picked without it).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const UPGRADE_STRATEGIES = ['disabled', 'fix_only', 'latest'] as const;
export type UpgradeStrategySetting = (typeof UPGRADE_STRATEGIES)[number];

export const UPGRADE_MODES = ['all', 'partial', 'exclude'] as const;
export type UpgradeMode = (typeof UPGRADE_MODES)[number];

/** Seconds in a day; `upgrade_time_of_day` is in `[0, SECONDS_PER_DAY)`. */
export const SECONDS_PER_DAY = 86_400;
/** Length of one sweep window and one slot of the schedule index. */
export const QUARTER_HOUR_SECONDS = 900;
/** Quarter-hours in a day: slots are numbered `0..95`. */
export const SLOTS_PER_DAY = 96;
/** Most plugin ids an include or exclude list may hold. */
export const MAX_PLUGIN_LIST = 500;

const PLUGIN_ID = /^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}$/;
/** Names only: rejects offsets like `+05:00` that some engines also accept as a time zone. */
const TIME_ZONE_SHAPE = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/;

let supportedZones: ReadonlySet<string> | undefined;
const zoneVerdicts = new Map<string, string | undefined>();

/**
 * Why `name` is not a usable IANA time zone, or `undefined` when it is. A name is accepted when
 * `Intl.supportedValuesOf('timeZone')` lists it, or `Intl.DateTimeFormat` accepts it and resolves
 * it to a listed zone or to `UTC`: that covers `UTC`, `Etc/*` (`Etc/GMT+5`), and IANA links the
 * local ICU lists under another name (`Asia/Kolkata` ↔ `Asia/Calcutta`, `US/Eastern`). Names that
 * differ from a zone only by letter case (`europe/berlin`) are refused with the right spelling, so
 * stored settings always carry a name every engine reads the same way.
 */
export function timeZoneProblem(name: string): string | undefined {
  if (zoneVerdicts.has(name)) return zoneVerdicts.get(name);
  const verdict = checkTimeZone(name);
  if (zoneVerdicts.size < 1_000) zoneVerdicts.set(name, verdict);
  return verdict;
}

function checkTimeZone(name: string): string | undefined {
  const unknown = `unknown time zone "${name.slice(0, 64)}" (use an IANA name such as Europe/Berlin or UTC)`;
  if (!TIME_ZONE_SHAPE.test(name) || name.length > 64) return unknown;
  supportedZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (supportedZones.has(name)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return unknown;
  }
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) {
    return `unknown time zone "${name}"; did you mean "${resolved}"?`;
  }
  if (resolved === 'UTC' || supportedZones.has(resolved) || name.startsWith('Etc/')) return undefined;
  return unknown;
}

export const PluginIdSchema = z.string().regex(PLUGIN_ID, 'must be a plugin id author/name');

const PluginList = z
  .array(PluginIdSchema)
  .max(MAX_PLUGIN_LIST)
  // Repeats carry no meaning; keep the first occurrence so a round trip is stable.
  .transform((ids) => [...new Set(ids)]);

export const TimeZoneSchema = z
  .string()
  .max(64)
  .superRefine((name, context) => {
    const problem = timeZoneProblem(name);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  });

/** Complete settings as stored and as the API returns them. */
export const AutoUpgradeSettingsSchema = z.strictObject({
  strategy_setting: z.enum(UPGRADE_STRATEGIES),
  upgrade_time_of_day: z
    .int()
    .min(0)
    .max(SECONDS_PER_DAY - 1),
  timezone: TimeZoneSchema,
  upgrade_mode: z.enum(UPGRADE_MODES),
  include_plugins: PluginList,
  exclude_plugins: PluginList,
  allow_prerelease: z.boolean(),
});
export type AutoUpgradeSettings = z.infer<typeof AutoUpgradeSettingsSchema>;

/**
 * What a PUT may carry: every field optional; an omitted field takes its default (a PUT replaces
 * the whole settings document, so the same body always yields the same settings).
 */
export const AutoUpgradeSettingsInputSchema = AutoUpgradeSettingsSchema.partial();
export type AutoUpgradeSettingsInput = z.infer<typeof AutoUpgradeSettingsInputSchema>;

/**
 * The tenant's default upgrade time, spreading tenants over the day: the first 4 bytes of
 * `sha256(utf8(tenant_id))` read as an unsigned big-endian integer, modulo 96, is the quarter-hour
 * `q`; the time is `q × 900` seconds after local (= UTC, the default zone) midnight. The modulo
 * bias of 2³² mod 96 is below 10⁻⁷, so the 96 quarter-hours are equally likely.
 *
 * @example defaultUpgradeTimeOfDay('acme') // a multiple of 900 in [0, 85500]
 */
export function defaultUpgradeTimeOfDay(tenantId: string): number {
  const digest = createHash('sha256').update(tenantId, 'utf8').digest();
  return (digest.readUInt32BE(0) % SLOTS_PER_DAY) * QUARTER_HOUR_SECONDS;
}

/** Defaults for a tenant that never saved settings: `fix_only`, mode `all`, UTC, spread time. */
export function defaultAutoUpgradeSettings(tenantId: string): AutoUpgradeSettings {
  return {
    strategy_setting: 'fix_only',
    upgrade_time_of_day: defaultUpgradeTimeOfDay(tenantId),
    timezone: 'UTC',
    upgrade_mode: 'all',
    include_plugins: [],
    exclude_plugins: [],
    allow_prerelease: false,
  };
}

/** Completes a validated PUT body with the tenant's defaults. */
export function resolveAutoUpgradeSettings(
  tenantId: string,
  input: AutoUpgradeSettingsInput,
): AutoUpgradeSettings {
  const defaults = defaultAutoUpgradeSettings(tenantId);
  return {
    strategy_setting: input.strategy_setting ?? defaults.strategy_setting,
    upgrade_time_of_day: input.upgrade_time_of_day ?? defaults.upgrade_time_of_day,
    timezone: input.timezone ?? defaults.timezone,
    upgrade_mode: input.upgrade_mode ?? defaults.upgrade_mode,
    include_plugins: input.include_plugins ?? defaults.include_plugins,
    exclude_plugins: input.exclude_plugins ?? defaults.exclude_plugins,
    allow_prerelease: input.allow_prerelease ?? defaults.allow_prerelease,
  };
}

/** A hint about settings that are valid but probably not what the caller meant. */
export interface SettingsWarning {
  /** Dotted path of the field (`include_plugins.2`). */
  path: string;
  message: string;
}

/**
 * Warnings that need no lookups: lists that the chosen mode ignores, and a `partial` mode with
 * nothing to include. (Plugins unknown to the catalog are checked by the handler, which has I/O.)
 */
export function settingsWarnings(settings: AutoUpgradeSettings): SettingsWarning[] {
  const warnings: SettingsWarning[] = [];
  if (settings.upgrade_mode === 'partial' && settings.include_plugins.length === 0) {
    warnings.push({
      path: 'include_plugins',
      message: 'upgrade_mode is "partial" but include_plugins is empty: nothing will be upgraded.',
    });
  }
  if (settings.upgrade_mode !== 'partial' && settings.include_plugins.length > 0) {
    warnings.push({
      path: 'include_plugins',
      message: `include_plugins is ignored while upgrade_mode is "${settings.upgrade_mode}".`,
    });
  }
  if (settings.upgrade_mode !== 'exclude' && settings.exclude_plugins.length > 0) {
    warnings.push({
      path: 'exclude_plugins',
      message: `exclude_plugins is ignored while upgrade_mode is "${settings.upgrade_mode}".`,
    });
  }
  return warnings;
}
