import { describe, expect, it } from 'vitest';
import { describeDrift, detectDrift } from '#core/runtime-drift.ts';

const A1 = `acme/a:1.0.0@${'1'.repeat(64)}`;
const A2 = `acme/a:2.0.0@${'2'.repeat(64)}`;
const B1 = `acme/b:1.0.0@${'3'.repeat(64)}`;

describe('detectDrift', () => {
  it('finds nothing when the runtime runs what was recorded', () => {
    expect(
      detectDrift(
        [{ plugin_id: 'acme/a', unique_identifier: A1 }],
        [{ plugin_id: 'acme/a', unique_identifier: A1 }],
      ),
    ).toEqual([]);
  });

  it('names changes, removals and installs made behind pluginops’ back', () => {
    expect(
      detectDrift(
        [
          { plugin_id: 'acme/a', unique_identifier: A1 },
          { plugin_id: 'acme/c', unique_identifier: `acme/c:1.0.0@${'4'.repeat(64)}` },
        ],
        [
          { plugin_id: 'acme/a', unique_identifier: A2 },
          { plugin_id: 'acme/b', unique_identifier: B1 },
        ],
      ),
    ).toEqual([
      { plugin_id: 'acme/a', kind: 'changed-behind-back', recorded: A1, observed: A2 },
      { plugin_id: 'acme/b', kind: 'installed-behind-back', recorded: null, observed: B1 },
      {
        plugin_id: 'acme/c',
        kind: 'removed-behind-back',
        recorded: `acme/c:1.0.0@${'4'.repeat(64)}`,
        observed: null,
      },
    ]);
  });

  it('treats a recorded uninstall as nothing, and limits itself to the given plugins', () => {
    const recorded = [
      { plugin_id: 'acme/a', unique_identifier: null },
      { plugin_id: 'acme/b', unique_identifier: B1 },
    ];
    expect(detectDrift(recorded, [{ plugin_id: 'acme/b', unique_identifier: B1 }])).toEqual([]);
    expect(detectDrift(recorded, [{ plugin_id: 'acme/a', unique_identifier: A1 }], ['acme/b'])).toEqual([
      { plugin_id: 'acme/b', kind: 'removed-behind-back', recorded: B1, observed: null },
    ]);
  });

  it('describes each drift in one sentence', () => {
    const [drift] = detectDrift(
      [{ plugin_id: 'acme/a', unique_identifier: A1 }],
      [{ plugin_id: 'acme/a', unique_identifier: A2 }],
    );
    expect(drift && describeDrift(drift)).toBe(`acme/a runs ${A2} in Dify, but pluginops recorded ${A1}.`);
  });
});
