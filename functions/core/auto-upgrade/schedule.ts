/**
 * When a tenant's auto-upgrade runs, in UTC, across time zones and DST — with `Intl.DateTimeFormat`
 * as the only time-zone database (no library, no clock: every function takes the instant).
 *
 * ## The rule
 * A tenant runs once per local calendar day, at `upgrade_time_of_day` seconds after local midnight:
 * - **Spring-forward gap** (the local time does not exist that day, e.g. 02:30 in Berlin on
 *   2026-03-29): it runs at the first valid instant after it, the transition itself (03:00 CEST =
 *   01:00 UTC).
 * - **Fall-back overlap** (the local time happens twice, e.g. 02:30 in Berlin on 2026-10-25): it
 *   runs once, at the first occurrence (02:30 CEST = 00:30 UTC).
 * - Offsets that are not whole hours (America/St_Johns −03:30/−02:30, Asia/Kathmandu +05:45) need
 *   nothing special: every current offset is a multiple of 15 minutes, so a quarter-hour local time
 *   lands on a quarter-hour UTC slot, and any other time lands inside exactly one slot.
 *
 * ## The index decision
 * The sweep runs every 15 minutes for the elapsed window `[start, start + 15 min)` and must find the
 * due tenants without scanning. Each enabled tenant is indexed under the UTC quarter-hour slot
 * (`0..95`) of its **next due instant** (`next_run_at`), not of a fixed local time: the UTC slot
 * of the same local time moves when DST starts or ends, so a slot computed once would go stale.
 * The placement ({@link slotKeysFor}) is recomputed
 * 1. whenever the settings are saved (from the save instant), and
 * 2. after every sweep evaluation of the tenant — including runs that upgraded nothing or failed —
 *    from the end of the window, which yields the next local day's instant with that day's offset.
 *
 * The sweep queries only the slot of its window and then double-checks with {@link isSweepDue}:
 * due when the stored `next_run_at` is before the window end. A `next_run_at` before the window
 * start means an earlier sweep was missed (outage); the tenant then runs once to catch up and is
 * re-indexed, so a missed sweep delays a tenant by at most one day instead of losing it.
 */
import { type AutoUpgradeSettings, QUARTER_HOUR_SECONDS, SECONDS_PER_DAY } from './settings.ts';

const SECOND_MS = 1_000;
const DAY_MS = SECONDS_PER_DAY * SECOND_MS;
/** One sweep window and one index slot. */
export const WINDOW_MS = QUARTER_HOUR_SECONDS * SECOND_MS;

/** The schedule-relevant part of the settings. */
export type ScheduleSettings = Pick<
  AutoUpgradeSettings,
  'strategy_setting' | 'upgrade_time_of_day' | 'timezone'
>;

/** Where a tenant is indexed for the sweep: the UTC slot of its next due instant. */
export interface SlotPlacement {
  /** UTC quarter-hour of `next_run_at`, `0..95`. */
  slot: number;
  next_run_at: Date;
}

/** A sweep window `[start, end)`, 15 minutes aligned to UTC quarter-hours. */
export interface SweepWindow {
  start: Date;
  end: Date;
  /** UTC quarter-hour slot of `start`. */
  slot: number;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Local wall-clock fields of `instantMs` in `timeZone`, as epoch milliseconds of that wall time read as UTC. */
function wallClockMs(timeZone: string, instantMs: number): number {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instantMs)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return Date.UTC(
    fields.year ?? 1970,
    (fields.month ?? 1) - 1,
    fields.day ?? 1,
    fields.hour ?? 0,
    fields.minute ?? 0,
    fields.second ?? 0,
  );
}

/**
 * The UTC offset of `timeZone` at `instant`, in milliseconds (local − UTC): +3_600_000 for Berlin
 * in winter, −12_600_000 for St. John's in winter.
 */
export function utcOffsetMs(timeZone: string, instant: Date | number): number {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const whole = Math.floor(ms / SECOND_MS) * SECOND_MS;
  return wallClockMs(timeZone, whole) - whole;
}

