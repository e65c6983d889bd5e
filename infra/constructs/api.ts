/**
 * The HTTP API, generated from `ROUTES` (the table the local gateway serves too): one route per
 * entry, one Lambda function per route group. Read-only groups get read-only IAM; see
 * `GROUP_ACCESS` for exactly what each group may touch. Access is per group, not per route: a
 * route added to a group gets exactly that group's permissions.
 */
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StateMachineName } from '#adapters/workflow.ts';
import { ROUTES, type RouteGroup } from '#api/routes.ts';
import { apiGroupEntry, ROUTE_GROUPS } from '../lambda/entries.ts';
import type { StageConfig } from '../stages.ts';
import { type Access, grantExistenceChecks, grantObjects, grantTable } from './access.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { LOG_RETENTION, PluginopsFunction, removalPolicyOf } from './pluginops-function.ts';
import { type SecretName, secretsFor } from './secrets.ts';
import { BUCKET_PREFIXES } from './storage.ts';
import { grantStartExecution } from './workflows.ts';

/** SendTaskSuccess/SendTaskFailure: IAM has no resource-level permissions for them. */
export const TASK_CALLBACK_ACTIONS = ['states:SendTaskSuccess', 'states:SendTaskFailure'] as const;

export interface GroupAccess {
  /** Main table; `none` for groups that never read state. */
  table: Access | 'none';
  /** Powertools idempotency records (mutating routes honour `Idempotency-Key`). */
  idempotency: boolean;
  objects: { prefix: string; access: 'read' | 'write' | 'read-write' }[];
  /** Asks whether objects exist (publishing stores a package once): `s3:ListBucket`. */
  checksObjects: boolean;
  /** May put events on the stage bus (`Package Published`). */
  putEvents: boolean;
  secrets: SecretName[];
  /** State machines the group starts and describes (granted only for machines the stage has). */
  startsMachines: readonly StateMachineName[];
  /** Answers `.waitForTaskToken` callbacks (approve/reject). */
  taskCallbacks: boolean;
}

const NO_WORKFLOWS = { startsMachines: [], taskCallbacks: false } as const;

/** What each route group's function may do — derived from what its handlers call. */
export const GROUP_ACCESS: Readonly<Record<RouteGroup, GroupAccess>> = {
  // health and the OpenAPI document touch no state at all.
  public: {
    table: 'none',
    idempotency: false,
    objects: [],
    checksObjects: false,
    putEvents: false,
    secrets: [],
    ...NO_WORKFLOWS,
  },
  // Authentication reads keys and tenants; listing signs cursors; downloads presign GETs of packages/.
  'catalog-read': {
    table: 'read',
    idempotency: false,
    objects: [{ prefix: BUCKET_PREFIXES.packages, access: 'read' }],
    checksObjects: false,
    putEvents: false,
    secrets: ['cursor'],
    ...NO_WORKFLOWS,
  },
  // Tenants, keys, policies, signers, auto-upgrade settings, rollouts: table writes only, no bucket.
  admin: {
    table: 'read-write',
    idempotency: true,
    objects: [],
    checksObjects: false,
    putEvents: false,
    // runtime:sync reads the tenant's Dify plugin daemon.
    secrets: ['cursor', 'difyDaemon'],
    ...NO_WORKFLOWS,
  },
  // Presigned PUTs to uploads/, publishing reads uploads/ and stores packages/ once.
  'catalog-write': {
    table: 'read-write',
    idempotency: true,
    objects: [
      { prefix: BUCKET_PREFIXES.uploads, access: 'read-write' },
      { prefix: BUCKET_PREFIXES.packages, access: 'read-write' },
    ],
    checksObjects: true,
    // Package Published goes through the outbox (a table item), not to the bus directly.
    putEvents: false,
    secrets: ['github', 'marketplace'],
    ...NO_WORKFLOWS,
  },
  // Deployments (create, approve, reject), holds, operator sweeps: the workflow entry points.
  // Creating a deployment seals its plugin config (config key) and starts the deploy machine;
  // approve/reject answer the AwaitApproval task token; POST /v1/sweeps starts the sweep and
  // waits on it. No bucket access and no events (the workflow tasks emit those).
  deploy: {
    table: 'read-write',
    idempotency: true,
    objects: [],
    checksObjects: false,
    putEvents: false,
    secrets: ['config'],
    startsMachines: ['deploy', 'sweep'],
    taskCallbacks: true,
  },
};

