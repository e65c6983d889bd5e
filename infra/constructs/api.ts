/**
 * The HTTP API, generated from `ROUTES` (the table the local gateway serves too): one route per
 * entry, one Lambda function per route group. Read-only groups get read-only IAM; see
 * `GROUP_ACCESS` for exactly what each group may touch.
 */
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ROUTES, type RouteGroup } from '#api/routes.ts';
import { apiGroupEntry, ROUTE_GROUPS } from '../lambda/entries.ts';
import type { StageConfig } from '../stages.ts';
import { type Access, grantObjects, grantTable } from './access.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { LOG_RETENTION, PluginopsFunction, removalPolicyOf } from './pluginops-function.ts';
import { BUCKET_PREFIXES } from './storage.ts';

type SecretName = 'cursor' | 'github' | 'marketplace';

export interface GroupAccess {
  /** Main table; `none` for groups that never read state. */
  table: Access | 'none';
  /** Powertools idempotency records (mutating routes honour `Idempotency-Key`). */
  idempotency: boolean;
  objects: { prefix: string; access: 'read' | 'write' | 'read-write' }[];
  /** May put events on the stage bus (`Package Published`). */
  putEvents: boolean;
  secrets: SecretName[];
}

/** What each route group's function may do — derived from what its handlers call. */
export const GROUP_ACCESS: Readonly<Record<RouteGroup, GroupAccess>> = {
  // health and the OpenAPI document touch no state at all.
  public: { table: 'none', idempotency: false, objects: [], putEvents: false, secrets: [] },
  // Authentication reads keys and tenants; listing signs cursors; downloads presign GETs of packages/.
  'catalog-read': {
    table: 'read',
    idempotency: false,
    objects: [{ prefix: BUCKET_PREFIXES.packages, access: 'read' }],
    putEvents: false,
    secrets: ['cursor'],
  },
  // Tenants, keys, policies, signers: table writes only, no bucket.
  admin: { table: 'read-write', idempotency: true, objects: [], putEvents: false, secrets: ['cursor'] },
  // Presigned PUTs to uploads/, publishing reads uploads/ and stores packages/ once.
  'catalog-write': {
    table: 'read-write',
    idempotency: true,
    objects: [
      { prefix: BUCKET_PREFIXES.uploads, access: 'read-write' },
      { prefix: BUCKET_PREFIXES.packages, access: 'read-write' },
    ],
    putEvents: true,
    secrets: ['github', 'marketplace'],
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
  secrets: Record<SecretName, secretsmanager.ISecret>;
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
    const secrets: Record<string, secretsmanager.ISecret> = {};
    if (access.secrets.includes('cursor')) secrets.PLUGINOPS_CURSOR_SECRET = props.secrets.cursor;
    if (access.secrets.includes('github')) secrets.PLUGINOPS_GITHUB_TOKEN = props.secrets.github;
    if (access.secrets.includes('marketplace'))
      secrets.PLUGINOPS_MARKETPLACE_TOKEN = props.secrets.marketplace;

    const fn = new PluginopsFunction(this, `Function-${group}`, {
      stage: props.stage,
      entry: apiGroupEntry(group),
      description: `pluginops API routes of group "${group}"`,
      environment: props.environment,
      secrets,
      memorySize: group === 'catalog-write' ? 1024 : 512,
    });
    if (access.table !== 'none') grantTable(fn.role, props.mainTable, props.key, access.table);
    if (access.idempotency) grantTable(fn.role, props.idempotencyTable, props.key, 'read-write');
    for (const { prefix, access: objectAccess } of access.objects) {
      grantObjects(fn.role, props.bucket, props.key, prefix, objectAccess);
    }
    if (access.putEvents) props.bus.grantPutEventsTo(fn.role);
    return fn;
  }
}
