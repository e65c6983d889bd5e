/**
 * The CDK app: one stack per stage (`pluginops-dev`, `pluginops-staging`, `pluginops-prod`), all
 * checked by cdk-nag's AWS Solutions rules. Synthesizes offline without credentials; account and
 * region come from context or `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION` when present.
 */
import { pathToFileURL } from 'node:url';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PluginopsStack, type PluginopsStackProps } from './pluginops-stack.ts';
import { resolveStageConfig, STAGE_NAMES, type StageName, stackName } from './stages.ts';

export interface BuildAppOptions {
  appProps?: AppProps;
  stages?: readonly StageName[];
  stackProps?: Omit<PluginopsStackProps, 'stage'>;
}

export function buildApp(options: BuildAppOptions = {}): { app: App; stacks: PluginopsStack[] } {
  const app = new App(options.appProps);
  const read = (key: string): unknown => app.node.tryGetContext(key);
  const stacks = (options.stages ?? STAGE_NAMES).map(
    (name) =>
      new PluginopsStack(app, stackName(name), {
        ...options.stackProps,
        stage: resolveStageConfig(name, read),
      }),
  );
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stacks };
}

/**
 * CDK core writes "Bundling asset <path>..." to stderr for every function, even under `cdk synth
 * -q`; with 22 functions that buried real warnings. The app drops exactly those lines unless
 * `PLUGINOPS_SYNTH_VERBOSE=1`; bundling errors and everything else still reach stderr.
 */
function quietBundlingBanners(): void {
  if (process.env.PLUGINOPS_SYNTH_VERBOSE === '1') return;
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && /^Bundling asset \S+\.\.\.\r?\n?$/.test(chunk)) return true;
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  quietBundlingBanners();
  buildApp().app.synth();
}
