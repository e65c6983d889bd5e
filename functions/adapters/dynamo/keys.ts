/**
 * Every DynamoDB key of the single table is built here and nowhere else.
 *
 * | entity            | PK                     | SK                          | GSI1PK / GSI1SK          |
 * |-------------------|------------------------|-----------------------------|--------------------------|
 * | tenant            | TENANT#<t>             | META                        | TENANTS / <t>            |
 * | tenant policy     | TENANT#<t>             | POLICY                      |                          |
 * | key (by owner)    | TENANT#<t> / OPERATOR  | KEY#<key_id>                |                          |
 * | key (by hash)     | APIKEY#<sha256>        | META                        |                          |
 * | signer            | SIGNERS                | SIGNER#<key_id>             |                          |
 * | package           | PACKAGE#<uid>          | META                        |                          |
 * | bytes → package   | BLOB#<sha256>          | META                        |                          |
 * | plugin            | PLUGIN#<author/name>   | META                        | PLUGINS / <author/name>  |
 * | plugin version    | PLUGIN#<author/name>   | VERSION#<sortkey>#<checksum>|                          |
 * | upload            | UPLOAD#<upload_id>     | META                        |                          |
 * | deployment        | TENANT#<t>             | DEPLOYMENT#<ulid>           | GSI2: TENANT#<t>#DEPLOYMENTS#<status> / <ulid>; GSI1: OPEN_DEPLOYMENTS / <t>#<ulid> (only while open) |
 * | installation      | TENANT#<t>             | INSTALLATION#<author/name>  |                          |
 * | revision          | TENANT#<t>#PLUGIN#<author/name> | REVISION#<10-digit n> |                       |
 * | auto-upgrade      | TENANT#<t>             | AUTO_UPGRADE                | GSI2: UPGRADE_SLOT#<0..95> / <t> (only while enabled) |
 * | auto-upgrade run  | TENANT#<t>             | UPGRADE_RUN#<iso run_at>    |                          |
 * | auto-upgrade alert| TENANT#<t>             | UPGRADE_ALERT#<uid>         |                          |
 * | rollout (canary)  | ROLLOUT#<uid>          | META                        |                          |
 * | sweep run         | SWEEP                  | RUN#<iso run_at>            |                          |
 * | outbox event      | EVENT#<event_id>       | META                        | (TTL 7 days)             |
 * | marketplace token | MKTTOKEN#<sha256>      | META                        |                          |
 * | token (by id)     | MARKETPLACE_TOKENS     | TOKEN#<token_id>            |                          |
 * | deprecation       | PLUGIN#<author/name>   | DEPRECATION                 |                          |
 * | install count     | PACKAGE#<uid>          | INSTALLS                    |                          |
 * | author signers    | AUTHOR#<author>        | SIGNERS                     |                          |
 * | author grant      | AUTHOR#<author>        | GRANT#<t>                   |                          |
 * | tenant's author   | TENANT#<t>             | AUTHOR#<author>             |                          |
 */

export interface ItemKey {
  PK: string;
  SK: string;
}

const META = 'META';

