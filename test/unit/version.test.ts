import fc from 'fast-check';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#core/errors.ts';
import {
  compareVersions,
  isDifyVersion,
  isPrerelease,
  normalizeDifyRange,
  pickUpgradeCandidate,
  satisfiesRange,
  versionSortKey,
} from '#core/version.ts';

/** Dify-shaped versions that are also strict semver (no leading zeros, no `_`). */
const semverNumber = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 9999 }));
const prereleaseId = fc.oneof(
  fc.integer({ min: 0, max: 9_999_999_999_999 }).map(String),
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,15}$/),
  fc.stringMatching(/^[0-9]{1,8}[a-zA-Z][a-zA-Z0-9]{0,6}$/),
  fc.constantFrom('alpha', 'beta', 'rc1', 'rc10', 'rc2', 'Beta', 'a', 'b1'),
);
const difySemverVersion = fc
  .tuple(semverNumber, semverNumber, semverNumber, fc.option(prereleaseId, { nil: undefined }))
  .map(([ma, mi, pa, pre]) => `${ma}.${mi}.${pa}${pre === undefined ? '' : `-${pre}`}`);

describe('isDifyVersion', () => {
  it.each([
    '0.0.1',
    '1.2.3',
    '9999.9999.9999',
    '1.0.0-beta',
    '1.0.0-rc_1',
    '01.2.3',
    '1.0.0-abcdefghijklmnop',
  ])('accepts %s', (v) => expect(isDifyVersion(v)).toBe(true));
  it.each([
    '1.2',
    '1.2.3.4',
    '10000.0.0',
    'v1.2.3',
    '1.0.0-beta.1',
    '1.0.0-',
    '1.0.0-abcdefghijklmnopq',
    ' 1.2.3',
    1,
  ])('rejects %s', (v) => expect(isDifyVersion(v)).toBe(false));
});

