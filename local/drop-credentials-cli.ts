/**
 * `npm run drop-credentials -- <tenant_id>`: issues the S3 credentials that may write to one
 * tenant's local drop folder (`drop/tenants/<tenant_id>/`) and prints them. Uses
 * `PLUGINOPS_DATA_DIR` (default `.pluginops/`), like `npm start`; a running stack accepts them at once.
 */
import { resolve } from 'node:path';
import { issueDropCredentials } from './s3-auth.ts';

const tenantId = process.argv[2];
if (tenantId === undefined || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(tenantId)) {
  console.error('usage: npm run drop-credentials -- <tenant_id>');
  process.exit(2);
}
const credential = await issueDropCredentials(
  resolve(process.env.PLUGINOPS_DATA_DIR ?? '.pluginops'),
  tenantId,
);
console.log(JSON.stringify(credential, null, 2));
