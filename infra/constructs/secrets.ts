/**
 * Runtime secrets of one stage, in Secrets Manager and encrypted with the stage key. Functions get
 * them through `PluginopsFunction`'s `secrets` prop (ARN in `PLUGINOPS_SECRET_ARNS`, value loaded by
 * `infra/runtime/load-secrets.ts`), never as plain environment values.
 */
import { SecretValue } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '#config/names.ts';
import { UNSET_SECRET_VALUE } from '../runtime/load-secrets.ts';
import type { StageConfig } from '../stages.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { removalPolicyOf } from './pluginops-function.ts';

/** The runtime secrets a function can be given, by short name. */
export type SecretName = 'cursor' | 'github' | 'marketplace' | 'config' | 'difyDaemon';

/** The environment variable each secret is delivered as (through `PLUGINOPS_SECRET_ARNS`). */
export const SECRET_VARIABLES: Readonly<Record<SecretName, string>> = {
  cursor: ENV.cursorSecret,
  github: ENV.githubToken,
  marketplace: ENV.marketplaceToken,
  config: ENV.configKey,
  difyDaemon: ENV.difyDaemonKey,
};

/**
 * `configSealingKey()` decodes `PLUGINOPS_CONFIG_KEY` with `Buffer.from(value, 'base64')` and
 * requires exactly 32 bytes. 43 characters of the base64 alphabet, unpadded, decode to exactly
 * 32 bytes (43 × 6 = 258 bits; the 2 spare bits are dropped). Letters and digits only (no `+`,
 * `/`, `=`), so the value is the same in base64 and base64url; about 254 bits of entropy.
 */
export const CONFIG_KEY_GENERATION: secretsmanager.SecretStringGenerator = {
  passwordLength: 43,
  excludePunctuation: true,
  includeSpace: false,
};

/** The `secrets` prop of a function that reads `names`: variable name → secret. */
export function secretsFor(
  names: readonly SecretName[],
  secrets: Readonly<Record<SecretName, secretsmanager.ISecret>>,
): Record<string, secretsmanager.ISecret> {
  return Object.fromEntries(names.map((name) => [SECRET_VARIABLES[name], secrets[name]]));
}

export interface RuntimeSecretsProps {
  stage: StageConfig;
  key: kms.IKey;
}

export class RuntimeSecrets extends Construct {
  /** HMAC key of pagination cursors (`PLUGINOPS_CURSOR_SECRET`), generated at creation. */
  readonly cursorSecret: secretsmanager.Secret;
  /** GitHub token for release downloads (`PLUGINOPS_GITHUB_TOKEN`); `UNSET` until an operator sets it. */
  readonly githubToken: secretsmanager.Secret;
  /** Marketplace token (`PLUGINOPS_MARKETPLACE_TOKEN`); `UNSET` until an operator sets it. */
  readonly marketplaceToken: secretsmanager.Secret;
  /**
   * Key that seals tenant plugin config (`PLUGINOPS_CONFIG_KEY`, see
   * `functions/services/deploy-config.ts`), generated at creation. Never rotate it in place:
   * configs sealed with the old key could no longer be opened.
   */
  readonly configKey: secretsmanager.Secret;
  /** The Dify plugin daemon's server key (placeholder until an operator puts the real one). */
  readonly difyDaemonKey: secretsmanager.Secret;
  /** Every secret by the name functions ask for it with. */
  readonly byName: Readonly<Record<SecretName, secretsmanager.ISecret>>;

  constructor(scope: Construct, id: string, props: RuntimeSecretsProps) {
    super(scope, id);
    const { stage, key } = props;
    const removalPolicy = removalPolicyOf(stage);
    const name = (suffix: string) => `${stage.resourcePrefix}/${suffix}`;

    this.cursorSecret = new secretsmanager.Secret(this, 'CursorSecret', {
      secretName: name('cursor-secret'),
      description: 'HMAC key for pagination cursors (PLUGINOPS_CURSOR_SECRET)',
      encryptionKey: key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    // Placeholders: not secret material. Operators replace them with `put-secret-value`.
    this.githubToken = new secretsmanager.Secret(this, 'GithubToken', {
      secretName: name('github-token'),
      description: 'GitHub token for release downloads (PLUGINOPS_GITHUB_TOKEN); UNSET = anonymous',
      encryptionKey: key,
      secretStringValue: SecretValue.unsafePlainText(UNSET_SECRET_VALUE),
      removalPolicy,
    });
    this.marketplaceToken = new secretsmanager.Secret(this, 'MarketplaceToken', {
      secretName: name('marketplace-token'),
      description: 'Marketplace bearer token (PLUGINOPS_MARKETPLACE_TOKEN); UNSET = anonymous',
      encryptionKey: key,
      secretStringValue: SecretValue.unsafePlainText(UNSET_SECRET_VALUE),
      removalPolicy,
    });
    this.configKey = new secretsmanager.Secret(this, 'ConfigKey', {
      secretName: name('config-key'),
      description:
        'Sealing key of tenant plugin config (PLUGINOPS_CONFIG_KEY): 32 bytes, base64 without padding',
      encryptionKey: key,
      generateSecretString: CONFIG_KEY_GENERATION,
      removalPolicy,
    });
    this.difyDaemonKey = new secretsmanager.Secret(this, 'DifyDaemonKey', {
      secretName: name('dify-daemon-key'),
      description:
        "The Dify plugin daemon's SERVER_KEY (PLUGINOPS_DIFY_DAEMON_KEY), for PLUGINOPS_RUNTIME=dify-daemon; UNSET = none",
      encryptionKey: key,
      secretStringValue: SecretValue.unsafePlainText(UNSET_SECRET_VALUE),
      removalPolicy,
    });
    this.byName = {
      difyDaemon: this.difyDaemonKey,
      cursor: this.cursorSecret,
      github: this.githubToken,
      marketplace: this.marketplaceToken,
      config: this.configKey,
    };
    suppress(this, [{ id: 'AwsSolutions-SMG4', reason: NAG_REASONS.secretRotation }]);
  }
}
