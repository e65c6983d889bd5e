/**
 * The local S3 (s3rver) on a directory under the data dir: the package bucket exists from the
 * start, browsers may PUT to presigned URLs (CORS), and ObjectCreated notifications are forwarded.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { S3rverEvent } from './drop-events.ts';
import { LocalStackError } from './errors.ts';
import { assertPortFree } from './ports.ts';
import { closeLocalS3 } from './s3-auth.ts';

/** s3rver's default (and only accepted) credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Presigned PUTs from the console, and reads of packages, from any local origin. */
const CORS_CONFIGURATION = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

/** The part of s3rver's API used here (the package ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  httpServer: Parameters<typeof closeLocalS3>[0];
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3rverEvent) => void): this;
}

type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string; configs: string[] }>;
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

export interface S3ServerOptions {
  directory: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  bucket: string;
  onEvent: (event: S3rverEvent) => void;
  /** Where issued tenant drop credentials are kept (see s3-auth.ts). */
  dataDir: string;
}

export interface S3Server {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  await mkdir(options.directory, { recursive: true });
  // s3rver emits listen errors on its server instead of rejecting run(): check the port first.
  await assertPortFree(options.port, options.host, 'S3 server');
  const server = new S3rver({
    address: options.host,
    port: options.port,
    directory: options.directory,
    silent: true,
    // Creates the bucket when missing; an existing bucket and its objects are kept.
    configureBuckets: [{ name: options.bucket, configs: [CORS_CONFIGURATION] }],
  });
  server.on('event', (event) => {
    try {
      options.onEvent(event);
    } catch (error) {
      console.error('[pluginops] S3 event listener failed:', error);
    }
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LocalStackError(
      code === 'EADDRINUSE'
        ? `port ${options.port} (S3 server) is already in use; stop the other process or set PLUGINOPS_S3_PORT`
        : `cannot start the S3 server: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // Closed by default: unsigned requests never reach s3rver (docs/security.md).
  closeLocalS3(server.httpServer, { bucket: options.bucket, dataDir: options.dataDir });
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    async stop() {
      await server.close();
    },
  };
}