export interface ApiProps {
  stage: StageConfig;
  environment: Record<string, string>;
  key: kms.IKey;
  mainTable: dynamodb.ITable;
  idempotencyTable: dynamodb.ITable;
  bucket: s3.IBucket;
  bus: events.IEventBus;
  secrets: Readonly<Record<SecretName, secretsmanager.ISecret>>;
  /** State machines the stage has (`Workflows.machineNames`); groups may start only these. */
  stateMachines: ReadonlySet<string>;
}

export class Api extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly functions: Record<RouteGroup, PluginopsFunction>;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { stage } = props;

    this.functions = Object.fromEntries(
      ROUTE_GROUPS.map((group) => [group, this.createGroupFunction(group, props)]),
    ) as Record<RouteGroup, PluginopsFunction>;

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${stage.resourcePrefix}-api`,
      description: `pluginops control plane (${stage.name})`,
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: `/aws/apigateway/${stage.resourcePrefix}-api`,
      retention: LOG_RETENTION[stage.logRetentionDays],
      removalPolicy: removalPolicyOf(stage),
    });
    const defaultStage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: stage.apiThrottle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    this.url = defaultStage.url;

    const integrations = Object.fromEntries(
      ROUTE_GROUPS.map((group) => [
        group,
        new HttpLambdaIntegration(`${group}-integration`, this.functions[group].function, {
          payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        }),
      ]),
    ) as Record<RouteGroup, HttpLambdaIntegration>;

    for (const route of ROUTES) {
      const httpRoute = new apigwv2.HttpRoute(this, `Route ${route.method} ${route.path}`, {
        httpApi: this.httpApi,
        routeKey: apigwv2.HttpRouteKey.with(route.path, apigwv2.HttpMethod[route.method]),
        integration: integrations[route.group],
      });
      suppress(httpRoute, [{ id: 'AwsSolutions-APIG4', reason: NAG_REASONS.apiAuthorization }]);
    }
  }

  private createGroupFunction(group: RouteGroup, props: ApiProps): PluginopsFunction {
    const access = GROUP_ACCESS[group];
    const fn = new PluginopsFunction(this, `Function-${group}`, {
      stage: props.stage,
      entry: apiGroupEntry(group),
      description: `pluginops API routes of group "${group}"`,
      environment: props.environment,
      secrets: secretsFor(access.secrets, props.secrets),
      memorySize: group === 'catalog-write' ? 1024 : 512,
    });
    if (access.table !== 'none') grantTable(fn.role, props.mainTable, props.key, access.table);
    if (access.idempotency) grantTable(fn.role, props.idempotencyTable, props.key, 'read-write');
    for (const { prefix, access: objectAccess } of access.objects) {
      grantObjects(fn.role, props.bucket, props.key, prefix, objectAccess);
    }
    if (access.checksObjects) grantExistenceChecks(fn.role, props.bucket);
    if (access.putEvents) props.bus.grantPutEventsTo(fn.role);
    for (const machine of access.startsMachines) {
      if (props.stateMachines.has(machine)) grantStartExecution(fn, props.stage, machine);
    }
    if (access.taskCallbacks) {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: [...TASK_CALLBACK_ACTIONS], resources: ['*'] }),
      );
      suppress(fn.role, [{ id: 'AwsSolutions-IAM5[Resource::*]', reason: NAG_REASONS.taskTokenCallbacks }]);
    }
    return fn;
  }
}
