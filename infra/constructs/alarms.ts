/**
 * Alerts of one stage: an SNS topic (encrypted with the stage key, TLS only) fed by CloudWatch
 * alarms — Lambda errors per function, the drop function's dead-letter queue, failed deploy and
 * sweep executions when those state machines exist — and by the domain events that are alerts in
 * themselves (`Deployment Failed`, `Deployment Rolled Back`, `Auto-upgrade Alert`).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StageConfig } from '../stages.ts';
import type { PluginopsFunction } from './pluginops-function.ts';

export const ALERT_EVENT_TYPES = [
  'Deployment Failed',
  'Deployment Rolled Back',
  'Auto-upgrade Alert',
] as const;

export interface AlarmsProps {
  stage: StageConfig;
  key: kms.IKey;
  bus: events.IEventBus;
  functions: PluginopsFunction[];
  dropDeadLetterQueue: sqs.IQueue;
  /** Events the outbox relay could not deliver after every retry. */
  outboxDeadLetterQueue?: sqs.IQueue | undefined;
  deployStateMachine?: sfn.IStateMachine | undefined;
  sweepStateMachine?: sfn.IStateMachine | undefined;
}

export class Alarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { stage } = props;
    this.topic = new sns.Topic(this, 'AlertTopic', {
      topicName: `${stage.resourcePrefix}-alerts`,
      displayName: `pluginops ${stage.name} alerts`,
      masterKey: props.key,
      enforceSSL: true,
    });
    if (stage.alertEmail !== undefined)
      this.topic.addSubscription(new subscriptions.EmailSubscription(stage.alertEmail));
    const notify = new actions.SnsAction(this.topic);

    for (const fn of props.functions) {
      this.add(notify, `${fn.node.id}-errors`, {
        alarmName: `${fn.functionName}-errors`,
        alarmDescription: `${fn.functionName} reported errors`,
        metric: fn.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: stage.alarms.lambdaErrors,
      });
    }
    this.add(notify, 'DropDlqDepth', {
      alarmName: `${stage.resourcePrefix}-drop-dlq-depth`,
      alarmDescription: 'Dropped files whose processing failed every retry (see the drop DLQ)',
      metric: props.dropDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: stage.alarms.dropDlqDepth,
    });
    if (props.outboxDeadLetterQueue !== undefined) {
      this.add(notify, 'OutboxDlqDepth', {
        alarmName: `${stage.resourcePrefix}-outbox-dlq-depth`,
        alarmDescription: 'Domain events the outbox relay could not deliver to the bus (see the outbox DLQ)',
        metric: props.outboxDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 1,
      });
    }
    if (props.deployStateMachine !== undefined) {
      this.add(notify, 'FailedDeploys', {
        alarmName: `${stage.resourcePrefix}-failed-deploys`,
        alarmDescription: 'Deploy executions failed, timed out or were aborted',
        metric: failedExecutions(props.deployStateMachine, Duration.minutes(5)),
        threshold: stage.alarms.failedDeploys,
      });
    }
    if (props.sweepStateMachine !== undefined) {
      this.add(notify, 'SweepErrors', {
        alarmName: `${stage.resourcePrefix}-sweep-errors`,
        alarmDescription: 'Sweep executions failed, timed out or were aborted',
        metric: failedExecutions(props.sweepStateMachine, Duration.minutes(15)),
        threshold: stage.alarms.sweepErrors,
      });
    }

    new events.Rule(this, 'AlertEvents', {
      eventBus: props.bus,
      description: `pluginops ${stage.name}: alert-worthy domain events → alert topic`,
      eventPattern: { source: ['pluginops'], detailType: [...ALERT_EVENT_TYPES] },
      targets: [new targets.SnsTopic(this.topic)],
    });
  }

  private add(
    notify: actions.SnsAction,
    id: string,
    props: Pick<cloudwatch.AlarmProps, 'alarmName' | 'alarmDescription' | 'metric' | 'threshold'>,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      ...props,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(notify);
    this.alarms.push(alarm);
  }
}

function failedExecutions(machine: sfn.IStateMachine, period: Duration): cloudwatch.IMetric {
  return new cloudwatch.MathExpression({
    expression: 'failed + timedOut + aborted',
    usingMetrics: {
      failed: machine.metricFailed({ period, statistic: 'Sum' }),
      timedOut: machine.metricTimedOut({ period, statistic: 'Sum' }),
      aborted: machine.metricAborted({ period, statistic: 'Sum' }),
    },
    period,
  });
}
