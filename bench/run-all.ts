/**
 * `npm run bench`: runs every benchmark in its own process (so one bench's heap and JIT state
 * cannot colour another's figures) and writes bench/REPORT.md with each bench's printed report,
 * the machine it ran on, and the time. Each bench prints its ratios against a baseline measured
 * in the same run and marks its targets met or not met.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BENCHES = ['verify', 'api', 'deploy', 'resolve', 'sweep', 'bundles'];
const only = process.argv.slice(2);

const sections: string[] = [];
for (const name of BENCHES) {
  if (only.length > 0 && !only.includes(name)) continue;
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) {
    sections.push(`## ${name}\n\nnot built yet (no bench/${name}.ts).\n`);
    continue;
  }
  console.log(`bench: running ${name} …`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    encoding: 'utf8',
    timeout: 10 * 60_000,
    env: { ...process.env, PLUGINOPS_LOG_LEVEL: 'ERROR' },
  });
  const output = `${result.stdout ?? ''}${result.status === 0 ? '' : `\n${result.stderr ?? ''}`}`.trim();
  process.stdout.write(`${output}\n`);
  const status = result.status === 0 ? 'completed' : `FAILED (exit ${result.status ?? result.signal})`;
  sections.push(
    `## ${name}\n\n${status} in ${((Date.now() - started) / 1000).toFixed(1)} s\n\n\`\`\`\n${output}\n\`\`\`\n`,
  );
}

const cpu = cpus()[0]?.model ?? 'unknown cpu';
const report = [
  '# pluginops benchmark report',
  '',
  `Run ${new Date().toISOString()} on ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.`,
  'Every figure is printed by its bench as a ratio to a baseline measured in the same process run, plus absolute numbers; targets are marked met or not met by the bench itself.',
  '',
  ...sections,
].join('\n');
writeFileSync(join(here, 'REPORT.md'), report);
console.log('bench: wrote bench/REPORT.md');
