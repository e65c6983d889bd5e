/**
 * Builds pluginops stacks for infra tests. Bundling takes seconds, so each test file builds the
 * stages it needs once (in `beforeAll`) and asserts on the resulting templates.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppProps, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { buildApp } from '../../infra/app.ts';
import { PROJECT_ROOT } from '../../infra/lambda/bundling.ts';
import type { PluginopsStack, PluginopsStackProps } from '../../infra/pluginops-stack.ts';
import type { StageName } from '../../infra/stages.ts';

/**
 * Props of every App a test synthesizes. aws-cdk-lib's built-in CloudFormation validation (a
 * WebAssembly rule engine: ~1.8 s to start, ~1 s per template) only warns unless its feature flag
 * is set, and no test reads its report; `npm run synth` (in .ci/run) still runs it on every stage.
 */
export const TEST_APP_PROPS = { builtinCloudFormationValidation: false } as const satisfies AppProps;

export interface SynthesizedStage {
  stack: PluginopsStack;
  template: Template;
}

export interface SynthOptions {
  /**
   * Bundle the Lambda code with esbuild (default). Files that assert only on the template (IAM,
   * environment, definitions) may skip it: CDK's `aws:cdk:bundling-stacks` context set to no
   * stack leaves placeholder assets, which saves one esbuild run per function.
   */
  bundle?: boolean;
}

/**
 * Synthesized stages by stage, props and bundling. The unit project runs its files in shared
 * workers (isolate: false), so files asking for the same stage with the same props (most ask for
 * `dev` as is) share one synthesis; templates and stacks are only read by the assertions.
 */
const synthesized = new Map<string, SynthesizedStage>();

export function synthStages(
  stages: readonly StageName[],
  stackProps: Omit<PluginopsStackProps, 'stage'> = {},
  options: SynthOptions = {},
): Record<StageName, SynthesizedStage> {
  const result = {} as Record<StageName, SynthesizedStage>;
  for (const stage of stages) {
    const key = JSON.stringify([stage, stackProps, options.bundle !== false]);
    let built = synthesized.get(key);
    if (built === undefined) {
      built = synthStage(stage, stackProps, options);
      synthesized.set(key, built);
    }
    result[stage] = built;
  }
  return result;
}

function synthStage(
  stage: StageName,
  stackProps: Omit<PluginopsStackProps, 'stage'>,
  options: SynthOptions,
): SynthesizedStage {
  // An empty ASL folder unless the test brings fixtures: tests must not depend on statemachines/.
  const empty = mkdtempSync(join(tmpdir(), 'pluginops-no-asl-'));
  // ASL files are read while the stacks are constructed, so the folder can go right after.
  const { stacks } = buildApp({
    stages: [stage],
    stackProps: { statemachinesDir: empty, ...stackProps },
    appProps: {
      ...TEST_APP_PROPS,
      ...(options.bundle === false ? { context: { [BUNDLING_STACKS]: [] } } : {}),
    },
  });
  rmSync(empty, { recursive: true, force: true });
  const [stack] = stacks;
  if (stack === undefined) throw new Error(`no stack was built for ${stage}`);
  return { stack, template: Template.fromStack(stack) };
}

/**
 * A scratch folder for generated fixtures. Task handlers must sit under the project root
 * (NodejsFunction refuses entries outside it), so this lives in node_modules/.cache.
 */
export function fixtureDir(): { path: string; remove(): void } {
  const base = join(PROJECT_ROOT, 'node_modules', '.cache', 'pluginops', 'test-fixtures');
  mkdirSync(base, { recursive: true });
  const path = mkdtempSync(join(base, 'infra-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every Allow statement of the inline policies attached to `role`. */
export function roleStatements(stack: Stack, template: Template, role: CfnRole): PolicyStatementJson[] {
  const roleId = stack.getLogicalId(role);
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles as { Ref?: string }[]).some((entry) => entry.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[])
    .filter((statement) => statement.Effect === 'Allow');
}

export function actionsOf(statements: PolicyStatementJson[]): string[] {
  return [...new Set(statements.flatMap((statement) => [statement.Action].flat()))].sort();
}

/** Resources of the statements that grant `action`, rendered as JSON text for matching. */
export function resourcesFor(statements: PolicyStatementJson[], action: string): string[] {
  return statements
    .filter((statement) => [statement.Action].flat().includes(action))
    .flatMap((statement) => [statement.Resource].flat().map((resource) => JSON.stringify(resource)));
}