export const keys = {
  tenant: (tenantId: string): ItemKey => ({ PK: `TENANT#${tenantId}`, SK: META }),
  tenantIndex: (tenantId: string) => ({ GSI1PK: 'TENANTS', GSI1SK: tenantId }),
  tenantsPartition: () => ({ index: 'GSI1', GSI1PK: 'TENANTS' }) as const,
  policy: (tenantId: string): ItemKey => ({ PK: `TENANT#${tenantId}`, SK: 'POLICY' }),
  /** Key record under its owner; `tenantId === null` means an operator key. */
  ownedKey: (tenantId: string | null, keyId: string): ItemKey => ({
    PK: tenantId === null ? 'OPERATOR' : `TENANT#${tenantId}`,
    SK: `KEY#${keyId}`,
  }),
  ownedKeysPartition: (tenantId: string) => ({ PK: `TENANT#${tenantId}`, skPrefix: 'KEY#' }) as const,
  keyByHash: (keyHash: string): ItemKey => ({ PK: `APIKEY#${keyHash}`, SK: META }),
  signer: (keyId: string): ItemKey => ({ PK: 'SIGNERS', SK: `SIGNER#${keyId}` }),
  signersPartition: () => ({ PK: 'SIGNERS', skPrefix: 'SIGNER#' }) as const,
  package: (uniqueIdentifier: string): ItemKey => ({ PK: `PACKAGE#${uniqueIdentifier}`, SK: META }),
  blob: (sha256: string): ItemKey => ({ PK: `BLOB#${sha256}`, SK: META }),
  plugin: (pluginId: string): ItemKey => ({ PK: `PLUGIN#${pluginId}`, SK: META }),
  pluginIndex: (pluginId: string) => ({ GSI1PK: 'PLUGINS', GSI1SK: pluginId }),
  pluginsPartition: () => ({ index: 'GSI1', GSI1PK: 'PLUGINS' }) as const,
  pluginVersion: (pluginId: string, versionSortKey: string, checksum: string): ItemKey => ({
    PK: `PLUGIN#${pluginId}`,
    SK: `VERSION#${versionSortKey}#${checksum}`,
  }),
  pluginVersionsPartition: (pluginId: string) => ({ PK: `PLUGIN#${pluginId}`, skPrefix: 'VERSION#' }),
  upload: (uploadId: string): ItemKey => ({ PK: `UPLOAD#${uploadId}`, SK: META }),
  deployment: (tenantId: string, deploymentId: string): ItemKey => ({
    PK: `TENANT#${tenantId}`,
    SK: `DEPLOYMENT#${deploymentId}`,
  }),
  /** ULIDs sort by time, so a reverse query lists newest first. */
  deploymentsPartition: (tenantId: string) =>
    ({ PK: `TENANT#${tenantId}`, skPrefix: 'DEPLOYMENT#' }) as const,
  deploymentStatusIndex: (tenantId: string, status: string, deploymentId: string) => ({
    GSI2PK: `TENANT#${tenantId}#DEPLOYMENTS#${status}`,
    GSI2SK: deploymentId,
  }),
  /** Stage-wide index of open deployments (pending, running, awaiting approval) for the recovery pass. */
  openDeploymentIndex: (tenantId: string, deploymentId: string) => ({
    GSI1PK: 'OPEN_DEPLOYMENTS',
    GSI1SK: `${tenantId}#${deploymentId}`,
  }),
  openDeploymentsPartition: () => ({ index: 'GSI1', GSI1PK: 'OPEN_DEPLOYMENTS' }) as const,
  deploymentsByStatusPartition: (tenantId: string, status: string) =>
    ({ index: 'GSI2', GSI2PK: `TENANT#${tenantId}#DEPLOYMENTS#${status}` }) as const,
  installation: (tenantId: string, pluginId: string): ItemKey => ({
    PK: `TENANT#${tenantId}`,
    SK: `INSTALLATION#${pluginId}`,
  }),
  installationsPartition: (tenantId: string) =>
    ({ PK: `TENANT#${tenantId}`, skPrefix: 'INSTALLATION#' }) as const,
  /** Zero-padded so the sort key orders numerically. */
  revision: (tenantId: string, pluginId: string, revision: number): ItemKey => ({
    PK: `TENANT#${tenantId}#PLUGIN#${pluginId}`,
    SK: `REVISION#${String(revision).padStart(10, '0')}`,
  }),
  revisionsPartition: (tenantId: string, pluginId: string) =>
    ({ PK: `TENANT#${tenantId}#PLUGIN#${pluginId}`, skPrefix: 'REVISION#' }) as const,
  autoUpgrade: (tenantId: string): ItemKey => ({ PK: `TENANT#${tenantId}`, SK: 'AUTO_UPGRADE' }),
  /** Sweep index: the UTC quarter-hour slot of the tenant's next due run (core/auto-upgrade/schedule.ts). */
  autoUpgradeSlotIndex: (slot: number, tenantId: string) => ({
    GSI2PK: `UPGRADE_SLOT#${slot}`,
    GSI2SK: tenantId,
  }),
  autoUpgradeSlotPartition: (slot: number) => ({ index: 'GSI2', GSI2PK: `UPGRADE_SLOT#${slot}` }) as const,
  upgradeRun: (tenantId: string, runAt: string): ItemKey => ({
    PK: `TENANT#${tenantId}`,
    SK: `UPGRADE_RUN#${runAt}`,
  }),
  upgradeRunsPartition: (tenantId: string) =>
    ({ PK: `TENANT#${tenantId}`, skPrefix: 'UPGRADE_RUN#' }) as const,
  /** Marks that the `Auto-upgrade Alert` for a target was sent, so it is sent once. */
  upgradeAlert: (tenantId: string, uniqueIdentifier: string): ItemKey => ({
    PK: `TENANT#${tenantId}`,
    SK: `UPGRADE_ALERT#${uniqueIdentifier}`,
  }),
  /** Canary rollout of one build across tenants (wave, halt, resume). */
  rollout: (uniqueIdentifier: string): ItemKey => ({ PK: `ROLLOUT#${uniqueIdentifier}`, SK: META }),
  sweepRun: (runAt: string): ItemKey => ({ PK: 'SWEEP', SK: `RUN#${runAt}` }),
  /** Outbox: one item per domain event, delivered from the table's stream (adapters/events.ts). */
  outboxEvent: (eventId: string): ItemKey => ({ PK: `EVENT#${eventId}`, SK: META }),
  sweepRunsPartition: () => ({ PK: 'SWEEP', skPrefix: 'RUN#' }) as const,
  marketplaceTokenByHash: (tokenHash: string): ItemKey => ({ PK: `MKTTOKEN#${tokenHash}`, SK: META }),
  marketplaceToken: (tokenId: string): ItemKey => ({ PK: 'MARKETPLACE_TOKENS', SK: `TOKEN#${tokenId}` }),
  marketplaceTokensPartition: () => ({ PK: 'MARKETPLACE_TOKENS', skPrefix: 'TOKEN#' }) as const,
  pluginDeprecation: (pluginId: string): ItemKey => ({ PK: `PLUGIN#${pluginId}`, SK: 'DEPRECATION' }),
  installCount: (uniqueIdentifier: string): ItemKey => ({
    PK: `PACKAGE#${uniqueIdentifier}`,
    SK: 'INSTALLS',
  }),
  /** Signers the operator bound to an author (docs/security.md). */
  authorSigners: (author: string): ItemKey => ({ PK: `AUTHOR#${author}`, SK: 'SIGNERS' }),
  /** An author granted to a tenant, written twice: under the author and under the tenant. */
  authorGrant: (author: string, tenantId: string): ItemKey => ({
    PK: `AUTHOR#${author}`,
    SK: `GRANT#${tenantId}`,
  }),
  authorGrantsPartition: (author: string) => ({ PK: `AUTHOR#${author}`, skPrefix: 'GRANT#' }) as const,
  tenantAuthor: (tenantId: string, author: string): ItemKey => ({
    PK: `TENANT#${tenantId}`,
    SK: `AUTHOR#${author}`,
  }),
  tenantAuthorsPartition: (tenantId: string) => ({ PK: `TENANT#${tenantId}`, skPrefix: 'AUTHOR#' }) as const,
} as const;
