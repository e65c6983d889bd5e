/**
 * One pluginops Lambda function: `NodejsFunction` bundled locally by esbuild (shared options in
 * `infra/lambda/bundling.ts`), Node 22 on ARM, ESM, its own log group and its own role. The role
 * starts empty except for writing to that log group (no `AWSLambdaBasicExecutionRole`); callers add
 * exactly the data access the function needs.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '#config/names.ts';
import { BUNDLE_OPTIONS, PROJECT_ROOT } from '../lambda/bundling.ts';
import type { LambdaEntry } from '../lambda/entries.ts';
import { SECRET_ARNS_VARIABLE } from '../runtime/load-secrets.ts';
import type { StageConfig } from '../stages.ts';
import { NAG_REASONS, suppress } from './nag.ts';

export interface PluginopsFunctionProps {
  stage: StageConfig;
  entry: LambdaEntry;
  description: string;
  environment: Record<string, string>;
  /** Secrets the function reads at runtime, by the environment variable the handler expects. */
  secrets?: Record<string, secretsmanager.ISecret>;
  timeout?: Duration;
  memorySize?: number;
  /** Asynchronous invocations that fail every retry land here. */
  deadLetterQueue?: sqs.IQueue;
  retryAttempts?: number;
}

export const LOG_RETENTION: Record<StageConfig['logRetentionDays'], logs.RetentionDays> = {
  7: logs.RetentionDays.ONE_WEEK,
  30: logs.RetentionDays.ONE_MONTH,
  90: logs.RetentionDays.THREE_MONTHS,
  365: logs.RetentionDays.ONE_YEAR,
};

export function removalPolicyOf(stage: StageConfig): RemovalPolicy {
  return stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

export class PluginopsFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly functionName: string;

  constructor(scope: Construct, id: string, props: PluginopsFunctionProps) {
    super(scope, id);
    const { stage, entry } = props;
    this.functionName = `${stage.resourcePrefix}-${entry.id}`;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${this.functionName}`,
      retention: LOG_RETENTION[stage.logRetentionDays],
      removalPolicy: removalPolicyOf(stage),
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${this.functionName}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const secrets = props.secrets ?? {};
    const secretArns = Object.fromEntries(
      Object.entries(secrets).map(([name, secret]) => [name, secret.secretArn]),
    );
    const hasSecrets = Object.keys(secretArns).length > 0;

    this.function = new NodejsFunction(this, 'Function', {
      functionName: this.functionName,
      description: props.description,
      entry: entry.entryFile,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}/package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(29),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      ...(props.retryAttempts !== undefined ? { retryAttempts: props.retryAttempts } : {}),
      ...(hasSecrets
        ? {
            paramsAndSecrets: lambda.ParamsAndSecretsLayerVersion.fromVersion(
              lambda.ParamsAndSecretsVersions.V1_0_103,
              {
                cacheSize: 10,
                logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
              },
            ),
          }
        : {}),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: 'pluginops',
        POWERTOOLS_LOG_LEVEL: stage.logLevel,
        [ENV.logLevel]: stage.logLevel,
        [ENV.stage]: stage.name,
        ...(hasSecrets ? { [SECRET_ARNS_VARIABLE]: Stack.of(this).toJsonString(secretArns) } : {}),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: BUNDLE_OPTIONS.target,
        minify: BUNDLE_OPTIONS.minify,
        sourceMap: BUNDLE_OPTIONS.sourcemap,
        externalModules: [...BUNDLE_OPTIONS.external],
        banner: BUNDLE_OPTIONS.banner,
        mainFields: [...BUNDLE_OPTIONS.mainFields],
        forceDockerBundling: false,
        // esbuild's per-bundle size table made `cdk synth -q` print 22 blocks; errors still show.
        logLevel: LogLevel.ERROR,
      },
    });
    for (const secret of Object.values(secrets)) secret.grantRead(this.role);

    suppress(this.function, [{ id: 'AwsSolutions-L1', reason: NAG_REASONS.nodeRuntime }]);
  }
}
