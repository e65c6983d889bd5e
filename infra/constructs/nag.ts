/**
 * cdk-nag suppressions: every one carries a written reason, and the reasons live here so the full
 * list is reviewable in one place (and mirrored in docs/deploy-aws.md).
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export const NAG_REASONS = {
  nodeRuntime:
    'pluginops pins Node.js 22 (package.json engines, node@22 toolchain); moving to a newer Lambda runtime is a deliberate, tested upgrade.',
  apiAuthorization:
    'Every non-public route authenticates in the function: bearer API keys stored as SHA-256 hashes with tenant and scopes (docs/design.md). Public routes (health, OpenAPI) are public by design.',
  tableIndexes:
    'Query on the table\'s own GSIs ("<table arn>/index/*"); the wildcard covers only this table\'s indexes.',
  bucketPrefixes:
    'Object access is scoped to one key prefix of the stage bucket (e.g. "packages/*"); object keys are not known in advance.',
  kmsViaGrant:
    'KMS actions such as kms:GenerateDataKey*/kms:ReEncrypt* are the action groups CDK grants for encrypting with the stage key; the resource is that one key.',
  accessLogBucket:
    'This bucket is the server-access-log destination of the package bucket; logging it to itself would loop.',
  cdkCustomResource:
    'CDK-managed custom resource (bucket notifications / auto-delete objects / console upload from the CDK asset bucket) with its CDK-defined runtime and AWSLambdaBasicExecutionRole; not pluginops code and only runs during deployments.',
  dropDlq: 'This queue is itself the dead-letter queue of the drop function and its EventBridge target.',
  streamList:
    'dynamodb:ListStreams has no resource-level permissions (AWS documents Resource "*"); reading the records is limited to the main table stream.',
  outboxDlq:
    'This queue is itself the on-failure destination of the outbox relay (events that failed every delivery attempt).',
  secretRotation:
    'The cursor HMAC key and the source tokens are rotated by operators (docs/deploy-aws.md); automatic rotation of the GitHub/marketplace tokens is impossible (issued by a third party), rotating the cursor key invalidates open pagination cursors, and the config sealing key must not change while configs sealed with it are stored (they would no longer open).',
  stateMachineTracing:
    'X-Ray writes (xray:PutTraceSegments etc.) and CloudWatch Logs delivery actions do not support resource-level permissions.',
  stateMachineTasks:
    'Lambda task invocations include version/alias ARNs ("<function arn>:*") of pluginops task functions only.',
  startExecution:
    "The sweep starts executions of the stage's deploy state machine; execution ARNs are only known at runtime.",
  describeExecution:
    'DescribeExecution on executions of one of the stage\'s own state machines ("…:execution:pluginops-<stage>-<machine>:*"); execution names are chosen per deployment/sweep at runtime.',
  taskTokenCallbacks:
    'states:SendTaskSuccess/SendTaskFailure do not support resource-level permissions (IAM requires "*"); the caller must hold the task token, which only the approval task stores, on this stage\'s table.',
  consoleGeo:
    'The console serves a multi-tenant platform used from any country; access is controlled by API keys, not geography.',
  consoleWaf:
    'The console is static files plus the key-authenticated API; a WAF web ACL (us-east-1 scope) is an operator choice per account, attached by ARN outside this stack.',
  consoleCertificate:
    'Without a custom domain CloudFront uses its default *.cloudfront.net certificate, whose TLS floor CloudFront fixes; the distribution sets TLSv1.2_2021 for when a domain and certificate are added.',
} as const;

export interface Suppression {
  /** Rule id, or `RuleId[Finding]` for one finding of a multi-finding rule (cdk-nag v3). */
  id: string;
  reason: string;
}

/** Acknowledges rules on a construct and everything under it (`Validations.of().acknowledge`). */
export function suppress(construct: IConstruct, suppressions: Suppression[]): void {
  Validations.of(construct).acknowledge(...suppressions);
}

/** A family of findings acknowledged by pattern, e.g. IAM5 wildcards on a GSI resource. */
export interface FindingPattern {
  rule: string;
  finding: RegExp;
  /** Only on resources whose construct path matches. */
  path?: RegExp;
  reason: string;
}

/**
 * cdk-nag v3 acknowledges exact finding ids only (`AwsSolutions-IAM5[Resource::<Key1234.Arn>]`),
 * and those embed logical ids. This runs the pack once over `scope` and acknowledges each open
 * finding whose text matches one of `patterns` on the resource that raised it — so suppressions
 * stay readable and reviewable as patterns, and anything unexpected still fails the synth.
 */
export function acknowledgeMatchingFindings(scope: IConstruct, patterns: FindingPattern[]): void {
  const report = new AwsSolutionsChecks().validateScope(scope);
  const byPath = new Map(scope.node.findAll().map((construct) => [construct.node.path, construct]));
  for (const violation of report.violations) {
    const parsed = /^([^[]+)\[(.*)\]$/.exec(violation.ruleName);
    if (parsed === null) continue;
    for (const resource of violation.violatingResources) {
      const path = resource.constructPath ?? '';
      const pattern = patterns.find(
        (entry) =>
          entry.rule === parsed[1] &&
          entry.finding.test(parsed[2] ?? '') &&
          (entry.path === undefined || entry.path.test(path)),
      );
      if (pattern === undefined) continue;
      const construct = byPath.get(path);
      if (construct !== undefined) suppress(construct, [{ id: violation.ruleName, reason: pattern.reason }]);
    }
  }
}

/** The wildcard findings pluginops accepts, each with its reason (docs/deploy-aws.md lists them). */
export const STACK_FINDING_PATTERNS: FindingPattern[] = [
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^(Action::s3:[A-Za-z]+\*|Resource::.*)$/,
    path: /\/Custom::CDKBucketDeployment[^/]*\/ServiceRole\//,
    reason: NAG_REASONS.cdkCustomResource,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^Resource::<[^>]+\.Arn>\/index\/\*$/,
    reason: NAG_REASONS.tableIndexes,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^Resource::<[^>]+\.Arn>\/(uploads|drop|packages|drop-results|backups|runtime)\/\*$/,
    reason: NAG_REASONS.bucketPrefixes,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^Action::kms:(GenerateDataKey|ReEncrypt)\*$/,
    reason: NAG_REASONS.kmsViaGrant,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^Resource::\*$/,
    path: /\/Workflows\/[^/]+-role\//,
    reason: NAG_REASONS.stateMachineTracing,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^Resource::<[^>]+\.Arn>:\*$/,
    path: /\/Workflows\/[^/]+-role\//,
    reason: NAG_REASONS.stateMachineTasks,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding: /^Resource::arn:.*:execution:.*$/,
    path: /\/Workflows\/[^/]+-role\//,
    reason: NAG_REASONS.startExecution,
  },
  {
    rule: 'AwsSolutions-IAM5',
    finding:
      /^Resource::arn:(<[^>]+>|[\w-]+):states:(<[^>]+>|[\w-]+):(<[^>]+>|\d+):execution:pluginops-[a-z]+-[a-z0-9-]+:\*$/,
    path: /\/(Api\/Function-[^/]+|Workflows\/task-[^/]+|Workflows\/recovery|Events\/DropFunction)\/Role\//,
    reason: NAG_REASONS.describeExecution,
  },
];
