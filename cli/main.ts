/**
 * The `pluginops` command line. `main` parses arguments, runs one command and returns the exit
 * code; it never exits the process itself, so it can run in-process and the binary
 * (`bin/pluginops.js`) only sets `process.exitCode`.
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { approveCommand, rejectCommand } from '#cli/commands/approve.ts';
import { authorsCommand } from '#cli/commands/authors.ts';
import { autoUpgradeCommand } from '#cli/commands/auto-upgrade.ts';
import { deployCommand } from '#cli/commands/deploy.ts';
import { historyCommand } from '#cli/commands/history.ts';
import { holdCommand } from '#cli/commands/hold.ts';
import { inspectCommand } from '#cli/commands/inspect.ts';
import { keygenCommand } from '#cli/commands/keygen.ts';
import { packCommand } from '#cli/commands/pack.ts';
import { planCommand } from '#cli/commands/plan.ts';
import { promoteCommand } from '#cli/commands/promote.ts';
import { publishCommand } from '#cli/commands/publish.ts';
import { signCommand } from '#cli/commands/sign.ts';
import { statusCommand } from '#cli/commands/status.ts';
import { type CliIo, EXIT_CODES, processIo, reportError } from '#cli/output.ts';

const EXIT_CODE_HELP = `
Connection (API commands): --endpoint/--key, or PLUGINOPS_ENDPOINT/PLUGINOPS_KEY, or --profile <name>
from PLUGINOPS_PROFILES_FILE (default ~/.config/pluginops/profiles.json). See docs/cli.md.

Exit codes:
  ${EXIT_CODES.ok}  success
  ${EXIT_CODES.unexpected}  unexpected failure (a bug, a server error, an unreachable endpoint)
  ${EXIT_CODES.badInput}  bad input: wrong arguments, unreadable file, invalid package or manifest, rejected by validation or policy
  ${EXIT_CODES.auth}  authentication or authorization failed (401/403)
  ${EXIT_CODES.conflict}  conflict: another deployment holds the plugin, state changed, already decided (409)
  ${EXIT_CODES.deploymentFailed}  deployment failed, rolled back or rejected; status --expect or plan --checklist failed
  ${EXIT_CODES.notFound}  not found: tenant, package, deployment, plugin (404)
  ${EXIT_CODES.timeout}  timed out: --wait deadline or a request deadline passed (the operation may still finish)

With --json, results and problems (RFC 9457) are printed to stdout as JSON; no colours or live
views are drawn when stdout is not a terminal or CI=true.`;

export function createProgram(io: CliIo): Command {
  const program = new Command('pluginops')
    .description('Package, sign, publish, deploy and promote Dify plugins with the pluginops control plane')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODE_HELP);
  for (const command of [
    inspectCommand(io),
    packCommand(io),
    signCommand(io),
    keygenCommand(io),
    publishCommand(io),
    deployCommand(io),
    statusCommand(io),
    historyCommand(io),
    planCommand(io),
    approveCommand(io),
    rejectCommand(io),
    autoUpgradeCommand(io),
    holdCommand(io),
    promoteCommand(io),
    authorsCommand(io),
  ]) {
    program.addCommand(command);
  }
  configure(program, io);
  return program;
}

/** Every (sub)command writes through `io` and throws instead of exiting. */
function configure(command: Command, io: CliIo): void {
  command.exitOverride().configureOutput({
    writeOut: (text) => io.stdout(text),
    writeErr: (text) => io.stderr(text),
  });
  for (const sub of command.commands) configure(sub, io);
}

/**
 * Runs `pluginops` with `argv` (without the node and script paths) and resolves to the exit code.
 *
 * @example process.exitCode = await main(['inspect', 'demo.difypkg', '--json']);
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv], { from: 'user' });
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; usage errors were already printed.
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.badInput;
    }
    return reportError(io, error, { json: argv.includes('--json') });
  }
}

// `npm run cli -- …` runs this file directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
