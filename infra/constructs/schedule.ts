/**
 * The auto-upgrade sweep trigger: an EventBridge rule, rate(15 minutes), that starts the sweep
 * state machine (docs/design.md#auto-upgrade-sweep). The stack adds it only when
 * `statemachines/sweep.asl.json` exists.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StageConfig } from '../stages.ts';

export const SWEEP_INTERVAL = Duration.minutes(15);

export interface ScheduleProps {
  stage: StageConfig;
  sweep: sfn.IStateMachine;
}

export class Schedule extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ScheduleProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'SweepSchedule', {
      description: `pluginops ${props.stage.name}: auto-upgrade sweep every 15 minutes`,
      schedule: events.Schedule.rate(SWEEP_INTERVAL),
      targets: [
        new targets.SfnStateMachine(props.sweep, {
          // The sweep reads the window from the scheduled event's `time`.
          input: events.RuleTargetInput.fromObject({ time: events.EventField.time, source: 'schedule' }),
          retryAttempts: 2,
        }),
      ],
    });
  }
}
