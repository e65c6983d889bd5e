/** Port helpers for the embedded engines: pick a free loopback port, or fail clearly when one is taken. */
import { createServer } from 'node:net';
import { LocalStackError } from './errors.ts';

/** Binds `port` on `host` and releases it: resolves when free, rejects with a one-line reason when not. */
export async function assertPortFree(port: number, host: string, what: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new LocalStackError(
          error.code === 'EADDRINUSE'
            ? `port ${port} (${what}) is already in use; stop the other process or set a different port`
            : `cannot bind ${host}:${port} for ${what}: ${error.message}`,
          { cause: error },
        ),
      );
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * Asks the OS for a free port. For servers we do not own (DynamoDB Local takes `-port`, not 0)
 * there is a short window in which another process could take it; startup then fails clearly.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Parses a port setting: an integer 0–65535 (0 = any free port). */
export function parsePort(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new LocalStackError(`${name} must be a port number between 0 and 65535, got "${value}"`);
  }
  return port;
}
