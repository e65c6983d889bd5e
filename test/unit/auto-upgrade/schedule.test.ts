import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isDue,
  isSweepDue,
  localTimeToUtc,
  nextOccurrence,
  nextRunAt,
  quarterHourSlotUtc,
  type ScheduleSettings,
  slotKeysFor,
  slotOf,
  sweepWindow,
  utcOffsetMs,
} from '#core/auto-upgrade/schedule.ts';

const HOUR = 3600;
const at = (iso: string) => new Date(iso);

function settings(timezone: string, upgrade_time_of_day: number, enabled = true): ScheduleSettings {
  return { strategy_setting: enabled ? 'fix_only' : 'disabled', timezone, upgrade_time_of_day };
}

/** Slot on the UTC day of `day` (YYYY-MM-DD). */
function slotOn(zone: string, seconds: number, day: string): number | undefined {
  return quarterHourSlotUtc(settings(zone, seconds), at(`${day}T12:00:00Z`));
}

function window(startIso: string) {
  const start = at(startIso);
  return { start, end: new Date(start.getTime() + 15 * 60_000) };
}

describe('utcOffsetMs (Intl as the time-zone database)', () => {
  it.each([
    ['UTC', '2026-01-15T00:00:00Z', 0],
    ['Europe/Berlin', '2026-01-15T00:00:00Z', 60],
    ['Europe/Berlin', '2026-07-15T00:00:00Z', 120],
    ['Asia/Shanghai', '2026-07-15T00:00:00Z', 480],
    ['America/New_York', '2026-01-15T00:00:00Z', -300],
    ['America/New_York', '2026-07-15T00:00:00Z', -240],
    ['America/St_Johns', '2026-01-15T00:00:00Z', -210],
    ['America/St_Johns', '2026-07-15T00:00:00Z', -150],
    ['Asia/Kathmandu', '2026-01-15T00:00:00Z', 345],
  ])('%s at %s is %i minutes', (zone, iso, minutes) => {
    expect(utcOffsetMs(zone, at(iso))).toBe(minutes * 60_000);
  });

  it('switches exactly at the 2026 EU transitions (01:00 UTC on 29 Mar and 25 Oct)', () => {
    expect(utcOffsetMs('Europe/Berlin', at('2026-03-29T00:59:59Z'))).toBe(3_600_000);
    expect(utcOffsetMs('Europe/Berlin', at('2026-03-29T01:00:00Z'))).toBe(7_200_000);
    expect(utcOffsetMs('Europe/Berlin', at('2026-10-25T00:59:59Z'))).toBe(7_200_000);
    expect(utcOffsetMs('Europe/Berlin', at('2026-10-25T01:00:00Z'))).toBe(3_600_000);
  });
});

