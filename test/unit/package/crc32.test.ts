import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine } from '#core/package/crc32.ts';

describe('crc32Combine', () => {
  it('matches the check value of CRC-32 ("123456789" → cbf43926) split anywhere', () => {
    const text = Buffer.from('123456789');
    for (let at = 0; at <= text.length; at++) {
      const a = text.subarray(0, at);
      const b = text.subarray(at);
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(0xcbf43926);
    }
  });

  it.each([
    [0, 0],
    [0, 17],
    [17, 0],
    [1, 1],
    [65_535, 5],
    [3, 1024 * 1024 + 1],
    [100_000, 8 * 1024 * 1024 + 3],
  ])('equals the CRC-32 of the concatenation (%i + %i bytes)', (lengthA, lengthB) => {
    const a = randomBytes(lengthA);
    const b = randomBytes(lengthB);
    expect(crc32Combine(crc32(a), crc32(b), lengthB)).toBe(crc32(Buffer.concat([a, b])));
  });

  it('chains over many parts', () => {
    const parts = Array.from({ length: 20 }, (_, i) => randomBytes(i * 997));
    let combined = 0;
    for (const part of parts) combined = crc32Combine(combined, crc32(part), part.length);
    expect(combined).toBe(crc32(Buffer.concat(parts)));
  });

  it('refuses a negative or fractional length', () => {
    expect(() => crc32Combine(1, 2, -1)).toThrow(RangeError);
    expect(() => crc32Combine(1, 2, 1.5)).toThrow(RangeError);
  });
});
