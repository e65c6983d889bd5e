/**
 * The README's walkthroughs, as written: every ```sh walkthrough block of README.md, in order, in
 * one bash (-e, pipefail) against a local stack of its own — its own gateway, S3, plugin host and
 * stage, as a newcomer's `npm start` is: no other test sweeps its tenants or clears its host
 * faults — from a fresh directory holding what a clone has (examples/, the `pluginops` bin).
 * publish → deploy → fail → rollback → sweep → plan --checklist. The blocks are read from
 * README.md here, so the README cannot drift from what works.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { api, sharedEngineOptions } from '#test/support/local-stack.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RUN_DEADLINE_MS = 240_000;

/** The bodies of the README's ```sh walkthrough blocks, in order. */
function walkthroughBlocks(readme: string): string[] {
  return [...readme.matchAll(/^```sh walkthrough\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

let work: string;
let stack: LocalStack;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pluginops-readme-'));
  // Where `npm start` keeps its events (the README tails it).
  process.env.PLUGINOPS_EVENTS_FILE = join(work, '.pluginops', 'events.jsonl');
  // The run's second DynamoDB Local, on a stage of this suite's own (no README command looks at
  // the engine itself, and a sweep only sees this stage's tenants): one JVM start fewer.
  stack = await startLocalStack({
    dataDir: join(work, '.pluginops'),
    port: 0,
    ...sharedEngineOptions(),
    s3Port: 0,
    quiet: true,
  });
  await cp(join(repoRoot, 'examples'), join(work, 'examples'), { recursive: true });
  await mkdir(join(work, 'node_modules/.bin'), { recursive: true });
  await symlink(join(repoRoot, 'bin/pluginops.js'), join(work, 'node_modules/.bin/pluginops'));
});

afterAll(async () => {
  await stack?.stop();
  delete process.env.PLUGINOPS_EVENTS_FILE;
  await rm(work, { recursive: true, force: true });
});

describe('README walkthroughs', () => {
  it('run top to bottom as printed', async () => {
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const blocks = walkthroughBlocks(readme);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    const script = blocks.join('\n');
    const commands = script.replace(/(^|\s)#\s.*$/gm, '');
    for (const placeholder of ['<checksum>', '<deployment_id>', '8787/', '8789', '8790']) {
      expect(commands, `a walkthrough still needs ${placeholder} replaced by hand`).not.toContain(
        placeholder,
      );
    }
    const env = {
      PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: work,
      PLUGINOPS_PORT: new URL(stack.baseUrl).port,
      PLUGINOPS_KEY: stack.bootstrapKey,
      PLUGINOPS_DATA_DIR: stack.dataDir,
      npm_config_update_notifier: 'false',
    };
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        'bash',
        ['-euo', 'pipefail', '-c', script],
        { cwd: work, env, timeout: RUN_DEADLINE_MS, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024 },
        (error, stdout, stderr) =>
          done({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
            stdout,
            stderr,
          }),
      );
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output.slice(-6_000)).toBe(0);

    // The failed upgrade rolled back (the CLI's exit 5), and the revisions tell the story.
    expect(output).toContain('exit 5');
    expect(output).toMatch(/probe-failed/);
    expect(output).toMatch(/"due":\s*1/);
    expect(output).toMatch(/checklist for acme\/hello:0\.0\.3@[0-9a-f]{64}/);
    expect(output).toMatch(/signature_verified\s+验证数字签名有效 — not required/);

    const installed = await api<{ items: Array<{ plugin_id: string; version: string }> }>(
      'GET',
      '/v1/tenants/acme/installations',
      { key: stack.bootstrapKey, baseUrl: stack.baseUrl },
    );
    expect(installed.json.items.find((item) => item.plugin_id === 'acme/hello')?.version).toBe('0.0.3');
    const revisions = await api<{ items: Array<{ operation: string; status: string }> }>(
      'GET',
      '/v1/tenants/acme/installations/acme/hello/revisions',
      { key: stack.bootstrapKey, baseUrl: stack.baseUrl },
    );
    expect(revisions.json.items.map((item) => item.operation).reverse()).toEqual([
      'install',
      'upgrade',
      'upgrade',
      'rollback',
      'auto-upgrade',
    ]);
  }, 300_000);
});
