/**
 * Runs the `pluginops` CLI in this process — `main(argv, io)`, the code `bin/pluginops.js` runs,
 * without a Node start — with the given environment, and returns what it printed.
 */
import { main } from '#cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliInProcess(args: string[], env: Record<string, string>): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdoutIsTTY: false,
    env,
  });
  return { code, stdout, stderr };
}
