import { describe, expect, it } from 'vitest';
import { ProgressBar, renderProgressBar } from '#cli/progress-bar.ts';

const ESC = String.fromCharCode(27);
const MiB = 1024 * 1024;

describe('renderProgressBar', () => {
  it('fills the bar, the percentage and the rate', () => {
    expect(renderProgressBar('uploading', 0, 4 * MiB, 0)).toBe(
      `uploading [${'░'.repeat(24)}]   0%  0 B / 4 MiB`,
    );
    expect(renderProgressBar('uploading', MiB, 4 * MiB, 1000)).toBe(
      `uploading [${'█'.repeat(6)}${'░'.repeat(18)}]  25%  1 MiB / 4 MiB  1 MiB/s`,
    );
  });
});

describe('ProgressBar on a fake terminal', () => {
  it('redraws in place at most every 80 ms and always draws the end', () => {
    let clock = 0;
    const frames: string[] = [];
    const bar = new ProgressBar(
      (text) => frames.push(text),
      'uploading',
      2 * MiB,
      () => clock,
    );
    clock = 10;
    bar.update(MiB / 2); // throttled
    clock = 100;
    bar.update(MiB);
    clock = 120;
    bar.update(2 * MiB); // throttled, but finish draws it
    bar.finish();
    bar.finish();
    expect(frames).toEqual([
      `\ruploading [${'░'.repeat(24)}]   0%  0 B / 2 MiB${ESC}[K`,
      `\ruploading [${'█'.repeat(12)}${'░'.repeat(12)}]  50%  1 MiB / 2 MiB  10 MiB/s${ESC}[K`,
      `\ruploading [${'█'.repeat(24)}] 100%  2 MiB / 2 MiB  16.7 MiB/s${ESC}[K`,
      '\n',
    ]);
  });
});
