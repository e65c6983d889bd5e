import { describe, expect, it } from 'vitest';
import { ProblemError, ValidationError } from '#core/errors.ts';
import {
  type CandidatePort,
  describePlan,
  type Requirement,
  type ResolveRequest,
  requirementFromDependency,
  resolveDependencies,
} from '#core/resolver/index.ts';
import { type CatalogSpec, fakePort, requirement, uid } from './catalog-fixture.ts';

const none = new Map<string, string>();

async function resolveSpec(spec: CatalogSpec, roots: Requirement[], extra: Partial<ResolveRequest> = {}) {
  return resolveDependencies(fakePort(spec), { roots, installed: none, ...extra });
}

function picked(resolution: Awaited<ReturnType<typeof resolveDependencies>>): string[] {
  return resolution.order.map((c) => `${c.pluginId} ${c.version}`);
}

async function failure(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemError);
  return error as ProblemError;
}

describe('resolveDependencies — solutions', () => {
  it('resolves a linear chain to the highest versions, dependencies first', async () => {
    const resolution = await resolveSpec(
      {
        't/a': { '1.0.0': { 't/b': '^1.0' }, '1.1.0': { 't/b': '^1.2' } },
        't/b': { '1.0.0': { 't/c': '*' }, '1.2.0': { 't/c': '~2.0.0' }, '1.3.0': { 't/c': '~2.0.0' } },
        't/c': { '2.0.0': {}, '2.0.5': {}, '2.1.0': {} },
      },
      [requirement('t/a', '^1.0')],
    );
    expect(picked(resolution)).toEqual(['t/c 2.0.5', 't/b 1.3.0', 't/a 1.1.0']);
    expect([...resolution.packages.keys()]).toEqual(['t/c', 't/b', 't/a']);
    expect(resolution.packages.get('t/a')?.uniqueIdentifier).toBe(uid('t/a', '1.1.0'));
  });

  it('resolves a diamond to the shared version that satisfies both sides', async () => {
    const resolution = await resolveSpec(
      {
        't/app': { '1.0.0': { 't/left': '^1.0', 't/right': '^1.0' } },
        't/left': { '1.0.0': { 't/shared': '>=1.2.0' } },
        't/right': { '1.0.0': { 't/shared': '<1.4.0' } },
        't/shared': { '1.0.0': {}, '1.2.0': {}, '1.3.0': {}, '1.4.0': {}, '2.0.0': {} },
      },
      [requirement('t/app', '1.0.0')],
    );
    expect(picked(resolution)).toEqual(['t/shared 1.3.0', 't/left 1.0.0', 't/right 1.0.0', 't/app 1.0.0']);
  });

  it('backtracks when the highest version has an impossible dependency', async () => {
    const resolution = await resolveSpec(
      {
        't/a': { '2.0.0': { 't/b': '^9.0' }, '1.5.0': { 't/gone': '*' }, '1.0.0': { 't/b': '^1.0' } },
        't/b': { '1.0.0': {}, '2.0.0': {} },
      },
      [requirement('t/a', '*')],
    );
    expect(picked(resolution)).toEqual(['t/b 1.0.0', 't/a 1.0.0']);
  });

  it('backtracks across packages: a newer A forces a B that conflicts with the request', async () => {
    const resolution = await resolveSpec(
      {
        't/a': { '1.0.0': { 't/b': '^1.0' }, '2.0.0': { 't/b': '^2.0' }, '3.0.0': { 't/b': '^3.0' } },
        't/b': { '1.0.0': {}, '2.0.0': {}, '3.0.0': { 't/c': '^2.0' } },
        't/c': { '1.0.0': {}, '2.0.0': {} },
      },
      [requirement('t/a', '*'), requirement('t/c', '^1.0')],
    );
    expect(picked(resolution)).toEqual(['t/b 2.0.0', 't/a 2.0.0', 't/c 1.0.0']);
  });

  it('keeps the installed version when it satisfies every constraint, and moves when it does not', async () => {
    const spec: CatalogSpec = {
      't/a': { '1.0.0': { 't/b': '^1.0' } },
      't/b': { '1.0.0': {}, '1.4.0': {}, '1.5.0': {}, '2.0.0': {} },
    };
    const kept = await resolveSpec(spec, [requirement('t/a', '*')], {
      installed: new Map([['t/b', '1.4.0']]),
    });
    expect(picked(kept)).toEqual(['t/b 1.4.0', 't/a 1.0.0']);
    const moved = await resolveSpec(spec, [requirement('t/a', '*')], {
      installed: new Map([['t/b', '2.0.0']]),
    });
    expect(picked(moved)).toEqual(['t/b 1.5.0', 't/a 1.0.0']);
  });

  it('picks pre-releases only when the range names one or the tenant opts in', async () => {
    const spec: CatalogSpec = { 't/b': { '1.0.0': {}, '1.1.0-beta': {}, '2.0.0-rc1': {} } };
    expect(picked(await resolveSpec(spec, [requirement('t/b', '^1.0')]))).toEqual(['t/b 1.0.0']);
    expect(picked(await resolveSpec(spec, [requirement('t/b', '>=1.1.0-beta <2.0.0')]))).toEqual([
      't/b 1.1.0-beta',
    ]);
    expect(picked(await resolveSpec(spec, [requirement('t/b', '*')], { allowPrerelease: true }))).toEqual([
      't/b 2.0.0-rc1',
    ]);
    const error = await failure(resolveSpec(spec, [requirement('t/b', '^2.0')]));
    expect(error.message).toBe(
      'The request requires t/b ^2.0, which no catalogued version of t/b satisfies (catalogued: 2.0.0-rc1, 1.1.0-beta, 1.0.0).',
    );
  });

  it('accepts only the exact build for a pinned identifier', async () => {
    const other = `t/b:1.0.0@${'f'.repeat(64)}`;
    const catalog = new Map([
      [
        't/b',
        [
          { pluginId: 't/b', version: '1.0.0', uniqueIdentifier: other, dependencies: [] },
          { pluginId: 't/b', version: '1.0.0', uniqueIdentifier: uid('t/b', '1.0.0'), dependencies: [] },
          { pluginId: 't/b', version: '1.1.0', uniqueIdentifier: uid('t/b', '1.1.0'), dependencies: [] },
        ],
      ],
      [
        't/a',
        [
          {
            pluginId: 't/a',
            version: '1.0.0',
            uniqueIdentifier: uid('t/a', '1.0.0'),
            dependencies: [requirement('t/b', '=1.0.0')],
          },
        ],
      ],
    ]);
    const resolution = await resolveDependencies(fakePort(catalog), {
      roots: [requirement('t/a', '*')],
      installed: none,
    });
    expect(resolution.packages.get('t/b')?.uniqueIdentifier).toBe(uid('t/b', '1.0.0'));

    const missingBuild = `t/b:1.1.0@${'0'.repeat(64)}`;
    const error = await failure(
      resolveDependencies(fakePort(catalog), {
        roots: [{ pluginId: 't/b', range: '1.1.0', pinned: missingBuild }],
        installed: none,
      }),
    );
    expect(error.message).toBe(`The request requires ${missingBuild}, which is not in the catalog.`);
  });

  it('works with an asynchronous port and asks for each plugin once', async () => {
    const port = fakePort(
      {
        't/a': { '1.0.0': { 't/b': '*', 't/c': '*' } },
        't/b': { '1.0.0': { 't/c': '*' } },
        't/c': { '1.0.0': {} },
      },
      { async: true },
    );
    const resolution = await resolveDependencies(port, { roots: [requirement('t/a', '*')], installed: none });
    expect(picked(resolution)).toEqual(['t/c 1.0.0', 't/b 1.0.0', 't/a 1.0.0']);
    expect([...port.asked].sort()).toEqual(['t/a', 't/b', 't/c']);
  });

  it('resolves an empty request to an empty plan', async () => {
    const resolution = await resolveSpec({}, []);
    expect(resolution.order).toEqual([]);
  });
});