function localDateOf(timeZone: string, instantMs: number): LocalDate {
  const wall = new Date(wallClockMs(timeZone, instantMs));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

function addDays(date: LocalDate, days: number): LocalDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/**
 * The instant at which the local wall clock of `timeZone` shows `secondsOfDay` on `date`, with the
 * gap and overlap rules of this module: the earliest instant showing that time, or — when no
 * instant does (spring-forward gap) — the transition instant that ends the gap.
 */
export function localTimeToUtc(timeZone: string, date: LocalDate, secondsOfDay: number): Date {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + secondsOfDay * SECOND_MS;
  // Offsets in force around this wall time; real zones change offset at most once within a day.
  const offsets = [
    ...new Set([wall - DAY_MS, wall, wall + DAY_MS].map((probe) => utcOffsetMs(timeZone, probe))),
  ];
  const matches = offsets
    .map((offset) => wall - offset)
    .filter((instant) => utcOffsetMs(timeZone, instant) === wall - instant)
    .sort((a, b) => a - b);
  const first = matches[0];
  if (first !== undefined) return new Date(first);

  // Gap: the instants `wall − larger offset` (still before the transition) and `wall − smaller
  // offset` (already after it) bracket the transition; bisect to the second.
  let before = wall - Math.max(...offsets);
  let after = wall - Math.min(...offsets);
  const offsetBefore = utcOffsetMs(timeZone, before);
  while (after - before > SECOND_MS) {
    const middle = before + Math.floor((after - before) / 2 / SECOND_MS) * SECOND_MS;
    if (utcOffsetMs(timeZone, middle) === offsetBefore) before = middle;
    else after = middle;
  }
  return new Date(after);
}

function occurrenceOn(settings: ScheduleSettings, date: LocalDate): number {
  return localTimeToUtc(settings.timezone, date, settings.upgrade_time_of_day).getTime();
}

/** The UTC quarter-hour slot (`0..95`) that contains `instant`. */
export function slotOf(instant: Date | number): number {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const intoDay = ((ms % DAY_MS) + DAY_MS) % DAY_MS;
  return Math.floor(intoDay / WINDOW_MS);
}

/**
 * The first instant at or after `from` at which the tenant's local upgrade time occurs (ignores
 * `strategy_setting`).
 *
 * @example nextOccurrence({ timezone: 'Asia/Shanghai', upgrade_time_of_day: 3 * 3600, … },
 *   new Date('2026-06-01T12:00:00Z')) // 2026-06-01T19:00:00Z (03:00 on 2 June in Shanghai)
 */
export function nextOccurrence(settings: ScheduleSettings, from: Date): Date {
  const fromMs = from.getTime();
  const today = localDateOf(settings.timezone, fromMs);
  let best: number | undefined;
  for (const days of [-1, 0, 1, 2]) {
    const instant = occurrenceOn(settings, addDays(today, days));
    if (instant >= fromMs && (best === undefined || instant < best)) best = instant;
  }
  // Unreachable for real zones (local days are 23–25 h long); keep the type honest.
  if (best === undefined) throw new RangeError(`no upgrade time found after ${from.toISOString()}`);
  return new Date(best);
}

/** The next due instant at or after `from`, or `undefined` when auto-upgrade is disabled. */
export function nextRunAt(settings: ScheduleSettings, from: Date): Date | undefined {
  if (settings.strategy_setting === 'disabled') return undefined;
  return nextOccurrence(settings, from);
}

/**
 * The UTC quarter-hour slot in which the tenant's local upgrade time falls on the UTC day of
 * `date` (`0..95`). Because local days are 23 or 25 hours long around DST changes, a UTC day can
 * (rarely) hold two occurrences — the first one's slot is returned — or none: `undefined`.
 *
 * @example quarterHourSlotUtc({ timezone: 'Europe/Berlin', upgrade_time_of_day: 9000, … },
 *   new Date('2026-03-29T12:00:00Z')) === 4 // 02:30 does not exist: runs at 03:00 CEST = 01:00 UTC
 */
export function quarterHourSlotUtc(settings: ScheduleSettings, date: Date): number | undefined {
  const dayStart = Math.floor(date.getTime() / DAY_MS) * DAY_MS;
  const instant = nextOccurrence(settings, new Date(dayStart));
  return instant.getTime() < dayStart + DAY_MS ? slotOf(instant) : undefined;
}

/**
 * True when the tenant's local upgrade time occurs within the window `[windowStart, windowEnd)`
 * and auto-upgrade is enabled.
 */
export function isDue(settings: ScheduleSettings, windowStart: Date, windowEnd: Date): boolean {
  const next = nextRunAt(settings, windowStart);
  return next !== undefined && next.getTime() < windowEnd.getTime();
}

/**
 * The sweep's check for a tenant found in the slot of its window: due when the stored
 * `next_run_at` is before the window end (in the window, or overdue after a missed sweep). Without
 * a stored instant it falls back to {@link isDue}.
 */
export function isSweepDue(
  entry: { settings: ScheduleSettings; next_run_at: Date | undefined },
  window: Pick<SweepWindow, 'start' | 'end'>,
): boolean {
  if (entry.settings.strategy_setting === 'disabled') return false;
  if (entry.next_run_at === undefined) return isDue(entry.settings, window.start, window.end);
  return entry.next_run_at.getTime() < window.end.getTime();
}

/**
 * Where the tenant must be indexed after `now` (a settings save, or the end of the window a sweep
 * just evaluated): the slot of its next due instant. `undefined` when disabled — then the item must
 * carry no slot index at all, so no sweep ever reads it. `functions/adapters/dynamo/keys.ts`
 * (`autoUpgradeSlotIndex`) turns the slot into the GSI2 key attributes.
 */
export function slotKeysFor(settings: ScheduleSettings, now: Date): SlotPlacement | undefined {
  const next = nextRunAt(settings, now);
  return next === undefined ? undefined : { slot: slotOf(next), next_run_at: next };
}

/**
 * The elapsed sweep window at `at`: the UTC quarter-hour that ended at or before `at`.
 *
 * @example sweepWindow(new Date('2026-01-01T10:16:30Z')) // start 10:00, end 10:15, slot 40
 */
export function sweepWindow(at: Date): SweepWindow {
  const end = Math.floor(at.getTime() / WINDOW_MS) * WINDOW_MS;
  const start = end - WINDOW_MS;
  return { start: new Date(start), end: new Date(end), slot: slotOf(start) };
}

/**
 * How far from the present an operator sweep may run "as if" (docs/security.md). Such a sweep
 * re-indexes the tenants it evaluates from its own window, exactly like a real sweep at that
 * instant: a tenant's next real run moves to its first slot after `at`. Bounding `at` bounds that
 * effect to a week (a `9999-…` sweep used to turn auto-upgrade off for good).
 */
export const MAX_SWEEP_SKEW_MS = 7 * DAY_MS;

/** Whether an operator sweep may run as if at `at`: within {@link MAX_SWEEP_SKEW_MS} of `now`. */
export function isSweepInstantAllowed(at: Date, now: Date): boolean {
  return Math.abs(at.getTime() - now.getTime()) <= MAX_SWEEP_SKEW_MS;
}
