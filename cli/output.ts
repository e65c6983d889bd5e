/**
 * How the CLI talks to its caller: where text goes, exit codes, and how failures are shown.
 * Commands never call `process.exit` or `console`; they write through {@link CliIo}, so `main` can
 * run in-process (tests, other tools) and the binary stays a thin wrapper.
 */
import { toProblem as anyToProblem, type Problem, ProblemError } from '#core/errors.ts';

/** Exit codes, also listed in `pluginops --help` and docs/cli.md. Pipelines branch on them. */
export const EXIT_CODES = {
  ok: 0,
  /** A bug, an environment fault, a server error (5xx) or an unreachable endpoint. */
  unexpected: 1,
  /** The caller's input is wrong: bad arguments, unreadable file, invalid package or manifest, 4xx validation. */
  badInput: 2,
  /** The key is missing, unknown or revoked (401), or lacks the scope (403). */
  auth: 3,
  /** Another deployment holds the plugin, the state changed (`expected_current`), or a decision was already made (409). */
  conflict: 4,
  /** A deployment (or a `plan --checklist` automatic check) ended failed, rolled_back or rejected. */
  deploymentFailed: 5,
  /** The tenant, package, deployment or plugin does not exist (or is not visible to this key) (404). */
  notFound: 6,
  /** `--wait` or a request ran past its deadline; the operation may still finish on the server. */
  timeout: 7,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is an interactive terminal (live views, progress bars, colours). */
  readonly stdoutIsTTY?: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
  /** Environment the command reads (`PLUGINOPS_*`, `CI`, `NO_COLOR`, `HOME`); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  get stdoutIsTTY() {
    return process.stdout.isTTY === true;
  },
  get columns() {
    return process.stdout.columns;
  },
  get env() {
    return process.env;
  },
};

export function envOf(io: CliIo): Readonly<Record<string, string | undefined>> {
  return io.env ?? process.env;
}

/**
 * Whether to draw for a human: stdout is a terminal and this is not CI. Pipelines get plain,
 * append-only lines (no cursor movement, no colours) even when their runner allocates a TTY.
 */
export function isInteractive(io: CliIo): boolean {
  const env = envOf(io);
  return io.stdoutIsTTY === true && env.CI !== 'true' && env.CI !== '1' && env.TERM !== 'dumb';
}

/** Colours only on an interactive terminal, and never with `NO_COLOR` (https://no-color.org). */
export function useColour(io: CliIo): boolean {
  const noColour = envOf(io).NO_COLOR;
  return isInteractive(io) && (noColour === undefined || noColour === '');
}

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
 * A plain text table: a header row, then one row per item, columns padded to their widest cell.
 * `empty` is printed instead when there are no rows.
 */
export function printTable(
  io: CliIo,
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | undefined | null>>,
  empty = '(none)',
): void {
  if (rows.length === 0) {
    io.stdout(`${empty}\n`);
    return;
  }
  io.stdout(formatTable(headers, rows));
}

export function formatTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | undefined | null>>,
): string {
  const cells = rows.map((row) => headers.map((_, index) => String(row[index] ?? '-')));
  const widths = headers.map((header, index) =>
    Math.max(header.length, ...cells.map((row) => row[index]?.length ?? 0)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers.map((header) => header.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

/**
 * A failure the server reported as RFC 9457 problem+json (or that the client turned into one:
 * a request deadline, an unreachable endpoint). Carries the whole problem and the exit code.
 */
export class RemoteProblemError extends Error {
  readonly problem: Problem;
  readonly exitCode: ExitCode;

  constructor(problem: Problem, exitCode: ExitCode, options: { cause?: unknown } = {}) {
    super(problem.detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RemoteProblemError';
    this.problem = problem;
    this.exitCode = exitCode;
  }

  get slug(): string {
    return slugOf(this.problem);
  }
}

/**
 * A failure whose exit code is not 2 or 1, raised by the CLI itself (a deployment that ended
 * rolled_back, a failed checklist, a `--wait` deadline). The result was already printed; this
 * only carries the code and a one-line reason for stderr.
 */
export class CliExitError extends Error {
  readonly exitCode: ExitCode;
  /** False when the command already printed everything (with `--json`, stdout holds the result). */
  readonly print: boolean;

  constructor(message: string, exitCode: ExitCode, options: { print?: boolean } = {}) {
    super(message);
    this.name = 'CliExitError';
    this.exitCode = exitCode;
    this.print = options.print ?? true;
  }
}

export function slugOf(problem: Pick<Problem, 'type'>): string {
  return problem.type.replace(/^urn:pluginops:problem:/, '');
}

/**
 * Exit code for an HTTP problem. By status, with one exception: `source-not-allowed` is a 403 but a
 * verdict of tenant policy on the package, not an auth failure, so it is bad input (2).
 */
export function exitCodeForProblem(status: number, slug: string): ExitCode {
  if (slug === 'source-not-allowed') return EXIT_CODES.badInput;
  if (status === 401 || status === 403) return EXIT_CODES.auth;
  if (status === 404) return EXIT_CODES.notFound;
  if (status === 409) return EXIT_CODES.conflict;
  if (status === 408 || status === 504) return EXIT_CODES.timeout;
  if (status >= 400 && status < 500 && status !== 429) return EXIT_CODES.badInput;
  return EXIT_CODES.unexpected;
}

/** `error[slug] Title: detail` and one indented line per field error. */
export function formatProblem(problem: Problem): string {
  const lines = [`error[${slugOf(problem)}] ${problem.title}: ${problem.detail}`];
  for (const field of problem.errors ?? []) lines.push(`  - ${field.path}: ${field.message}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Shows a failure and returns the exit code. Remote problems print `error[slug] Title: detail`
 * (stderr) or the problem document (stdout with `json`) and map to their exit code. Local problem
 * errors are the caller's to fix (exit 2): `error[slug]: detail` and one line per field error.
 * Anything else is unexpected (exit 1); its message is shown (this is a local tool) but with
 * `json` stdout only gets the opaque internal problem.
 */
export function reportError(io: CliIo, error: unknown, options: { json: boolean }): number {
  if (error instanceof CliExitError) {
    if (error.print) io.stderr(`${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof RemoteProblemError) {
    if (options.json) printJson(io, error.problem);
    io.stderr(formatProblem(error.problem));
    return error.exitCode;
  }
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
  if (envOf(io).PLUGINOPS_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
  return EXIT_CODES.unexpected;
}