describe('resolveDependencies — explanations', () => {
  it('explains a conflicting diamond in one sentence and a conclusion', async () => {
    const error = await failure(
      resolveSpec(
        {
          't/x': { '2.0.0': { 't/y': '^1.4' } },
          't/z': { '1.0.0': { 't/y': '^2.0' } },
          't/y': { '1.4.0': {}, '1.5.0': {}, '2.0.0': {} },
        },
        [requirement('t/x', '^2.0'), requirement('t/z', '^1.0')],
      ),
    );
    expect(error.slug).toBe('dependency-unsatisfiable');
    expect(error.status).toBe(422);
    const explanation = [
      't/x 2.0.0 depends on t/y ^1.4, and t/z 1.0.0 depends on t/y ^2.0, so t/x 2.0.0 and t/z 1.0.0 cannot be installed together.',
      'So, because the request requires both t/x ^2.0 and t/z ^1.0, the request cannot be satisfied.',
    ];
    expect(error.extensions).toEqual({ explanation });
    expect(error.message).toBe(explanation.join('\n'));
    expect(error.toProblem().type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
  });

  it('numbers a derived fact that a later sentence points back at', async () => {
    const error = await failure(
      resolveSpec(
        {
          't/foo': {
            '1.0.0': { 't/a': '^1.0.0', 't/b': '^1.0.0' },
            '1.1.0': { 't/x': '^1.0.0', 't/y': '^1.0.0' },
          },
          't/a': { '1.0.0': { 't/b': '^2.0.0' } },
          't/b': { '1.0.0': {}, '2.0.0': {} },
          't/x': { '1.0.0': { 't/y': '^2.0.0' } },
          't/y': { '1.0.0': {}, '2.0.0': {} },
        },
        [requirement('t/foo', '^1.0.0')],
      ),
    );
    expect(error.extensions?.explanation).toEqual([
      't/foo 1.0.0 depends on t/a ^1.0.0 which depends on t/b ^2.0.0, so t/foo 1.0.0 requires t/b ^2.0.0.',
      '(1) So, because t/foo 1.0.0 depends on t/b ^1.0.0, t/foo 1.0.0 cannot be installed.',
      't/foo 1.1.0 depends on t/x ^1.0.0 which depends on t/y ^2.0.0, so t/foo 1.1.0 requires t/y ^2.0.0.',
      'And because t/foo 1.1.0 depends on t/y ^1.0.0, t/foo 1.1.0 cannot be installed.',
      'And because t/foo 1.0.0 cannot be installed (1), no version of t/foo can be installed.',
      'So, because the request requires t/foo ^1.0.0, the request cannot be satisfied.',
    ]);
  });

  it('names a dependency that is not in the catalog', async () => {
    const error = await failure(
      resolveSpec({ 't/x': { '1.0.0': { 't/y': '^1.0' } } }, [requirement('t/x', '^1.0')]),
    );
    expect(error.message).toBe(
      't/x 1.0.0 depends on t/y, which is not in the catalog, and the request requires t/x ^1.0, so the request cannot be satisfied.',
    );
    const direct = await failure(resolveSpec({}, [requirement('t/nowhere', '*')]));
    expect(direct.message).toBe('The request requires t/nowhere, which is not in the catalog.');
  });

  it('describes sets of versions by bounds over the catalogue', async () => {
    const error = await failure(
      resolveSpec(
        {
          't/x': {
            '1.0.0': { 't/y': '^1.0' },
            '1.1.0': { 't/y': '^1.0' },
            '1.2.0': { 't/y': '^2.0', 't/z': '*' },
            '1.3.0': { 't/y': '^2.0', 't/z': '*' },
            '2.0.0': {},
          },
          't/y': { '1.0.0': {}, '2.0.0': {} },
        },
        [requirement('t/x', '<2.0.0'), requirement('t/y', '2.0.0')],
      ),
    );
    expect(error.extensions?.explanation).toEqual([
      't/x >=1.2.0 <=1.3.0 depends on t/z, which is not in the catalog, and t/x <=1.1.0 depends on t/y ^1.0, so t/x <2.0.0 requires t/y ^1.0.',
      'So, because the request requires both t/x <2.0.0 and t/y 2.0.0, the request cannot be satisfied.',
    ]);
  });
});

describe('resolveDependencies — cycles and limits', () => {
  it('reports a cycle among the chosen versions in order', async () => {
    const error = await failure(
      resolveSpec(
        {
          't/a': { '1.0.0': { 't/b': '*' } },
          't/b': { '1.0.0': { 't/c': '*' } },
          't/c': { '1.0.0': { 't/a': '*' } },
          't/d': { '1.0.0': { 't/b': '*' } },
        },
        [requirement('t/d', '*')],
      ),
    );
    expect(error.slug).toBe('dependency-cycle');
    expect(error.message).toBe(
      'The chosen plugins depend on each other in a cycle, so none of them can be installed first: t/a → t/b → t/c → t/a.',
    );
    expect(error.extensions).toEqual({ cycle: ['t/a', 't/b', 't/c', 't/a'] });
  });

  it('reports a plugin that depends on itself', async () => {
    const error = await failure(
      resolveSpec({ 't/a': { '1.0.0': { 't/a': '^1.0' } } }, [requirement('t/a', '*')]),
    );
    expect(error.extensions).toEqual({ cycle: ['t/a', 't/a'] });
  });

  it('stops with a clear message when the graph reaches too many plugins', async () => {
    const spec: CatalogSpec = {};
    for (let i = 0; i < 10; i += 1) spec[`t/p${i}`] = { '1.0.0': i < 9 ? { [`t/p${i + 1}`]: '*' } : {} };
    const error = await failure(
      resolveSpec(spec, [requirement('t/p0', '*')], { limits: { maxPackages: 5 } }),
    );
    expect(error.slug).toBe('dependency-unsatisfiable');
    expect(error.message).toBe(
      'The dependency problem is too large to solve: the dependency graph reaches more than 5 plugins (limit maxPackages).',
    );
    expect(error.extensions?.limit).toBe('maxPackages');
    await expect(
      resolveSpec(spec, [requirement('t/p0', '*')], { limits: { maxPackages: 10 } }),
    ).resolves.toBeDefined();
  });

  it('stops after maxSteps decisions and conflicts', async () => {
    const spec: CatalogSpec = {};
    for (let i = 0; i < 10; i += 1) spec[`t/p${i}`] = { '1.0.0': i < 9 ? { [`t/p${i + 1}`]: '*' } : {} };
    const error = await failure(resolveSpec(spec, [requirement('t/p0', '*')], { limits: { maxSteps: 4 } }));
    expect(error.message).toMatch(/too large to solve: solving took more than 4 steps \(limit maxSteps\)/);
    expect(error.extensions?.limit).toBe('maxSteps');
  });
});

describe('resolveDependencies — determinism', () => {
  const spec: CatalogSpec = {
    't/app': { '1.0.0': { 't/m': '*', 't/k': '*', 't/z': '*' } },
    't/m': { '1.0.0': { 't/shared': '^1.0' }, '2.0.0': { 't/shared': '^2.0' } },
    't/k': { '1.0.0': { 't/shared': '>=1.1.0' } },
    't/z': { '1.0.0': {} },
    't/shared': { '1.0.0': {}, '1.1.0': {}, '2.0.0': { 't/z': '^2.0' } },
  };

  it('gives the same order whatever order and timing the port answers in', async () => {
    const roots = [requirement('t/app', '*')];
    const results = await Promise.all(
      [{}, { reverse: true }, { async: true }, { async: true, reverse: true }].map((options) =>
        resolveDependencies(fakePort(spec, options), { roots, installed: none }),
      ),
    );
    const orders = results.map(picked);
    expect(orders[0]).toEqual(['t/shared 1.1.0', 't/k 1.0.0', 't/m 1.0.0', 't/z 1.0.0', 't/app 1.0.0']);
    for (const order of orders) expect(order).toEqual(orders[0]);
  });

  it('gives the same explanation whatever order the port answers in', async () => {
    const roots = [requirement('t/app', '*'), requirement('t/shared', '^2.0')];
    const messages = await Promise.all(
      [{}, { reverse: true }, { async: true, reverse: true }].map(async (options) => {
        const error = await failure(resolveDependencies(fakePort(spec, options), { roots, installed: none }));
        return error.message;
      }),
    );
    for (const message of messages) expect(message).toBe(messages[0]);
  });

  it('rejects a port that answers with another plugin', async () => {
    const port: CandidatePort = {
      versionsOf: () => [
        {
          pluginId: 't/other',
          version: '1.0.0',
          uniqueIdentifier: uid('t/other', '1.0.0'),
          dependencies: [],
        },
      ],
    };
    await expect(
      resolveDependencies(port, { roots: [requirement('t/a', '*')], installed: none }),
    ).rejects.toThrow(/returned t\/other:1.0.0@.* when asked for t\/a/);
  });
});

describe('resolveDependencies — input', () => {
  it('rejects an invalid root range and a pin on another plugin', async () => {
    await expect(resolveSpec({}, [{ pluginId: 't/a', range: 'not a range' }])).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      resolveSpec({}, [{ pluginId: 't/a', range: '1.0.0', pinned: uid('t/b', '1.0.0') }]),
    ).rejects.toThrow(/does not belong to plugin t\/a/);
  });

  it('turns manifest dependencies into requirements', () => {
    expect(requirementFromDependency({ type: 'marketplace', plugin: 't/a', version: '1.0.0-2.0.0' })).toEqual(
      {
        pluginId: 't/a',
        range: '1.0.0 - 2.0.0',
      },
    );
    expect(requirementFromDependency({ type: 'package', unique_identifier: uid('t/b', '1.2.3') })).toEqual({
      pluginId: 't/b',
      range: '1.2.3',
      pinned: uid('t/b', '1.2.3'),
    });
    expect(() =>
      requirementFromDependency({ type: 'github', repo: 'o/r', release: 'v1', package: 'p.difypkg' }),
    ).toThrow(/must be fetched and published/);
  });
});

