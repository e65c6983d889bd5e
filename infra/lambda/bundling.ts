/**
 * How every pluginops Lambda function is bundled, as plain data shared by the stack
 * (`NodejsFunction` bundling props) and `bench/bundles.ts` (esbuild API), so the benchmark measures
 * exactly what ships. Bundling is local esbuild only: no Docker, works offline.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Node 22 on Lambda; keep in step with `engines.node` in package.json. */
export const NODE_TARGET = 'node22';

/**
 * The AWS SDK v3 ships in the Lambda Node.js runtime, so it stays out of the bundles (smaller
 * artefacts, faster cold starts). Everything else, Powertools included, is bundled.
 */
export const EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*'];

/** ESM output: CommonJS dependencies inside the bundle still call `require`, so provide one. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as pluginopsCreateRequire } from 'node:module'; const require = pluginopsCreateRequire(import.meta.url);";

export interface SharedBundleOptions {
  target: string;
  minify: boolean;
  sourcemap: boolean;
  external: readonly string[];
  banner: string;
  mainFields: readonly string[];
}

export const BUNDLE_OPTIONS: SharedBundleOptions = {
  target: NODE_TARGET,
  minify: true,
  // Source maps with --enable-source-maps cost cold-start time; stack traces name bundle offsets.
  sourcemap: false,
  external: EXTERNAL_MODULES,
  banner: ESM_REQUIRE_BANNER,
  // Prefer ESM builds of dependencies so tree shaking works.
  mainFields: ['module', 'main'],
};
