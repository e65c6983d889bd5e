/**
 * File access on paths the user typed. A missing or unreadable path is bad input (exit 2, a
 * `validation-failed` problem naming the option), not an unexpected failure.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ValidationError } from '#core/errors.ts';

const USER_PATH_ERRORS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'is not readable',
  EPERM: 'is not readable',
  EISDIR: 'is a directory, expected a file',
  ENOTDIR: 'is not a directory',
};

/** Turns a Node fs error on a user-supplied path into a ValidationError; rethrows anything else. */
export function userPathError(error: unknown, path: string, field: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : USER_PATH_ERRORS[code];
  if (reason === undefined) return error;
  return new ValidationError(`${path} ${reason}.`, [{ path: field, message: `${path} ${reason}` }], {
    cause: error,
  });
}

/** Reads a file the user named, as bytes. */
export async function readUserFile(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw userPathError(error, path, field);
  }
}

/**
 * Writes `content` to `path` through a temporary sibling and a rename, so a reader never sees a
 * half-written package. With `exclusive`, an existing file is bad input rather than overwritten.
 */
export async function writeFileAtomically(
  path: string,
  content: Uint8Array | string,
  options: { mode?: number; exclusive?: boolean; field: string },
): Promise<void> {
  const mode = options.mode ?? 0o644;
  if (options.exclusive) {
    try {
      await writeFile(path, content, { mode, flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ValidationError(`${path} already exists (use --force to overwrite).`, [
          { path: options.field, message: `${path} already exists` },
        ]);
      }
      throw userPathError(error, path, options.field);
    }
  }
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw userPathError(error, path, options.field);
  }
}
