/**
 * The `pluginops` command line. `main` parses arguments, runs one command and returns the exit
 * code; it never exits the process itself, so it can run in-process and the binary
 * (`bin/pluginops.js`) only sets `process.exitCode`.
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { inspectCommand } from '#cli/commands/inspect.ts';
import { keygenCommand } from '#cli/commands/keygen.ts';
import { packCommand } from '#cli/commands/pack.ts';
import { signCommand } from '#cli/commands/sign.ts';
import { type CliIo, EXIT_CODES, processIo, reportError } from '#cli/output.ts';

const EXIT_CODE_HELP = `
Exit codes:
  ${EXIT_CODES.ok}  success
  ${EXIT_CODES.unexpected}  unexpected failure (a bug, or an environment fault such as a full disk)
  ${EXIT_CODES.badInput}  bad input: wrong arguments, unreadable file, invalid package or manifest

With --json, results and problems (RFC 9457) are printed to stdout as JSON.`;

export function createProgram(io: CliIo): Command {
  const program = new Command('pluginops')
    .description('Package, sign and inspect Dify plugin packages (.difypkg) for the pluginops control plane')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODE_HELP);
  for (const command of [inspectCommand(io), packCommand(io), signCommand(io), keygenCommand(io)]) {
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