describe('quarterHourSlotUtc', () => {
  it('UTC: the local time is the UTC time', () => {
    expect(slotOn('UTC', 0, '2026-05-01')).toBe(0);
    expect(slotOn('UTC', 10 * HOUR + 450, '2026-05-01')).toBe(40);
    expect(slotOn('UTC', 86_399, '2026-05-01')).toBe(95);
  });

  it('Asia/Shanghai (+08:00): wraps past UTC midnight', () => {
    // 03:00 local on D+1 is 19:00 UTC on D.
    expect(slotOn('Asia/Shanghai', 3 * HOUR, '2026-06-01')).toBe(76);
    expect(nextOccurrence(settings('Asia/Shanghai', 3 * HOUR), at('2026-06-01T12:00:00Z'))).toEqual(
      at('2026-06-01T19:00:00Z'),
    );
    expect(slotOn('Asia/Shanghai', 8 * HOUR, '2026-06-01')).toBe(0);
    expect(slotOn('Asia/Shanghai', 8 * HOUR - 1, '2026-06-01')).toBe(95);
  });

  describe('Europe/Berlin across the 2026 DST changes', () => {
    it('02:30 on 29 March does not exist: runs at the transition, 03:00 CEST = 01:00 UTC', () => {
      expect(slotOn('Europe/Berlin', 2.5 * HOUR, '2026-03-28')).toBe(6); // 01:30 UTC (CET)
      expect(slotOn('Europe/Berlin', 2.5 * HOUR, '2026-03-29')).toBe(4); // 01:00 UTC
      expect(slotOn('Europe/Berlin', 2.5 * HOUR, '2026-03-30')).toBe(2); // 00:30 UTC (CEST)
      expect(nextOccurrence(settings('Europe/Berlin', 2.5 * HOUR), at('2026-03-29T00:00:00Z'))).toEqual(
        at('2026-03-29T01:00:00Z'),
      );
    });

    it('02:30 on 25 October happens twice: runs once, at the first (CEST) occurrence', () => {
      const s = settings('Europe/Berlin', 2.5 * HOUR);
      expect(slotOn('Europe/Berlin', 2.5 * HOUR, '2026-10-24')).toBe(2);
      expect(nextOccurrence(s, at('2026-10-25T00:00:00Z'))).toEqual(at('2026-10-25T00:30:00Z'));
      // Not again at 01:30 UTC (02:30 CET): the next run is the following day.
      expect(nextOccurrence(s, at('2026-10-25T00:30:01Z'))).toEqual(at('2026-10-26T01:30:00Z'));
      expect(isDue(s, at('2026-10-25T01:30:00Z'), at('2026-10-25T01:45:00Z'))).toBe(false);
    });

    it('a morning time moves one UTC hour with DST', () => {
      expect(slotOn('Europe/Berlin', 9 * HOUR, '2026-03-28')).toBe(32); // 08:00 UTC
      expect(slotOn('Europe/Berlin', 9 * HOUR, '2026-03-29')).toBe(28); // 07:00 UTC
      expect(slotOn('Europe/Berlin', 9 * HOUR, '2026-10-25')).toBe(32);
    });
  });

  describe('America/New_York (2026: 8 March and 1 November)', () => {
    it('spring-forward gap at 02:30 runs at 03:00 EDT = 07:00 UTC', () => {
      expect(slotOn('America/New_York', 2.5 * HOUR, '2026-03-07')).toBe(30);
      expect(slotOn('America/New_York', 2.5 * HOUR, '2026-03-08')).toBe(28);
      expect(slotOn('America/New_York', 2.5 * HOUR, '2026-03-09')).toBe(26);
    });

    it('fall-back overlap at 01:30 runs at the EDT occurrence (05:30 UTC)', () => {
      expect(slotOn('America/New_York', 1.5 * HOUR, '2026-11-01')).toBe(22);
      expect(slotOn('America/New_York', 1.5 * HOUR, '2026-11-02')).toBe(26);
    });

    it('an evening time wraps to the next UTC day; 23/25-hour local days give 2/0 runs on one UTC day', () => {
      expect(slotOn('America/New_York', 22 * HOUR, '2026-01-10')).toBe(12); // 22:00 EST on the 9th
      const evening = 19.5 * HOUR;
      expect(slotOn('America/New_York', evening, '2026-03-08')).toBe(2); // 00:30 and 23:30 UTC
      expect(nextOccurrence(settings('America/New_York', evening), at('2026-03-08T00:45:00Z'))).toEqual(
        at('2026-03-08T23:30:00Z'),
      );
      expect(slotOn('America/New_York', evening, '2026-11-01')).toBeUndefined(); // 23:30 on the 31st, 00:30 on the 2nd
    });
  });

  describe('offsets that are not whole hours', () => {
    it('America/St_Johns (−03:30 / −02:30)', () => {
      expect(slotOn('America/St_Johns', 9 * HOUR, '2026-01-15')).toBe(50); // 12:30 UTC
      expect(slotOn('America/St_Johns', 9 * HOUR, '2026-07-15')).toBe(46); // 11:30 UTC
      expect(slotOn('America/St_Johns', 9 * HOUR + 600, '2026-01-15')).toBe(50); // 12:40 UTC
      // Gap on 8 March 2026: 02:00 NST → 03:00 NDT at 05:30 UTC.
      expect(nextOccurrence(settings('America/St_Johns', 2.5 * HOUR), at('2026-03-08T00:00:00Z'))).toEqual(
        at('2026-03-08T05:30:00Z'),
      );
    });

    it('Asia/Kathmandu (+05:45)', () => {
      expect(slotOn('Asia/Kathmandu', 6 * HOUR, '2026-01-15')).toBe(1); // 00:15 UTC
      expect(slotOn('Asia/Kathmandu', 0, '2026-01-15')).toBe(73); // 18:15 UTC the day before local midnight
      expect(slotOn('Asia/Kathmandu', 5 * HOUR, '2026-01-15')).toBe(93); // 23:15 UTC
    });

    it('Australia/Lord_Howe: a 30-minute DST gap', () => {
      // 4 Oct 2026: 02:00 +10:30 → 02:30 +11:00, at 15:30 UTC on the 3rd.
      expect(
        nextOccurrence(settings('Australia/Lord_Howe', 2.25 * HOUR), at('2026-10-03T00:00:00Z')),
      ).toEqual(at('2026-10-03T15:30:00Z'));
    });
  });
});

