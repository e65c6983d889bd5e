/**
 * The console construct: a private, encrypted, TLS-only bucket behind CloudFront with origin access
 * control, `/v1/*` routed uncached to the stage's HTTP API, security headers on every answer, the
 * package bucket open to presigned PUTs from the console origin only, and no open cdk-nag finding.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SynthesizedStage, synthStages } from './synth.ts';

let dev: SynthesizedStage;
const built = mkdtempSync(join(tmpdir(), 'pluginops-console-'));

beforeAll(() => {
  writeFileSync(join(built, 'index.html'), '<!doctype html><title>console</title>');
  ({ dev } = synthStages(['dev'], { consoleDir: built }, { bundle: false }));
});

afterAll(() => rmSync(built, { recursive: true, force: true }));

function only<T>(resources: Record<string, T>): T {
  const values = Object.values(resources);
  expect(values).toHaveLength(1);
  return values[0] as T;
}

describe('console construct', () => {
  it('serves from a private, encrypted bucket through origin access control', () => {
    const distribution = only(dev.template.findResources('AWS::CloudFront::Distribution')) as any;
    const config = distribution.Properties.DistributionConfig;
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    const s3Origin = config.Origins.find((origin: any) => origin.S3OriginConfig !== undefined);
    expect(s3Origin.OriginAccessControlId).toBeDefined();
    expect(config.Logging.Bucket).toBeDefined();
    dev.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    const [bucketId] = Object.keys(
      dev.template.findResources('AWS::S3::Bucket', {
        Properties: { LoggingConfiguration: { LogFilePrefix: 'console/' } },
      }),
    );
    expect(bucketId).toBeDefined();
    dev.template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'console/' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: Match.objectLike({}),
    });
    // TLS-only bucket policy, and CloudFront (not the world) may read it.
    const policies = dev.template.findResources('AWS::S3::BucketPolicy', {
      Properties: { Bucket: { Ref: bucketId } },
    });
    const statements = (only(policies) as any).Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'cloudfront.amazonaws.com' } }),
    );
  });

  it('routes /v1/* to the HTTP API, uncached, with every method and without the Host header', () => {
    const config = (only(dev.template.findResources('AWS::CloudFront::Distribution')) as any).Properties
      .DistributionConfig;
    const api = config.CacheBehaviors.find((behavior: any) => behavior.PathPattern === '/v1/*');
    expect(api.AllowedMethods).toEqual(
      expect.arrayContaining(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']),
    );
    expect(api.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // Managed-CachingDisabled
    expect(api.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac'); // AllViewerExceptHostHeader
    const apiOrigin = config.Origins.find((origin: any) => origin.Id === api.TargetOriginId);
    expect(apiOrigin.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    expect(JSON.stringify(apiOrigin.DomainName)).toContain('ApiEndpoint');
  });

  it('adds security headers: CSP without inline script or remote images, HSTS, DENY framing, nosniff', () => {
    const policy = only(dev.template.findResources('AWS::CloudFront::ResponseHeadersPolicy')) as any;
    const security = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(security.FrameOptions.FrameOption).toBe('DENY');
    expect(security.ContentTypeOptions.Override).toBe(true);
    expect(security.StrictTransportSecurity.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(31_536_000);
    expect(security.ReferrerPolicy.ReferrerPolicy).toBe('no-referrer');
  });

  it('lets only the console origin PUT presigned uploads to the package bucket', () => {
    const buckets = dev.template.findResources('AWS::S3::Bucket', {
      Properties: { CorsConfiguration: Match.anyValue() },
    });
    const rules = (only(buckets) as any).Properties.CorsConfiguration.CorsRules;
    expect(rules).toHaveLength(1);
    expect(rules[0].AllowedMethods).toEqual(['PUT']);
    expect(JSON.stringify(rules[0].AllowedOrigins)).toContain('DomainName');
    expect(JSON.stringify(rules[0].AllowedOrigins)).not.toContain('"*"');
  });

  it('uploads the built console and outputs its URL', () => {
    dev.template.resourceCountIs('Custom::CDKBucketDeployment', 1);
    const outputs = dev.template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs)).toContain('ConsoleUrl');
  });

  it('has no open cdk-nag finding', () => {
    const report = new AwsSolutionsChecks().validateScope(dev.stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources[0]?.constructPath}`)).toEqual(
      [],
    );
  });
});
