/** A startup failure with a one-line, user-facing reason (the CLI prints it and exits non-zero). */
export class LocalStackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalStackError';
  }
}
