/**
 * The PUT of a presigned upload: streams a file with an exact `Content-Length` (the URL signs it,
 * so fetch's chunked streaming would be refused), reports progress, and gives up when no byte moves
 * for `idleTimeoutMs`. The URL is presigned: no API key is sent with it.
 */
import { createReadStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXIT_CODES, RemoteProblemError } from './output.ts';

export interface PutFileOptions {
  url: string;
  headers: Record<string, string>;
  file: string;
  size: number;
  /** No progress for this long fails the upload. */
  idleTimeoutMs: number;
  onProgress?: (sent: number) => void;
}

export async function putFile(options: PutFileOptions): Promise<void> {
  const url = new URL(options.url);
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'PUT',
    headers: { ...options.headers, 'content-length': String(options.size) },
    timeout: options.idleTimeoutMs,
  });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('upload stalled'), { name: 'TimeoutError' })),
    );
    request.on('error', reject);
  });
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      options.onProgress?.(sent);
      callback(null, chunk);
    },
  });
  try {
    await Promise.all([pipeline(createReadStream(options.file), counter, request), answered]);
  } catch (error) {
    const stalled = (error as Error).name === 'TimeoutError';
    throw new RemoteProblemError(
      {
        type: `urn:pluginops:problem:${stalled ? 'request-timeout' : 'upload-failed'}`,
        title: stalled ? 'Upload stalled' : 'Upload failed',
        status: 0,
        detail: stalled
          ? `No upload progress for ${options.idleTimeoutMs} ms (${sent} of ${options.size} bytes sent).`
          : `The upload to ${url.host} failed after ${sent} of ${options.size} bytes: ${(error as Error).message}`,
      },
      stalled ? EXIT_CODES.timeout : EXIT_CODES.unexpected,
      { cause: error },
    );
  }
  const { status, body } = await answered;
  if (status < 200 || status >= 300) {
    // S3 answers XML (`<Code>SignatureDoesNotMatch</Code>`); its code is the useful part.
    const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
    throw new RemoteProblemError(
      {
        type: 'urn:pluginops:problem:upload-failed',
        title: 'Upload failed',
        status,
        detail: `The storage service refused the upload with ${status}${code === undefined ? '' : ` (${code})`}; the upload URL may have expired — publish again.`,
      },
      status === 403 ? EXIT_CODES.auth : EXIT_CODES.unexpected,
    );
  }
}