describe('localTimeToUtc', () => {
  it('resolves ordinary, gap and overlap times', () => {
    const berlin = (day: number, month: number, seconds: number) =>
      localTimeToUtc('Europe/Berlin', { year: 2026, month, day }, seconds).toISOString();
    expect(berlin(15, 1, 12 * HOUR)).toBe('2026-01-15T11:00:00.000Z');
    expect(berlin(29, 3, 2 * HOUR)).toBe('2026-03-29T01:00:00.000Z');
    expect(berlin(29, 3, 2 * HOUR + 59 * 60 + 59)).toBe('2026-03-29T01:00:00.000Z');
    expect(berlin(29, 3, 3 * HOUR)).toBe('2026-03-29T01:00:00.000Z');
    expect(berlin(25, 10, 2 * HOUR)).toBe('2026-10-25T00:00:00.000Z');
    expect(berlin(25, 10, 3 * HOUR)).toBe('2026-10-25T02:00:00.000Z');
  });

  it('property: the result shows the local time, or ends the gap that swallowed it', () => {
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'America/St_Johns',
      'Asia/Kathmandu',
      'Australia/Lord_Howe',
      'America/Santiago',
      'Pacific/Chatham',
      'Asia/Shanghai',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 86_399 }),
        fc.date({ min: at('2025-01-01T00:00:00Z'), max: at('2028-12-31T00:00:00Z'), noInvalidDate: true }),
        (zone, seconds, from) => {
          const s = settings(zone, seconds);
          const next = nextOccurrence(s, from);
          expect(next.getTime()).toBeGreaterThanOrEqual(from.getTime());
          expect(next.getTime() - from.getTime()).toBeLessThanOrEqual(26 * 3600_000);
          const local = new Date(next.getTime() + utcOffsetMs(zone, next));
          const localSeconds =
            local.getUTCHours() * 3600 + local.getUTCMinutes() * 60 + local.getUTCSeconds();
          const transition = utcOffsetMs(zone, next.getTime() - 1000) !== utcOffsetMs(zone, next);
          expect(localSeconds === seconds || transition).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('isDue and the sweep check', () => {
  it('is due only in the window holding the next run, and never when disabled', () => {
    const s = settings('UTC', 10 * HOUR + 7 * 60);
    expect(isDue(s, window('2026-05-01T10:00:00Z').start, window('2026-05-01T10:00:00Z').end)).toBe(true);
    expect(isDue(s, window('2026-05-01T10:15:00Z').start, window('2026-05-01T10:15:00Z').end)).toBe(false);
    expect(isDue(s, window('2026-05-01T09:45:00Z').start, window('2026-05-01T09:45:00Z').end)).toBe(false);
    const off = settings('UTC', 10 * HOUR, false);
    expect(isDue(off, at('2026-05-01T10:00:00Z'), at('2026-05-01T10:15:00Z'))).toBe(false);
    expect(nextRunAt(off, at('2026-05-01T00:00:00Z'))).toBeUndefined();
  });

  it('a window start is inclusive and its end exclusive', () => {
    const s = settings('UTC', 10 * HOUR + 15 * 60);
    expect(isDue(s, at('2026-05-01T10:00:00Z'), at('2026-05-01T10:15:00Z'))).toBe(false);
    expect(isDue(s, at('2026-05-01T10:15:00Z'), at('2026-05-01T10:30:00Z'))).toBe(true);
  });

  it('isSweepDue trusts the stored next run: in the window or overdue, not later', () => {
    const s = settings('Europe/Berlin', 9 * HOUR);
    const w = window('2026-03-29T07:00:00Z');
    expect(isSweepDue({ settings: s, next_run_at: at('2026-03-29T07:00:00Z') }, w)).toBe(true);
    expect(isSweepDue({ settings: s, next_run_at: at('2026-03-28T08:00:00Z') }, w)).toBe(true);
    expect(isSweepDue({ settings: s, next_run_at: at('2026-03-30T07:00:00Z') }, w)).toBe(false);
    expect(isSweepDue({ settings: s, next_run_at: undefined }, w)).toBe(true);
    expect(isSweepDue({ settings: { ...s, strategy_setting: 'disabled' }, next_run_at: w.start }, w)).toBe(
      false,
    );
  });
});

describe('slotKeysFor (index placement)', () => {
  it('is the slot of the next run and moves across DST when re-indexed after each run', () => {
    const s = settings('Europe/Berlin', 2.5 * HOUR);
    const saved = slotKeysFor(s, at('2026-03-28T12:00:00Z'));
    expect(saved).toEqual({ slot: 4, next_run_at: at('2026-03-29T01:00:00Z') });
    const afterRun = slotKeysFor(s, sweepWindow(at('2026-03-29T01:15:00Z')).end);
    expect(afterRun).toEqual({ slot: 2, next_run_at: at('2026-03-30T00:30:00Z') });
  });

  it('saving after today’s time schedules tomorrow', () => {
    expect(slotKeysFor(settings('UTC', 10 * HOUR), at('2026-05-01T10:00:01Z'))).toEqual({
      slot: 40,
      next_run_at: at('2026-05-02T10:00:00Z'),
    });
  });

  it('is undefined when disabled (no index entry at all)', () => {
    expect(slotKeysFor(settings('UTC', 0, false), at('2026-05-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('sweepWindow and slotOf', () => {
  it('names the elapsed quarter-hour', () => {
    expect(sweepWindow(at('2026-01-01T10:16:30Z'))).toEqual({
      start: at('2026-01-01T10:00:00Z'),
      end: at('2026-01-01T10:15:00Z'),
      slot: 40,
    });
    expect(sweepWindow(at('2026-01-01T00:05:00Z')).slot).toBe(95);
    expect(slotOf(at('2026-01-01T23:59:59Z'))).toBe(95);
  });
});
