import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InvalidManifestError } from '#core/errors.ts';
import { MAX_MANIFEST_BYTES, parseManifest, pluginKindsOf, validateManifest } from '#core/manifest.ts';
import { validManifest, validManifestYaml } from '#test/support/manifest-fixture.ts';

function manifestError(run: () => unknown): InvalidManifestError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidManifestError);
    return error as InvalidManifestError;
  }
  throw new Error('expected an InvalidManifestError');
}

const paths = (error: InvalidManifestError) => (error.errors ?? []).map((e) => e.path);
const checksum = 'c'.repeat(64);

describe('parseManifest: valid input', () => {
  it('accepts the fixture', () => {
    const manifest = parseManifest(validManifestYaml());
    expect(manifest.author).toBe('langgenius');
    expect(manifest.plugins.tools).toEqual(['provider/demo.yaml']);
    expect(pluginKindsOf(manifest)).toEqual(['tools']);
  });

  it('keeps unknown keys at every level', () => {
    const manifest = parseManifest(
      validManifestYaml({ x_future: { a: 1 }, meta: { x_meta: true }, label: { de_DE: 'Demo' } }),
    );
    expect(manifest.x_future).toEqual({ a: 1 });
    expect(manifest.meta.x_meta).toBe(true);
    expect(manifest.label.de_DE).toBe('Demo');
  });

  it('keeps an unquoted created_at as written (YAML 1.2 core schema has no timestamps)', () => {
    const yaml = validManifestYaml({ created_at: undefined }).concat(
      'created_at: 2025-01-06T15:54:09.219282+08:00\n',
    );
    expect(parseManifest(yaml).created_at).toBe('2025-01-06T15:54:09.219282+08:00');
  });

  it('normalizes a Date created_at to an ISO string', () => {
    const manifest = validateManifest(validManifest({ created_at: new Date('2024-09-20T08:03:44Z') }));
    expect(manifest.created_at).toBe('2024-09-20T08:03:44.000Z');
  });

  it('accepts the nulls Dify templates write and optional fields left out', () => {
    const manifest = parseManifest(
      validManifestYaml({
        meta: { minimum_dify_version: null },
        icon_dark: null,
        privacy: null,
        repo: null,
        tags: null,
        resource: { permission: null },
      }),
    );
    expect(manifest.meta.minimum_dify_version).toBeNull();
    expect(() => parseManifest(validManifestYaml({ tags: undefined, privacy: undefined }))).not.toThrow();
  });

  it.each([
    ['tools + endpoints', { tools: ['t.yaml'], endpoints: ['e.yaml'] }],
    ['models alone', { tools: undefined, models: ['m.yaml'] }],
    ['agent_strategies alone', { tools: undefined, agent_strategies: ['a.yaml'] }],
    ['datasources alone', { tools: undefined, datasources: ['d.yml'] }],
    ['triggers alone', { tools: undefined, triggers: ['t.yaml'] }],
    ['endpoints alone, empty tools', { tools: [], endpoints: ['e.yaml'] }],
  ])('accepts plugins: %s', (_label, plugins) => {
    expect(() => parseManifest(validManifestYaml({ plugins }))).not.toThrow();
  });

  it('accepts each dependency type', () => {
    const manifest = parseManifest(
      validManifestYaml({
        dependencies: [
          { type: 'marketplace', plugin: 'langgenius/openai', version: '^0.2' },
          { type: 'marketplace', plugin: 'langgenius/openai', version: '1.0.0-2.0.0' },
          { type: 'github', repo: 'langgenius/dify-plugins', release: 'v1.2.0', package: 'openai.difypkg' },
          { type: 'package', unique_identifier: `langgenius/openai:0.2.1@${checksum}` },
        ],
      }),
    );
    expect(manifest.dependencies).toHaveLength(4);
  });

  it('accepts a repo URL or an empty repo', () => {
    expect(parseManifest(validManifestYaml({ repo: 'https://github.com/langgenius/demo' })).repo).toBe(
      'https://github.com/langgenius/demo',
    );
    expect(() => parseManifest(validManifestYaml({ repo: '' }))).not.toThrow();
  });
});

