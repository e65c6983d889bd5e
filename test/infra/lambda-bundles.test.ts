/**
 * What a Lambda function imports at cold start: every bundle, built with the stack's own esbuild
 * options, may import only the DynamoDB SDK up front; the other AWS SDK clients (S3 and its
 * presigner, Step Functions, EventBridge: ~15–85 ms of cold import each) are loaded on first use
 * (functions/adapters/lazy-module.ts). bench/bundles.ts measures the cold import itself.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_OPTIONS } from '../../infra/lambda/bundling.ts';
import { allLambdaEntries } from '../../infra/lambda/entries.ts';

const EAGER_SDK = new Set(['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/util-dynamodb']);

/** Every external `@aws-sdk/*` import of the bundle, by how it is imported. */
async function sdkImports(entryFile: string): Promise<{ eager: Set<string>; onDemand: Set<string> }> {
  const result = await build({
    entryPoints: [entryFile],
    bundle: true,
    write: false,
    outdir: 'out',
    platform: 'node',
    format: 'esm',
    target: BUNDLE_OPTIONS.target,
    external: [...BUNDLE_OPTIONS.external],
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    metafile: true,
    logLevel: 'silent',
  });
  const eager = new Set<string>();
  const onDemand = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.external !== true || !imported.path.startsWith('@aws-sdk/')) continue;
      if (imported.kind === 'dynamic-import') onDemand.add(imported.path);
      else eager.add(imported.path);
    }
  }
  return { eager, onDemand };
}

describe('Lambda bundles', () => {
  it.each(allLambdaEntries().map((entry) => [entry.id, entry.entryFile]))(
    '%s imports only the DynamoDB SDK at cold start',
    async (_id, entryFile) => {
      const { eager, onDemand } = await sdkImports(entryFile);
      expect([...eager].filter((path) => !EAGER_SDK.has(path))).toEqual([]);
      for (const path of onDemand) expect(EAGER_SDK.has(path)).toBe(false);
    },
  );

  it('loads S3, Step Functions and EventBridge on demand where a function uses them', async () => {
    const admin = allLambdaEntries().find((entry) => entry.id === 'api-admin');
    expect(admin).toBeDefined();
    const { onDemand } = await sdkImports(admin?.entryFile ?? '');
    expect([...onDemand].sort()).toEqual([
      '@aws-sdk/client-eventbridge',
      '@aws-sdk/client-s3',
      '@aws-sdk/client-sfn',
      '@aws-sdk/s3-request-presigner',
    ]);
  });
});
