import { describe, expect, it } from 'vitest';
import { ValidationError } from '#core/errors.ts';
import {
  compareUniqueIdentifiers,
  formatUniqueIdentifier,
  isUniqueIdentifier,
  parsePluginId,
  parseUniqueIdentifier,
  pluginIdOf,
} from '#core/unique-identifier.ts';

const sha = (c: string) => c.repeat(64);
const uid = (pluginId: string, version: string, checksum = sha('a')) => `${pluginId}:${version}@${checksum}`;

describe('formatUniqueIdentifier / parseUniqueIdentifier', () => {
  it('round-trips', () => {
    const parts = { author: 'langgenius', name: 'demo', version: '0.0.1-beta_1', checksum: sha('b') };
    const text = formatUniqueIdentifier(parts);
    expect(text).toBe(`langgenius/demo:0.0.1-beta_1@${sha('b')}`);
    expect(parseUniqueIdentifier(text)).toEqual({ ...parts, pluginId: 'langgenius/demo' });
  });

  it('names every malformed part when formatting', () => {
    try {
      formatUniqueIdentifier({ author: 'Bad', name: 'x y', version: '1.2', checksum: 'ABC' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).errors?.map((e) => e.path)).toEqual([
        'author',
        'name',
        'version',
        'checksum',
      ]);
    }
  });

  it.each([
    ['missing author', `demo:1.0.0@${sha('a')}`],
    ['uppercase checksum', uid('a/b', '1.0.0', sha('A'))],
    ['32-hex checksum (Dify accepts, we do not)', uid('a/b', '1.0.0', 'a'.repeat(32))],
    ['two-part version', uid('a/b', '1.0')],
    ['four-part version', uid('a/b', '1.0.0.0')],
    ['uppercase name', uid('a/Demo', '1.0.0')],
    ['author too long', uid(`${'a'.repeat(65)}/b`, '1.0.0')],
    ['trailing newline', `${uid('a/b', '1.0.0')}\n`],
    ['empty', ''],
  ])('rejects %s', (_label, text) => {
    expect(isUniqueIdentifier(text)).toBe(false);
    expect(() => parseUniqueIdentifier(text)).toThrow(ValidationError);
    expect(() => parseUniqueIdentifier(text)).toThrow(/author\/name:version@checksum/);
  });

  it('accepts the longest valid parts', () => {
    const text = uid(`${'a'.repeat(64)}/${'b'.repeat(128)}`, '9999.9999.9999-abcdefghijklmnop');
    expect(isUniqueIdentifier(text)).toBe(true);
  });
});

describe('plugin ids', () => {
  it('builds and parses author/name', () => {
    expect(pluginIdOf({ author: 'langgenius', name: 'demo' })).toBe('langgenius/demo');
    expect(parsePluginId('langgenius/demo')).toEqual({ author: 'langgenius', name: 'demo' });
  });
  it.each(['demo', 'a/b/c', 'A/b', '/b', 'a/'])('rejects %j', (text) => {
    expect(() => parsePluginId(text)).toThrow(ValidationError);
  });
});

describe('compareUniqueIdentifiers', () => {
  it('orders by plugin id, then semver, then checksum', () => {
    const ordered = [
      uid('a/a', '2.0.0'),
      uid('a/b', '1.0.0-beta'),
      uid('a/b', '1.0.0', sha('1')),
      uid('a/b', '1.0.0', sha('2')),
      uid('a/b', '1.2.0'),
      uid('a/b', '1.10.0'),
      uid('b/a', '0.0.1'),
    ];
    expect([...ordered].reverse().sort(compareUniqueIdentifiers)).toEqual(ordered);
  });
  it('is 0 only for equal identifiers', () => {
    expect(compareUniqueIdentifiers(uid('a/b', '1.0.0'), uid('a/b', '1.0.0'))).toBe(0);
    expect(compareUniqueIdentifiers(uid('a/b', '01.0.0'), uid('a/b', '1.0.0'))).not.toBe(0);
  });
  it('throws on a malformed identifier', () => {
    expect(() => compareUniqueIdentifiers('x', uid('a/b', '1.0.0'))).toThrow(ValidationError);
  });
});
