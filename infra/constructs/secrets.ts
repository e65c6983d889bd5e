/**
 * Runtime secrets of one stage, in Secrets Manager and encrypted with the stage key. Functions get
 * them through `PluginopsFunction`'s `secrets` prop (ARN in `PLUGINOPS_SECRET_ARNS`, value loaded by
 * `infra/runtime/load-secrets.ts`), never as plain environment values.
 */
import { SecretValue } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { UNSET_SECRET_VALUE } from '../runtime/load-secrets.ts';
import type { StageConfig } from '../stages.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { removalPolicyOf } from './pluginops-function.ts';

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
    suppress(this, [{ id: 'AwsSolutions-SMG4', reason: NAG_REASONS.secretRotation }]);
  }
}