describe('describePlan', () => {
  it('says per plugin, in install order, what changes for the tenant', async () => {
    const resolution = await resolveSpec(
      {
        't/a': { '2.0.0': { 't/b': '^1.0', 't/c': '*', 't/d': '<2.0.0' } },
        't/b': { '1.0.0': {}, '1.5.0': {} },
        't/c': { '1.0.0': {} },
        't/d': { '1.0.0': {}, '2.0.0': {} },
      },
      [requirement('t/a', '*')],
      { installed: new Map([['t/c', '1.0.0']]) },
    );
    const installed = new Map([
      ['t/b', '1.0.0'],
      ['t/c', '1.0.0'],
      ['t/d', '2.0.0'],
    ]);
    expect(describePlan(resolution, installed)).toEqual([
      {
        plugin_id: 't/b',
        from: '1.0.0',
        to: '1.5.0',
        unique_identifier: uid('t/b', '1.5.0'),
        action: 'upgrade',
      },
      {
        plugin_id: 't/c',
        from: '1.0.0',
        to: '1.0.0',
        unique_identifier: uid('t/c', '1.0.0'),
        action: 'keep',
      },
      {
        plugin_id: 't/d',
        from: '2.0.0',
        to: '1.0.0',
        unique_identifier: uid('t/d', '1.0.0'),
        action: 'downgrade',
      },
      {
        plugin_id: 't/a',
        from: null,
        to: '2.0.0',
        unique_identifier: uid('t/a', '2.0.0'),
        action: 'install',
      },
    ]);
  });
});
