#!/usr/bin/env node
// Runs the CLI. `npm start` and `npm test` prebuild it into one bundle (local/cli-build.ts), which
// starts in about a quarter of the time; while that bundle is missing or any of its sources changed,
// tsx compiles `cli/*.ts` on the fly, and package.json subpath imports (#core/*, #adapters/*)
// resolve as in the rest of the code base.
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { currentBundle } from './cli-bundle.js';

// V8 keeps the compiled bundle in Node's on-disk compile cache (Node ≥ 22.1; the OS temp dir, or
// NODE_COMPILE_CACHE): later runs skip compiling 1.5 MB of JavaScript, ~35 ms of a ~220 ms start.
module.enableCompileCache?.();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = currentBundle(root, join(root, 'dist', 'cli'));
let main;
if (bundle !== undefined) {
  ({ main } = await import(pathToFileURL(bundle).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
