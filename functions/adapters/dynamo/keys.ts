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
} as const;
