/**
 * How the CLI talks to its caller: where text goes, exit codes, and how failures are shown.
 * Commands never call `process.exit` or `console`; they write through {@link CliIo}, so `main` can
 * run in-process (tests, other tools) and the binary stays a thin wrapper.
 */
import { toProblem as anyToProblem, ProblemError } from '#core/errors.ts';

/** Exit codes, also listed in `pluginops --help`. */
export const EXIT_CODES = {
  ok: 0,
  /** A bug or an environment fault (disk full, permission denied on our own temp files). */
  unexpected: 1,
  /** The caller's input is wrong: bad arguments, unreadable file, invalid package or manifest. */
  badInput: 2,
} as const;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** Aligned `key: value` lines; entries whose value is undefined are left out. */
export function printFields(
  io: CliIo,
  fields: ReadonlyArray<readonly [string, string | number | undefined]>,
): void {
  const shown = fields.filter((entry): entry is readonly [string, string | number] => entry[1] !== undefined);
  const width = Math.max(0, ...shown.map(([key]) => key.length));
  for (const [key, value] of shown) io.stdout(`${`${key}:`.padEnd(width + 2)}${value}\n`);
}

/**
 * Shows a failure and returns the exit code. Problem errors are the caller's to fix (exit 2): with
 * `json` the RFC 9457 document goes to stdout, otherwise `error[slug]: detail` and one line per
 * field error go to stderr. Anything else is unexpected (exit 1); its message is shown (this is a
 * local tool) but with `json` stdout only gets the opaque internal problem.
 */
export function reportError(io: CliIo, error: unknown, options: { json: boolean }): number {
  if (error instanceof ProblemError && error.slug !== 'internal') {
    if (options.json) {
      printJson(io, error.toProblem());
    } else {
      io.stderr(`error[${error.slug}]: ${error.message}\n`);
      for (const field of error.errors ?? []) io.stderr(`  - ${field.path}: ${field.message}\n`);
    }
    return EXIT_CODES.badInput;
  }
  if (options.json) printJson(io, anyToProblem(error));
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`error[internal]: unexpected failure: ${message}\n`);
  if (process.env.PLUGINOPS_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
  return EXIT_CODES.unexpected;
}
