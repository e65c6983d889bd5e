/** The runtime configuration as a function reads it from the environment its stack sets. */
import { describe, expect, it } from 'vitest';
import { ENV, stateMachineArnVariable } from '#config/names.ts';
import { readRuntimeConfig } from '#config/runtime-config.ts';
import { stagePolicyDefaults } from '#services/stage.ts';

describe('readRuntimeConfig', () => {
  it('defaults to the local stage with no canary, no bus and no state machines', () => {
    const config = readRuntimeConfig({});
    expect(config).toMatchObject({
      stage: 'local',
      mainTable: 'pluginops-local-main',
      logLevel: 'INFO',
      approvalRequired: false,
      approvalTimeoutSeconds: 86_400,
      canary: null,
      eventBus: undefined,
      eventsFile: undefined,
      stateMachineArns: { deploy: undefined, sweep: undefined },
    });
  });

  it('reads the canary the stage sets', () => {
    const config = readRuntimeConfig({
      [ENV.canaryFirstWavePercent]: '5',
      [ENV.canaryHaltFailurePercent]: '10',
    });
    expect(config.canary).toEqual({ percent: 5, failure_threshold: 10 });
  });

  it('treats a 0 % first wave as no canary, and a missing halt threshold as never halt', () => {
    expect(readRuntimeConfig({ [ENV.canaryFirstWavePercent]: '0' }).canary).toBeNull();
    expect(readRuntimeConfig({ [ENV.canaryFirstWavePercent]: '20' }).canary).toEqual({
      percent: 20,
      failure_threshold: 100,
    });
  });

  it('refuses a canary that is not a percentage', () => {
    expect(() => readRuntimeConfig({ [ENV.canaryFirstWavePercent]: 'lots' })).toThrow(
      /PLUGINOPS_CANARY_FIRST_WAVE_PERCENT/,
    );
    expect(() =>
      readRuntimeConfig({ [ENV.canaryFirstWavePercent]: '5', [ENV.canaryHaltFailurePercent]: '150' }),
    ).toThrow(/PLUGINOPS_CANARY_HALT_FAILURE_PERCENT/);
  });

  it('reads approval, events and state machine settings under the shared names', () => {
    const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:pluginops-dev-deploy';
    const config = readRuntimeConfig({
      [ENV.approvalRequired]: 'true',
      [ENV.approvalTimeoutSeconds]: '600',
      [ENV.eventBus]: 'pluginops-dev',
      [ENV.logLevel]: 'WARN',
      [stateMachineArnVariable('deploy')]: arn,
    });
    expect(config).toMatchObject({
      approvalRequired: true,
      approvalTimeoutSeconds: 600,
      eventBus: 'pluginops-dev',
      logLevel: 'WARN',
      stateMachineArns: { deploy: arn, sweep: undefined },
    });
    expect(stateMachineArnVariable('deploy')).toBe('PLUGINOPS_DEPLOY_STATE_MACHINE_ARN');
  });
});

describe('stagePolicyDefaults', () => {
  it('makes the stage canary the default policy canary', () => {
    const config = readRuntimeConfig({
      [ENV.canaryFirstWavePercent]: '20',
      [ENV.canaryHaltFailurePercent]: '20',
    });
    expect(stagePolicyDefaults(config).canary).toEqual({ percent: 20, failure_threshold: 20 });
    expect(stagePolicyDefaults(readRuntimeConfig({})).canary).toBeNull();
  });
});
