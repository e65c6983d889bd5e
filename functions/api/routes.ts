/**
 * The HTTP route table: one source of truth for the CDK HTTP API construct and the local gateway.
 * Paths use API Gateway syntax (`{param}`); `handler` names the file under `functions/api/`
 * whose `handler` export serves the route; `group` decides which Lambda function hosts it on AWS.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Route groups: one Lambda function per group on AWS (read-only groups get read-only IAM). */
export type RouteGroup = 'public' | 'admin' | 'catalog-read' | 'catalog-write' | 'deploy';

export interface RouteDefinition {
  method: HttpMethod;
  path: string;
  handler: string;
  group: RouteGroup;
  /** Short human summary, also used in the OpenAPI document. */
  summary: string;
}

export const ROUTES = [
  { method: 'GET', path: '/v1/health', handler: 'health', group: 'public', summary: 'Service health' },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    handler: 'openapi',
    group: 'public',
    summary: 'OpenAPI document',
  },
  {
    method: 'GET',
    path: '/v1/me',
    handler: 'me-get',
    group: 'catalog-read',
    summary: 'The calling key: tenant and scopes (what a console may show)',
  },
  {
    method: 'GET',
    path: '/v1/tenants',
    handler: 'tenants-list',
    group: 'admin',
    summary: 'List tenants (operator)',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/keys',
    handler: 'keys-list',
    group: 'admin',
    summary: 'List API keys of a tenant (never the secrets)',
  },
  {
    method: 'DELETE',
    path: '/v1/signers/{key_id}',
    handler: 'signers-delete',
    group: 'admin',
    summary: 'Remove a trusted signing key (operator)',
  },
  {
    method: 'POST',
    path: '/v1/tenants',
    handler: 'tenants-create',
    group: 'admin',
    summary: 'Create a tenant',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}',
    handler: 'tenants-get',
    group: 'admin',
    summary: 'Get a tenant',
  },
  {
    method: 'PATCH',
    path: '/v1/tenants/{tenant_id}',
    handler: 'tenants-update',
    group: 'admin',
    summary: 'Change a tenant (display name, Dify tenant id)',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{tenant_id}/runtime:sync',
    handler: 'runtime-sync',
    group: 'admin',
    summary: 'Adopt what the Dify plugin daemon runs as the installed state',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{tenant_id}/keys',
    handler: 'keys-create',
    group: 'admin',
    summary: 'Issue an API key',
  },
  {
    method: 'DELETE',
    path: '/v1/tenants/{tenant_id}/keys/{key_id}',
    handler: 'keys-revoke',
    group: 'admin',
    summary: 'Revoke an API key',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/policy',
    handler: 'policy-get',
    group: 'admin',
    summary: 'Get tenant policy',
  },
  {
    method: 'PUT',
    path: '/v1/tenants/{tenant_id}/policy',
    handler: 'policy-put',
    group: 'admin',
    summary: 'Replace tenant policy',
  },
  {
    method: 'POST',
    path: '/v1/signers',
    handler: 'signers-create',
    group: 'admin',
    summary: 'Trust a signing key',
  },
  {
    method: 'GET',
    path: '/v1/signers',
    handler: 'signers-list',
    group: 'admin',
    summary: 'List trusted signing keys',
  },
  {
    method: 'POST',
    path: '/v1/uploads',
    handler: 'uploads-create',
    group: 'catalog-write',
    summary: 'Presign a package upload',
  },
  {
    method: 'POST',
    path: '/v1/packages',
    handler: 'packages-publish',
    group: 'catalog-write',
    summary: 'Publish a package',
  },
  {
    method: 'POST',
    path: '/v1/packages:raw',
    handler: 'packages-publish-raw',
    group: 'catalog-write',
    summary: 'Publish a small package from the request body',
  },
  {
    method: 'GET',
    path: '/v1/packages/{unique_identifier}',
    handler: 'packages-get',
    group: 'catalog-read',
    summary: 'Get a package',
  },
  {
    method: 'GET',
    path: '/v1/packages/{unique_identifier}/readmes',
    handler: 'packages-readmes',
    group: 'catalog-read',
    summary: 'READMEs of a package by language (README.md, readme/README_<lang>.md)',
  },
  {
    method: 'GET',
    path: '/v1/packages/{unique_identifier}/readme',
    handler: 'package-readme-get',
    group: 'catalog-read',
    summary: "A package's README.md (untrusted markdown: sanitize before rendering)",
  },
  {
    method: 'GET',
    path: '/v1/plugins',
    handler: 'plugins-list',
    group: 'catalog-read',
    summary: 'Search the catalog',
  },
  {
    method: 'GET',
    path: '/v1/plugins/{author}/{name}/versions',
    handler: 'plugin-versions-list',
    group: 'catalog-read',
    summary: 'List versions of a plugin',
  },
  {
    method: 'GET',
    path: '/v1/marketplace/api/v1/plugins/download',
    handler: 'marketplace-download',
    group: 'catalog-read',
    summary: 'Marketplace protocol: download a package by unique identifier',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/auto-upgrade',
    handler: 'auto-upgrade-get',
    group: 'catalog-read',
    summary: 'Get auto-upgrade settings and the next run',
  },
  {
    method: 'PUT',
    path: '/v1/tenants/{tenant_id}/auto-upgrade',
    handler: 'auto-upgrade-put',
    group: 'admin',
    summary: 'Replace auto-upgrade settings',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/auto-upgrade/runs',
    handler: 'auto-upgrade-runs-list',
    group: 'catalog-read',
    summary: 'List auto-upgrade runs, newest first',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{tenant_id}/deployments',
    handler: 'deployments-create',
    group: 'deploy',
    summary: 'Start a deployment (install, upgrade, uninstall, rollback)',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{tenant_id}/plans',
    handler: 'plans-create',
    // A dry run, but it may publish missing dependencies fetched from their sources.
    group: 'catalog-write',
    summary: 'Dry-run an install with its dependencies (steps, order, checks)',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/deployments',
    handler: 'deployments-list',
    group: 'catalog-read',
    summary: 'List deployments, newest first',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/deployments/{deployment_id}',
    handler: 'deployments-get',
    group: 'catalog-read',
    summary: 'Get a deployment with its plan and step timeline',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{tenant_id}/deployments/{deployment_id}/approve',
    handler: 'deployments-approve',
    group: 'deploy',
    summary: 'Approve a deployment awaiting approval',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{tenant_id}/deployments/{deployment_id}/reject',
    handler: 'deployments-reject',
    group: 'deploy',
    summary: 'Reject a deployment awaiting approval',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/installations',
    handler: 'installations-list',
    group: 'catalog-read',
    summary: 'List installed plugins',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{tenant_id}/installations/{author}/{name}/revisions',
    handler: 'installation-revisions-list',
    group: 'catalog-read',
    summary: 'List revisions of an installed plugin, newest first',
  },
  {
    method: 'DELETE',
    path: '/v1/tenants/{tenant_id}/installations/{author}/{name}/hold',
    handler: 'installation-hold-delete',
    group: 'deploy',
    summary: 'Clear an auto-upgrade hold',
  },
  {
    method: 'POST',
    path: '/v1/sweeps',
    handler: 'sweeps-run',
    group: 'deploy',
    summary: 'Run the auto-upgrade sweep now (operator)',
  },
  {
    method: 'DELETE',
    path: '/v1/rollouts/{unique_identifier}/halt',
    handler: 'rollout-halt-delete',
    group: 'admin',
    summary: 'Resume a halted canary rollout (operator)',
  },
  {
    method: 'GET',
    path: '/marketplace/{token}/api/v1/plugins/{org}/{name}/{version}/download',
    handler: 'marketplace-dify-download',
    group: 'catalog-read',
    summary: 'Dify marketplace: download the preferred build of a version',
  },
  {
    method: 'HEAD',
    path: '/marketplace/{token}/api/v1/plugins/{org}/{name}/{version}/download',
    handler: 'marketplace-dify-download',
    group: 'catalog-read',
    summary: 'Dify marketplace: size of the preferred build of a version',
  },
  {
    method: 'GET',
    path: '/marketplace/{token}/api/v1/plugins/download',
    handler: 'marketplace-dify-download-by-id',
    group: 'catalog-read',
    summary: 'Dify marketplace: download a build by unique identifier',
  },
  {
    method: 'HEAD',
    path: '/marketplace/{token}/api/v1/plugins/download',
    handler: 'marketplace-dify-download-by-id',
    group: 'catalog-read',
    summary: 'Dify marketplace: size of a build by unique identifier',
  },
  {
    method: 'POST',
    path: '/marketplace/{token}/api/v1/plugins/batch',
    handler: 'marketplace-dify-batch',
    group: 'catalog-read',
    summary: 'Dify marketplace: latest declarations of plugins',
  },
  {
    method: 'GET',
    path: '/marketplace/{token}/api/v1/dist/plugins/manifest.json',
    handler: 'marketplace-dify-manifest',
    group: 'catalog-read',
    summary: 'Dify marketplace: snapshot of every plugin',
  },
  {
    method: 'POST',
    path: '/marketplace/{token}/api/v1/stats/plugins/install_count',
    handler: 'marketplace-dify-install-count',
    group: 'catalog-write',
    summary: 'Dify marketplace: count an install',
  },
  {
    method: 'GET',
    path: '/marketplace/{token}/api/v1/plugins/{org}/{name}/icon',
    handler: 'marketplace-dify-icon',
    group: 'catalog-read',
    summary: 'Dify marketplace: plugin icon',
  },
  {
    method: 'POST',
    path: '/v1/marketplace/tokens',
    handler: 'marketplace-tokens-create',
    group: 'admin',
    summary: 'Issue a read-only marketplace token (operator)',
  },
  {
    method: 'GET',
    path: '/v1/marketplace/tokens',
    handler: 'marketplace-tokens-list',
    group: 'admin',
    summary: 'List marketplace tokens (operator)',
  },
  {
    method: 'DELETE',
    path: '/v1/marketplace/tokens/{token_id}',
    handler: 'marketplace-tokens-revoke',
    group: 'admin',
    summary: 'Revoke a marketplace token (operator)',
  },
  {
    method: 'PUT',
    path: '/v1/plugins/{author}/{name}/deprecation',
    handler: 'plugin-deprecation-put',
    group: 'admin',
    summary: 'Deprecate a plugin (operator)',
  },
  {
    method: 'DELETE',
    path: '/v1/plugins/{author}/{name}/deprecation',
    handler: 'plugin-deprecation-delete',
    group: 'admin',
    summary: 'Undo a deprecation (operator)',
  },
  {
    method: 'GET',
    path: '/v1/authors/{author}',
    handler: 'authors-get',
    group: 'admin',
    summary: 'Who may publish under an author (operator)',
  },
  {
    method: 'PUT',
    path: '/v1/authors/{author}/tenants/{tenant_id}',
    handler: 'authors-grant',
    group: 'admin',
    summary: 'Grant an author to a tenant (operator)',
  },
  {
    method: 'DELETE',
    path: '/v1/authors/{author}/tenants/{tenant_id}',
    handler: 'authors-revoke',
    group: 'admin',
    summary: 'Revoke an author from a tenant (operator)',
  },
  {
    method: 'PUT',
    path: '/v1/authors/{author}/signers',
    handler: 'author-signers-put',
    group: 'admin',
    summary: 'Bind the signers every build of an author must be signed by (operator)',
  },
  {
    method: 'POST',
    path: '/v1/packages/{unique_identifier}/promote',
    handler: 'packages-promote',
    group: 'catalog-write',
    summary: "Make a tenant's build trusted stage-wide (operator)",
  },
] as const satisfies readonly RouteDefinition[];

export type RouteHandlerName = (typeof ROUTES)[number]['handler'];

export function routeKey(route: Pick<RouteDefinition, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}
