import { describe, expect, it } from 'vitest';
import { lazyModule } from '#adapters/lazy-module.ts';

describe('lazyModule', () => {
  it('loads nothing until first called, then once for every caller', async () => {
    let loads = 0;
    const load = lazyModule(async () => {
      loads += 1;
      return { value: loads };
    });
    expect(loads).toBe(0);
    const [first, second] = await Promise.all([load(), load()]);
    expect(loads).toBe(1);
    expect(second).toBe(first);
    expect(await load()).toBe(first);
    expect(loads).toBe(1);
  });

  it('does not keep a failed load: the next call tries again', async () => {
    let attempts = 0;
    const load = lazyModule(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('not yet');
      return 'loaded';
    });
    await expect(load()).rejects.toThrow('not yet');
    await expect(load()).resolves.toBe('loaded');
    await expect(load()).resolves.toBe('loaded');
    expect(attempts).toBe(2);
  });
});