describe('versionSortKey', () => {
  it('has a documented layout', () => {
    expect(versionSortKey('1.2.3')).toBe('0001.0002.0003~');
    expect(versionSortKey('1.2.3-beta')).toBe('0001.0002.0003-1beta');
    expect(versionSortKey('1.2.3-7')).toBe('0001.0002.0003-00000000000000007');
  });

  it('orders a hand-written list exactly as semver does', () => {
    const ordered = [
      '0.0.1',
      '0.0.2',
      '0.0.10',
      '0.1.0-1',
      '0.1.0-2',
      '0.1.0-10',
      '0.1.0-Z',
      '0.1.0-alpha',
      '0.1.0-alpha1',
      '0.1.0-beta',
      '0.1.0',
      '0.9.0',
      '0.10.0',
      '1.0.0-rc1',
      '1.0.0',
      '2.0.0',
      '10.0.0',
      '9999.0.0',
    ];
    const shuffled = [...ordered].reverse();
    expect(shuffled.sort((a, b) => (versionSortKey(a) < versionSortKey(b) ? -1 : 1))).toEqual(ordered);
    expect([...ordered].reverse().sort(semver.compare)).toEqual(ordered);
  });

  it('sorts like semver.compare for any Dify-shaped semver version (property)', () => {
    fc.assert(
      fc.property(difySemverVersion, difySemverVersion, (a, b) => {
        const ka = versionSortKey(a);
        const kb = versionSortKey(b);
        expect(ka < kb ? -1 : ka > kb ? 1 : 0).toBe(semver.compare(a, b));
        expect(compareVersions(a, b)).toBe(semver.compare(a, b));
        // Keys are printable ASCII, so UTF-16 order is UTF-8 byte order (DynamoDB's order for S keys).
        expect(ka).toMatch(/^[\x20-\x7e]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('treats leading zeros as the same number', () => {
    expect(versionSortKey('01.02.003')).toBe(versionSortKey('1.2.3'));
    expect(compareVersions('1.0.0-007', '1.0.0-7')).toBe(0);
  });

  it('rejects non-Dify versions', () => {
    expect(() => versionSortKey('1.2')).toThrow(ValidationError);
  });
});

describe('compareVersions', () => {
  it('orders `_` pre-releases that semver cannot parse', () => {
    expect(compareVersions('1.0.0-rc_1', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('1.0.0-rc_1', '1.0.0-rc_2')).toBeLessThan(0);
  });
  it('falls back to semver for other valid versions', () => {
    expect(compareVersions('1.10.0-rc.1', '1.10.0')).toBeLessThan(0);
  });
  it('throws ValidationError on garbage', () => {
    expect(() => compareVersions('latest', '1.0.0')).toThrow(ValidationError);
  });
});

describe('isPrerelease', () => {
  it('detects pre-releases', () => {
    expect(isPrerelease('1.0.0-beta')).toBe(true);
    expect(isPrerelease('1.0.0')).toBe(false);
    expect(isPrerelease('1.0.0-rc.1')).toBe(true);
    expect(() => isPrerelease('nope')).toThrow(ValidationError);
  });
});

describe('pickUpgradeCandidate', () => {
  const available = [
    '1.2.2',
    '1.2.3',
    '1.2.4',
    '1.2.10',
    '1.2.11-beta',
    '1.3.0',
    '2.0.0-rc1',
    '0.9.0',
    'junk',
  ];

  it('fix_only takes the highest patch of the same major.minor', () => {
    expect(pickUpgradeCandidate('1.2.3', available, 'fix_only')).toBe('1.2.10');
  });
  it('latest takes the highest release', () => {
    expect(pickUpgradeCandidate('1.2.3', available, 'latest')).toBe('1.3.0');
  });
  it('includes pre-releases only when allowed', () => {
    expect(pickUpgradeCandidate('1.2.3', available, 'latest', { allowPrerelease: true })).toBe('2.0.0-rc1');
    expect(pickUpgradeCandidate('1.2.3', available, 'fix_only', { allowPrerelease: true })).toBe(
      '1.2.11-beta',
    );
  });
  it('never picks a lower or equal version (Dify compares with !=)', () => {
    expect(pickUpgradeCandidate('1.3.0', ['1.2.9', '1.3.0', '0.1.0'], 'latest')).toBeUndefined();
    expect(pickUpgradeCandidate('1.2.10', ['1.2.9'], 'fix_only')).toBeUndefined();
  });
  it('moves a pre-release to its release under fix_only', () => {
    expect(pickUpgradeCandidate('1.2.0-beta', ['1.2.0'], 'fix_only')).toBe('1.2.0');
  });
  it('returns undefined when nothing is available', () => {
    expect(pickUpgradeCandidate('1.0.0', [], 'latest')).toBeUndefined();
  });
  it('rejects a malformed current version', () => {
    expect(() => pickUpgradeCandidate('x', ['1.0.0'], 'latest')).toThrow(ValidationError);
  });

  it('always returns an allowed version strictly greater than current, and the highest (property)', () => {
    fc.assert(
      fc.property(
        difySemverVersion,
        fc.array(difySemverVersion, { maxLength: 20 }),
        fc.constantFrom('fix_only' as const, 'latest' as const),
        fc.boolean(),
        (current, list, strategy, allowPrerelease) => {
          const picked = pickUpgradeCandidate(current, list, strategy, { allowPrerelease });
          const allowed = list.filter(
            (v) =>
              semver.gt(v, current) &&
              (allowPrerelease || semver.prerelease(v) === null) &&
              (strategy === 'latest' ||
                (semver.major(v) === semver.major(current) && semver.minor(v) === semver.minor(current))),
          );
          if (allowed.length === 0) {
            expect(picked).toBeUndefined();
          } else {
            expect(picked).toBeDefined();
            expect(semver.compare(picked as string, allowed.sort(semver.rcompare)[0] as string)).toBe(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('normalizeDifyRange / satisfiesRange', () => {
  it.each([
    ['1.2.3', '1.2.3'],
    ['^1.2', '^1.2'],
    ['~1.2.3', '~1.2.3'],
    ['1.x', '1.x'],
    ['1.2.x', '1.2.x'],
    ['1.x.x', '1.x.x'],
    ['*', '*'],
    ['1.0.0-2.0.0', '1.0.0 - 2.0.0'],
    ['1.0.0-beta-2.0.0', '1.0.0-beta - 2.0.0'],
    ['  >=1.0.0 <2.0.0 ', '>=1.0.0 <2.0.0'],
    ['^1 || ^2', '^1 || ^2'],
  ])('normalizes %s to %s', (input, expected) => {
    expect(normalizeDifyRange(input)).toBe(expected);
  });

  it.each(['', '   ', 'latest', 'garbage', '1.2.3.4.5', '>=', 'x'.repeat(300)])('rejects %j', (input) => {
    expect(() => normalizeDifyRange(input)).toThrow(ValidationError);
  });

  it.each([
    ['1.2.3', '1.2.3', true],
    ['1.2.4', '1.2.3', false],
    ['1.9.0', '^1.2', true],
    ['2.0.0', '^1.2', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['1.99.0', '1.x', true],
    ['1.2.7', '1.2.x', true],
    ['1.3.0', '1.2.x', false],
    ['5.0.0', '*', true],
    ['1.5.0', '1.0.0-2.0.0', true],
    ['2.0.0', '1.0.0-2.0.0', true],
    ['2.0.1', '1.0.0-2.0.0', false],
    ['1.0.0-beta', '1.0.0-beta', true],
    ['1.3.0-beta', '^1.2', false],
  ])('%s satisfies %s: %s', (version, range, expected) => {
    expect(satisfiesRange(version, range)).toBe(expected);
  });
});
