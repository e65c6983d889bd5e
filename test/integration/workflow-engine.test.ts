/**
 * The local workflow engine with real files: the ASL in statemachines/ against the task modules
 * in functions/tasks/, and task handlers imported from generated `.ts` files the way the local
 * runtime imports them (no `resolveTaskHandler`).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importTaskHandler } from '#local/workflow-tasks.ts';
import { createLocalWorkflowEngine, DEFAULT_STATEMACHINES_DIR, DEFAULT_TASKS_DIR } from '#local/workflows.ts';

const dirs: string[] = [];

/** `${Name}` as it appears in ASL. */
const placeholder = (name: string) => `\${${name}}`;

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

describe('the real state machines', () => {
  it('load, validate and bind every Task state to an existing task handler', async () => {
    const engine = createLocalWorkflowEngine({ stage: 'local' });
    const files = readdirSync(DEFAULT_STATEMACHINES_DIR).filter((file) => file.endsWith('.asl.json'));
    expect([...engine.machines.keys()].sort()).toEqual(
      files.map((file) => file.replace('.asl.json', '')).sort(),
    );
    const tasks = new Set<string>();
    for (const machine of engine.machines.values()) {
      for (const binding of machine.tasks.values()) {
        if (binding.kind === 'function') tasks.add(binding.task);
      }
    }
    for (const task of tasks) {
      await expect(importTaskHandler(DEFAULT_TASKS_DIR, task), task).resolves.toBeTypeOf('function');
    }
    await engine.stop();
  });
});

describe('task handlers from files', () => {
  it('imports each task module on first use and maps a missing handler to Runtime.HandlerNotFound', async () => {
    const statemachines = tempDir('pluginops-asl-');
    const tasks = tempDir('pluginops-tasks-');
    writeFileSync(
      join(tasks, 'plan.ts'),
      [
        'class TransientError extends Error { override name = "TransientError"; }',
        'let calls = 0;',
        'export async function handler(input: { plugin: string }) {',
        '  calls += 1;',
        '  if (calls === 1) throw new TransientError("first call fails");',
        '  return { plan: [input.plugin], calls };',
        '}',
      ].join('\n'),
    );
    writeFileSync(join(tasks, 'broken.ts'), 'export const notTheHandler = 1;\n');
    writeFileSync(
      join(statemachines, 'deploy.asl.json'),
      JSON.stringify({
        StartAt: 'Plan',
        States: {
          Plan: {
            Type: 'Task',
            Comment: 'generated task file',
            Resource: placeholder('PlanFunctionArn'),
            Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 2 }],
            ResultPath: '$.plan',
            Next: 'Broken',
          },
          Broken: {
            Type: 'Task',
            Comment: 'exports no handler',
            Resource: placeholder('BrokenFunctionArn'),
            Catch: [{ ErrorEquals: ['Runtime.HandlerNotFound'], ResultPath: '$.error', Next: 'Done' }],
            End: true,
          },
          Done: { Type: 'Succeed', Comment: 'caught' },
        },
      }),
    );
    const engine = createLocalWorkflowEngine({
      statemachinesDir: statemachines,
      tasksDir: tasks,
      stage: 'local',
      timeScale: 0.001,
    });
    await engine.startExecution('deploy', 'files-1', { plugin: 'a/b' });
    const done = await engine.waitForExecution('files-1', 10_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.output).toMatchObject({
      plugin: 'a/b',
      plan: { plan: ['a/b'], calls: 2 },
      error: { Error: 'Runtime.HandlerNotFound' },
    });
    await engine.stop();
  });
});