describe('parseManifest: every rule names its field', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['version missing', { version: undefined }, 'version'],
    ['version two parts', { version: '1.0' }, 'version'],
    ['version dotted pre-release', { version: '1.0.0-beta.1' }, 'version'],
    ['version five digits', { version: '10000.0.0' }, 'version'],
    ['version a number', { version: 1 }, 'version'],
    ['type not plugin', { type: 'bundle' }, 'type'],
    ['author uppercase', { author: 'LangGenius' }, 'author'],
    ['author empty', { author: '' }, 'author'],
    ['author too long', { author: 'a'.repeat(65) }, 'author'],
    ['name with space', { name: 'my plugin' }, 'name'],
    ['name too long', { name: 'n'.repeat(129) }, 'name'],
    ['label missing', { label: undefined }, 'label'],
    ['label without en_US', { label: { en_US: undefined, zh_Hans: '演示' } }, 'label.en_US'],
    ['label en_US empty', { label: { en_US: '' } }, 'label.en_US'],
    ['label en_US too long', { label: { en_US: 'x'.repeat(1024) } }, 'label.en_US'],
    ['label a string', { label: 'Demo' }, 'label'],
    ['description ja_JP not text', { description: { ja_JP: 3 } }, 'description.ja_JP'],
    ['icon missing', { icon: undefined }, 'icon'],
    ['icon escapes the package', { icon: '../icon.svg' }, 'icon'],
    ['icon absolute', { icon: '/icon.svg' }, 'icon'],
    ['icon_dark backslash', { icon_dark: 'a\\b.svg' }, 'icon_dark'],
    ['resource missing', { resource: undefined }, 'resource'],
    ['memory missing', { resource: { memory: undefined } }, 'resource.memory'],
    ['memory zero', { resource: { memory: 0 } }, 'resource.memory'],
    ['memory fractional', { resource: { memory: 1.5 } }, 'resource.memory'],
    ['memory a string', { resource: { memory: '256MB' } }, 'resource.memory'],
    [
      'tool.enabled not boolean',
      { resource: { permission: { tool: { enabled: 'yes' } } } },
      'resource.permission.tool.enabled',
    ],
    [
      'model.llm not boolean',
      { resource: { permission: { model: { llm: 1 } } } },
      'resource.permission.model.llm',
    ],
    [
      'model.text_embedding',
      { resource: { permission: { model: { text_embedding: 'no' } } } },
      'resource.permission.model.text_embedding',
    ],
    [
      'model.rerank',
      { resource: { permission: { model: { rerank: 'no' } } } },
      'resource.permission.model.rerank',
    ],
    ['model.tts', { resource: { permission: { model: { tts: 'no' } } } }, 'resource.permission.model.tts'],
    [
      'model.speech2text',
      { resource: { permission: { model: { speech2text: 'no' } } } },
      'resource.permission.model.speech2text',
    ],
    [
      'model.moderation',
      { resource: { permission: { model: { moderation: 'no' } } } },
      'resource.permission.model.moderation',
    ],
    [
      'model.enabled',
      { resource: { permission: { model: { enabled: 'no' } } } },
      'resource.permission.model.enabled',
    ],
    [
      'node.enabled',
      { resource: { permission: { node: { enabled: 'no' } } } },
      'resource.permission.node.enabled',
    ],
    [
      'endpoint.enabled',
      { resource: { permission: { endpoint: { enabled: 'no' } } } },
      'resource.permission.endpoint.enabled',
    ],
    [
      'app.enabled',
      { resource: { permission: { app: { enabled: 'no' } } } },
      'resource.permission.app.enabled',
    ],
    [
      'storage.enabled',
      { resource: { permission: { storage: { enabled: 'no' } } } },
      'resource.permission.storage.enabled',
    ],
    [
      'storage.size below 1 KiB',
      { resource: { permission: { storage: { size: 1023 } } } },
      'resource.permission.storage.size',
    ],
    [
      'storage.size above 1 GiB',
      { resource: { permission: { storage: { size: 1073741825 } } } },
      'resource.permission.storage.size',
    ],
    [
      'storage.size missing',
      { resource: { permission: { storage: { size: undefined } } } },
      'resource.permission.storage.size',
    ],
    ['plugins missing', { plugins: undefined }, 'plugins'],
    ['plugins empty', { plugins: { tools: [] } }, 'plugins'],
    ['plugins.tools not a list', { plugins: { tools: 'provider/demo.yaml' } }, 'plugins.tools'],
    ['plugins.tools entry not yaml', { plugins: { tools: ['provider/demo.py'] } }, 'plugins.tools.0'],
    ['plugins.tools entry escapes', { plugins: { tools: ['ok.yaml', '../x.yaml'] } }, 'plugins.tools.1'],
    ['models with tools', { plugins: { models: ['m.yaml'] } }, 'plugins.models'],
    [
      'agent_strategies with tools',
      { plugins: { agent_strategies: ['a.yaml'] } },
      'plugins.agent_strategies',
    ],
    ['datasources with tools', { plugins: { datasources: ['d.yaml'] } }, 'plugins.datasources'],
    [
      'triggers with endpoints',
      { plugins: { tools: undefined, endpoints: ['e.yaml'], triggers: ['t.yaml'] } },
      'plugins.triggers',
    ],
    ['meta missing', { meta: undefined }, 'meta'],
    ['meta.version bad', { meta: { version: 'one' } }, 'meta.version'],
    ['meta.arch empty', { meta: { arch: [] } }, 'meta.arch'],
    ['meta.arch unknown', { meta: { arch: ['amd64', 'riscv'] } }, 'meta.arch.1'],
    ['meta.runner missing', { meta: { runner: undefined } }, 'meta.runner'],
    ['meta.runner.language', { meta: { runner: { language: 'go' } } }, 'meta.runner.language'],
    ['meta.runner.version empty', { meta: { runner: { version: '' } } }, 'meta.runner.version'],
    [
      'meta.runner.entrypoint missing',
      { meta: { runner: { entrypoint: undefined } } },
      'meta.runner.entrypoint',
    ],
    [
      'meta.minimum_dify_version bad',
      { meta: { minimum_dify_version: 'latest' } },
      'meta.minimum_dify_version',
    ],
    ['created_at missing', { created_at: undefined }, 'created_at'],
    ['created_at date only', { created_at: '2024-09-20' }, 'created_at'],
    ['created_at no zone', { created_at: '2024-09-20T08:03:44' }, 'created_at'],
    ['tags unknown tag', { tags: ['search', 'spaceships'] }, 'tags.1'],
    ['privacy a list', { privacy: ['a'] }, 'privacy'],
    ['repo not a URL', { repo: 'github.com/x' }, 'repo'],
    ['dependencies not a list', { dependencies: { type: 'package' } }, 'dependencies'],
    ['dependency without type', { dependencies: [{ plugin: 'a/b' }] }, 'dependencies.0.type'],
    ['dependency unknown type', { dependencies: [{ type: 'npm' }] }, 'dependencies.0.type'],
    [
      'marketplace plugin id',
      { dependencies: [{ type: 'marketplace', plugin: 'b', version: '1.0.0' }] },
      'dependencies.0.plugin',
    ],
    [
      'marketplace range',
      { dependencies: [{ type: 'marketplace', plugin: 'a/b', version: 'newest' }] },
      'dependencies.0.version',
    ],
    [
      'github repo',
      { dependencies: [{ type: 'github', repo: 'x', release: 'v1', package: 'a.difypkg' }] },
      'dependencies.0.repo',
    ],
    [
      'github release',
      { dependencies: [{ type: 'github', repo: 'o/r', release: '', package: 'a.difypkg' }] },
      'dependencies.0.release',
    ],
    [
      'github package',
      { dependencies: [{ type: 'github', repo: 'o/r', release: 'v1', package: 'a.zip' }] },
      'dependencies.0.package',
    ],
    [
      'package identifier',
      { dependencies: [{ type: 'package', unique_identifier: 'a/b:1.0.0' }] },
      'dependencies.0.unique_identifier',
    ],
  ])('%s → %s', (_label, overrides, path) => {
    const error = manifestError(() => parseManifest(validManifestYaml(overrides)));
    expect(error.slug).toBe('invalid-manifest');
    expect(error.status).toBe(422);
    expect(paths(error)).toEqual([path]);
    expect(error.message).toContain(path);
  });

  it('reports every offending field at once', () => {
    const error = manifestError(() =>
      parseManifest(
        validManifestYaml({
          author: 'X',
          resource: { memory: -1, permission: { storage: { size: 1 } } },
          meta: { arch: [] },
          dependencies: [{ type: 'package', unique_identifier: 'nope' }],
        }),
      ),
    );
    expect(paths(error).sort()).toEqual(
      [
        'author',
        'dependencies.0.unique_identifier',
        'meta.arch',
        'resource.memory',
        'resource.permission.storage.size',
      ].sort(),
    );
    expect(error.toProblem().errors).toHaveLength(5);
  });

  it('says a missing field is required', () => {
    const error = manifestError(() => parseManifest(validManifestYaml({ name: undefined })));
    expect(error.errors).toEqual([{ path: 'name', message: 'is required (string)' }]);
  });
});

