/**
 * Builds the OpenAPI 3.1 document from the route table and the zod schemas (zod 4 emits JSON
 * Schema draft 2020-12, which is OpenAPI 3.1's dialect).
 */
import { z } from 'zod';
import { PROBLEM_CATALOG } from '#core/errors.ts';
import * as m from './marketplace-schemas.ts';
import { ROUTES, type RouteHandlerName } from './routes.ts';
import * as s from './schemas.ts';

interface Operation {
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  rawBody?: true;
  responses: Record<number, z.ZodType | null>;
  auth?: false;
}

const OPERATIONS: Record<RouteHandlerName, Operation> = {
  health: { auth: false, responses: { 200: s.Health } },
  openapi: { auth: false, responses: { 200: z.record(z.string(), z.unknown()) } },
  'tenants-create': { body: s.CreateTenantBody, responses: { 201: s.Tenant } },
  'tenants-get': { params: s.TenantParams, responses: { 200: s.Tenant } },
  'tenants-update': { params: s.TenantParams, body: s.UpdateTenantBody, responses: { 200: s.Tenant } },
  'runtime-sync': { params: s.TenantParams, responses: { 200: s.RuntimeSyncResult } },
  'keys-create': { params: s.TenantParams, body: s.CreateKeyBody, responses: { 201: s.IssuedKey } },
  'keys-revoke': { params: s.KeyParams, responses: { 204: null } },
  'policy-get': { params: s.TenantParams, responses: { 200: s.Policy } },
  'policy-put': { params: s.TenantParams, body: s.PolicyBody, responses: { 200: s.Policy } },
  'signers-create': { body: s.CreateSignerBody, responses: { 201: s.Signer } },
  'signers-list': { query: s.ListQuery, responses: { 200: s.pageOf(s.Signer) } },
  'authors-get': { params: s.AuthorParams, responses: { 200: s.AuthorView } },
  'authors-grant': { params: s.AuthorGrantParams, responses: { 200: s.AuthorGrant } },
  'authors-revoke': { params: s.AuthorGrantParams, responses: { 204: null } },
  'author-signers-put': {
    params: s.AuthorParams,
    body: s.AuthorSignersBody,
    responses: { 200: s.AuthorView },
  },
  'packages-promote': { params: s.PackageParams, responses: { 200: s.Package } },
  'uploads-create': { body: s.CreateUploadBody, responses: { 201: s.Upload } },
  'packages-publish': { body: s.PublishBody, responses: { 200: s.Published, 201: s.Published } },
  'packages-publish-raw': { rawBody: true, responses: { 200: s.Published, 201: s.Published } },
  'packages-get': { params: s.PackageParams, responses: { 200: s.Package } },
  'packages-readmes': { params: s.PackageParams, responses: { 200: m.PackageReadmes } },
  'plugins-list': { query: s.PluginsQuery, responses: { 200: s.pageOf(s.PluginSummary) } },
  'plugin-versions-list': {
    params: s.PluginParams,
    query: s.ListQuery,
    responses: { 200: s.pageOf(s.Package) },
  },
  'marketplace-download': { query: s.MarketplaceDownloadQuery, responses: { 302: null } },
  'auto-upgrade-get': { params: s.TenantParams, responses: { 200: s.AutoUpgrade } },
  'auto-upgrade-put': { params: s.TenantParams, body: s.AutoUpgradeBody, responses: { 200: s.AutoUpgrade } },
  'auto-upgrade-runs-list': {
    params: s.TenantParams,
    query: s.ListQuery,
    responses: { 200: s.pageOf(s.UpgradeRun) },
  },
  'plans-create': { params: s.TenantParams, body: s.CreatePlanBody, responses: { 200: s.Plan } },
  'deployments-create': {
    params: s.TenantParams,
    body: s.CreateDeploymentBody,
    responses: { 202: s.Deployment },
  },
  'deployments-list': {
    params: s.TenantParams,
    query: s.DeploymentsQuery,
    responses: { 200: s.pageOf(s.Deployment) },
  },
  'deployments-get': { params: s.DeploymentParams, responses: { 200: s.Deployment } },
  'deployments-approve': {
    params: s.DeploymentParams,
    body: s.DecisionBody,
    responses: { 200: s.Deployment },
  },
  'deployments-reject': {
    params: s.DeploymentParams,
    body: s.DecisionBody,
    responses: { 200: s.Deployment },
  },
  'installations-list': {
    params: s.TenantParams,
    query: s.ListQuery,
    responses: { 200: s.pageOf(s.Installation) },
  },
  'installation-revisions-list': {
    params: s.InstallationParams,
    query: s.ListQuery,
    responses: { 200: s.pageOf(s.Revision) },
  },
  'installation-hold-delete': { params: s.InstallationParams, responses: { 204: null } },
  'sweeps-run': { body: s.SweepBody, responses: { 200: s.SweepRun, 202: s.SweepRun } },
  'rollout-halt-delete': { params: s.RolloutParams, responses: { 200: s.Rollout } },
  'marketplace-dify-download': {
    auth: false,
    params: m.MarketplaceVersionParams,
    responses: { 200: null, 302: null },
  },
  'marketplace-dify-download-by-id': {
    auth: false,
    params: m.MarketplaceParams,
    query: m.MarketplaceDownloadByIdQuery,
    responses: { 200: null, 302: null },
  },
  'marketplace-dify-batch': {
    auth: false,
    params: m.MarketplaceParams,
    body: m.MarketplaceBatchBody,
    responses: { 200: m.MarketplaceBatchAnswer },
  },
  'marketplace-dify-manifest': {
    auth: false,
    params: m.MarketplaceParams,
    responses: { 200: m.MarketplaceSnapshotAnswer },
  },
  'marketplace-dify-install-count': {
    auth: false,
    params: m.MarketplaceParams,
    body: m.MarketplaceInstallCountBody,
    responses: { 200: m.MarketplaceInstallCountAnswer },
  },
  'marketplace-dify-icon': { auth: false, params: m.MarketplacePluginParams, responses: { 200: null } },
  'marketplace-tokens-create': {
    body: m.CreateMarketplaceTokenBody,
    responses: { 201: m.IssuedMarketplaceToken },
  },
  'marketplace-tokens-list': {
    query: m.MarketplaceTokensQuery,
    responses: { 200: s.pageOf(m.MarketplaceTokenRecord) },
  },
  'marketplace-tokens-revoke': { params: m.MarketplaceTokenParams, responses: { 204: null } },
  'plugin-deprecation-put': {
    params: m.DeprecationParams,
    body: m.DeprecationBody,
    responses: { 200: m.Deprecation },
  },
  'plugin-deprecation-delete': { params: m.DeprecationParams, responses: { 204: null } },
  'me-get': { responses: { 200: s.Me } },
  'tenants-list': { query: s.ListQuery, responses: { 200: s.pageOf(s.Tenant) } },
  'keys-list': { params: s.TenantParams, query: s.ListQuery, responses: { 200: s.pageOf(s.KeySummary) } },
  'signers-delete': { params: s.SignerParams, responses: { 204: null } },
  'package-readme-get': { params: s.PackageParams, responses: { 200: s.PackageReadme } },
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

function parameters(schema: z.ZodObject | undefined, location: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const json = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

const PROBLEM_RESPONSE = {
  description: 'RFC 9457 problem',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

export function buildOpenApiDocument(serverUrl?: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const operation = OPERATIONS[route.handler];
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(operation.responses)) {
      responses[status] =
        schema === null
          ? {
              description:
                status === '302'
                  ? 'Redirect to the package bytes'
                  : status === '200'
                    ? 'Bytes'
                    : 'No content',
            }
          : { description: 'OK', content: { 'application/json': { schema: jsonSchema(schema, 'output') } } };
    }
    responses.default = PROBLEM_RESPONSE;
    const entry: Record<string, unknown> = {
      operationId:
        route.handler.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase()) +
        (route.method === 'HEAD' ? 'Head' : ''),
      summary: route.summary,
      parameters: [...parameters(operation.params, 'path'), ...parameters(operation.query, 'query')],
      responses,
    };
    if (operation.auth === false) entry.security = [];
    if (operation.body !== undefined) {
      entry.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(operation.body, 'input') } },
      };
    }
    if (operation.rawBody) {
      entry.requestBody = {
        required: true,
        content: {
          'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/zip' } },
        },
      };
    }
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = entry;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'pluginops',
      version: '1.0.0',
      description: `Plugin control plane. Problem types: ${Object.keys(PROBLEM_CATALOG)
        .map((slug) => `urn:pluginops:problem:${slug}`)
        .join(', ')}.`,
    },
    servers: [{ url: serverUrl ?? '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'po_… API key' } },
      schemas: { Problem: jsonSchema(s.Problem, 'output') },
    },
    paths,
  };
}
