/**
 * Domain errors. Every failure a caller can cause is a {@link ProblemError} with a stable slug;
 * `toProblem` turns any thrown value into an RFC 9457 problem document. Only problem errors are
 * exposed: anything else becomes a generic 500 without internals.
 */

/** Slug → HTTP status and short title. The `type` URN is `urn:pluginops:problem:<slug>`. */
export const PROBLEM_CATALOG = {
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'headers-too-large': { status: 431, title: 'Request headers too large' },
  'validation-failed': { status: 400, title: 'Validation failed' },
  'invalid-package': { status: 422, title: 'Invalid package' },
  'invalid-manifest': { status: 422, title: 'Invalid manifest' },
  'invalid-declaration': { status: 422, title: 'Invalid plugin declaration' },
  'package-too-large': { status: 413, title: 'Package too large' },
  'unsafe-archive': { status: 422, title: 'Unsafe archive' },
  'signature-invalid': { status: 422, title: 'Signature invalid' },
  'signature-required': { status: 422, title: 'Signature required' },
  'source-not-allowed': { status: 403, title: 'Source not allowed by policy' },
  'author-not-granted': { status: 403, title: 'Author not granted to this tenant' },
  'author-reserved': { status: 403, title: 'Author reserved' },
  'author-signature-required': { status: 422, title: 'Author requires a bound signer' },
  'upload-already-used': { status: 409, title: 'Upload already published' },
  'permission-denied-by-policy': { status: 422, title: 'Permission denied by policy' },
  'incompatible-platform-version': { status: 422, title: 'Incompatible platform version' },
  'dependency-unsatisfiable': { status: 422, title: 'Dependencies cannot be satisfied' },
  'dependency-cycle': { status: 422, title: 'Dependency cycle' },
  'downgrade-not-allowed': { status: 422, title: 'Downgrade not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency key reused' },
  'idempotency-in-progress': { status: 409, title: 'Request with this idempotency key is in progress' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'upstream-failed': { status: 502, title: 'Upstream source failed' },
  'probe-failed': { status: 502, title: 'Health probe failed' },
  'runtime-failed': { status: 502, title: 'Dify plugin daemon failed' },
  'dify-tenant-missing': { status: 422, title: 'Tenant has no Dify tenant id' },
  'runtime-drift': { status: 409, title: 'Runtime drifted from the record' },
  'rate-limited': { status: 429, title: 'Rate limited' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemSlug = keyof typeof PROBLEM_CATALOG;

export const PROBLEM_TYPE_PREFIX = 'urn:pluginops:problem:';

/** One field-level error: `path` is a dotted path into the input (`plugins.tools.0`). */
export interface FieldError {
  path: string;
  message: string;
}

/** RFC 9457 problem details as pluginops emits them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface ProblemErrorOptions {
  errors?: FieldError[];
  cause?: unknown;
  /** Extra members merged into the problem document (never secrets). */
  extensions?: Record<string, unknown>;
}

/** A failure that is the caller's to fix (or a known service condition) and safe to show. */
export class ProblemError extends Error {
  readonly slug: ProblemSlug;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly extensions: Record<string, unknown> | undefined;
  readonly expose = true;

  constructor(slug: ProblemSlug, detail: string, options: ProblemErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProblemError';
    this.slug = slug;
    this.status = PROBLEM_CATALOG[slug].status;
    this.errors = options.errors;
    this.extensions = options.extensions;
  }

  toProblem(instance?: string): Problem {
    const problem: Problem = {
      ...this.extensions,
      type: PROBLEM_TYPE_PREFIX + this.slug,
      title: PROBLEM_CATALOG[this.slug].title,
      status: this.status,
      detail: this.message,
    };
    if (instance !== undefined) problem.instance = instance;
    if (this.errors !== undefined && this.errors.length > 0) problem.errors = this.errors;
    return problem;
  }
}

/** The archive is not a readable zip, or lacks required files. */
export class InvalidPackageError extends ProblemError {
  constructor(detail: string, options?: ProblemErrorOptions) {
    super('invalid-package', detail, options);
    this.name = 'InvalidPackageError';
  }
}

/** The archive tries something dangerous: traversal, symlinks, bombs, duplicates, encryption. */
export class UnsafeArchiveError extends ProblemError {
  constructor(detail: string, options?: ProblemErrorOptions) {
    super('unsafe-archive', detail, options);
    this.name = 'UnsafeArchiveError';
  }
}

/** The manifest does not follow the schema; `errors` names each offending field. */
export class InvalidManifestError extends ProblemError {
  constructor(detail: string, options?: ProblemErrorOptions) {
    super('invalid-manifest', detail, options);
    this.name = 'InvalidManifestError';
  }
}

/** A size cap was exceeded (package bytes, or declared upload size). */
export class PackageTooLargeError extends ProblemError {
  constructor(detail: string, options?: ProblemErrorOptions) {
    super('package-too-large', detail, options);
    this.name = 'PackageTooLargeError';
  }
}

/** Input failed schema validation. */
export class ValidationError extends ProblemError {
  constructor(detail: string, errors: FieldError[] = [], options: Omit<ProblemErrorOptions, 'errors'> = {}) {
    super('validation-failed', detail, { ...options, errors });
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends ProblemError {
  constructor(detail = 'The resource does not exist.', options?: ProblemErrorOptions) {
    super('not-found', detail, options);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends ProblemError {
  constructor(detail: string, options?: ProblemErrorOptions) {
    super('conflict', detail, options);
    this.name = 'ConflictError';
  }
}

/**
 * Maps any thrown value to a problem document. Unknown errors become an opaque 500: their
 * message and stack never leave the process through this function.
 */
export function toProblem(error: unknown, instance?: string): Problem {
  if (error instanceof ProblemError) return error.toProblem(instance);
  const problem: Problem = {
    type: `${PROBLEM_TYPE_PREFIX}internal`,
    title: PROBLEM_CATALOG.internal.title,
    status: 500,
    detail: 'An unexpected error occurred. It has been logged.',
  };
  if (instance !== undefined) problem.instance = instance;
  return problem;
}

/** Turns zod-style issue paths into the dotted form used in `errors[].path`. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(root)' : path.map((p) => String(p)).join('.');
}