describe('parseManifest: YAML safety', () => {
  it('reports bad YAML with line and column', () => {
    const error = manifestError(() => parseManifest('version: 0.0.1\nauthor: [unclosed\nname: x\n'));
    expect(error.message).toMatch(/line \d+, column \d+/);
    expect(error.toProblem()).toMatchObject({
      type: 'urn:pluginops:problem:invalid-manifest',
      line: expect.any(Number),
    });
  });

  it('refuses duplicate keys', () => {
    const error = manifestError(() => parseManifest(`${validManifestYaml()}author: evil\n`));
    expect(error.message).toMatch(/unique/i);
  });

  it('refuses custom tags', () => {
    expect(() => parseManifest('author: !!js/function "return 1"\n')).toThrow(InvalidManifestError);
    expect(() => parseManifest('author: !custom x\n')).toThrow(InvalidManifestError);
  });

  it('bounds alias expansion (billion laughs)', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const error = manifestError(() => parseManifest(lines.join('\n')));
    expect(error.message).toMatch(/alias/i);
  });

  it.each([
    ['a sequence', '- 1\n- 2\n'],
    ['a scalar', 'hello\n'],
    ['an empty document', ''],
    ['null', 'null\n'],
  ])('refuses a root that is %s', (_label, text) => {
    const error = manifestError(() => parseManifest(text));
    expect(paths(error)).toEqual(['(root)']);
  });

  it('refuses a manifest over 256 KiB', () => {
    const text = `${validManifestYaml()}# ${'x'.repeat(MAX_MANIFEST_BYTES)}\n`;
    expect(() => parseManifest(text)).toThrow(/larger than/);
  });

  it('does not let __proto__ keys reach the prototype', () => {
    const manifest = parseManifest(`${validManifestYaml()}__proto__:\n  polluted: true\n`);
    expect(Object.getPrototypeOf(manifest)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseManifest: fuzz', () => {
  const onlyManifestOrInvalid = (run: () => unknown) => {
    try {
      const manifest = run();
      expect(typeof manifest).toBe('object');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidManifestError);
    }
  };

  it('arbitrary text → a Manifest or InvalidManifestError', () => {
    const yamlish = fc.stringMatching(/^[a-z0-9:\-[\]{}&*!|>'" \n#,.?@%`]{0,200}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), yamlish), (text) =>
        onlyManifestOrInvalid(() => parseManifest(text)),
      ),
      { numRuns: 1000 },
    );
  });

  it('arbitrary JSON-ish objects → a Manifest or InvalidManifestError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        onlyManifestOrInvalid(() => validateManifest(value));
        onlyManifestOrInvalid(() => parseManifest(stringify(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('mutations of the valid manifest → a Manifest or InvalidManifestError', () => {
    const keyPath = fc.constantFrom(
      'version',
      'author',
      'icon',
      'resource',
      'plugins',
      'meta',
      'created_at',
      'tags',
      'dependencies',
      'label',
    );
    fc.assert(
      fc.property(keyPath, fc.jsonValue({ maxDepth: 3 }), (key, value) => {
        onlyManifestOrInvalid(() => parseManifest(validManifestYaml({ [key]: value })));
      }),
      { numRuns: 300 },
    );
  });
});
