/**
 * The web console of one stage: the built single-page app (console/dist) in a private bucket
 * behind CloudFront (origin access control), with `/v1/*` routed to the stage's HTTP API so the
 * console and the API share one origin (no CORS for the API, the key never leaves it). Security
 * headers mirror the local gateway's (local/console-assets.ts).
 */
import { existsSync } from 'node:fs';
import { Annotations, Aws, Duration, Fn } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { StageConfig } from '../stages.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { removalPolicyOf } from './pluginops-function.ts';

export interface ConsoleProps {
  stage: StageConfig;
  httpApi: apigwv2.IHttpApi;
  /** The package bucket: browsers PUT presigned uploads to it from the console's origin. */
  packageBucket: s3.IBucket;
  /** Server-access-log destination shared with the package bucket. */
  accessLogBucket: s3.IBucket;
  /** The built console (console/dist); when missing, the bucket is created empty with a warning. */
  assetsDir?: string;
}

/**
 * The Content-Security-Policy of the console: same-origin scripts and styles, images only from
 * the origin or inline data (plugin READMEs never load remote images), XHR to the API (same
 * origin) and to S3 for presigned uploads.
 */
export function consoleContentSecurityPolicy(region: string, urlSuffix: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' https://*.s3.${region}.${urlSuffix} https://*.s3.${urlSuffix}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export class Console extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleProps) {
    super(scope, id);
    const { stage } = props;
    const removalPolicy = removalPolicyOf(stage);

    this.bucket = new s3.Bucket(this, 'Assets', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'console/',
      removalPolicy,
      autoDeleteObjects: !stage.retainData,
    });

    // CloudFront standard logs need ACLs on their bucket (OBJECT_WRITER), unlike everything else.
    const cdnLogs = new s3.Bucket(this, 'CdnLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ id: 'expire-cdn-logs', expiration: Duration.days(stage.logRetentionDays) }],
      removalPolicy,
      autoDeleteObjects: !stage.retainData,
    });
    suppress(cdnLogs, [{ id: 'AwsSolutions-S1', reason: NAG_REASONS.accessLogBucket }]);

    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `pluginops ${stage.name} console security headers`,
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: consoleContentSecurityPolicy(Aws.REGION, Aws.URL_SUFFIX),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          preload: false,
          override: true,
        },
      },
      customHeadersBehavior: {
        customHeaders: [
          {
            header: 'Permissions-Policy',
            value: 'camera=(), microphone=(), geolocation=(), payment=()',
            override: true,
          },
          { header: 'Cross-Origin-Opener-Policy', value: 'same-origin', override: true },
        ],
      },
    });

    const apiDomain = Fn.select(2, Fn.split('/', props.httpApi.apiEndpoint));
    const apiOrigin = new origins.HttpOrigin(apiDomain, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `pluginops ${stage.name} console`,
      defaultRootObject: 'index.html',
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: cdnLogs,
      logFilePrefix: 'console/',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      },
      // The API: never cached, every method, all viewer headers but Host (API Gateway needs its
      // own) — /v1/* and the Dify marketplace protocol under /marketplace/*.
      additionalBehaviors: Object.fromEntries(
        ['/v1/*', '/marketplace/*'].map((pattern) => [
          pattern,
          {
            origin: apiOrigin,
            viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
            cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
            originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          },
        ]),
      ),
    });
    this.url = `https://${this.distribution.distributionDomainName}`;
    suppress(this.distribution, [
      { id: 'AwsSolutions-CFR1', reason: NAG_REASONS.consoleGeo },
      { id: 'AwsSolutions-CFR2', reason: NAG_REASONS.consoleWaf },
      { id: 'AwsSolutions-CFR4', reason: NAG_REASONS.consoleCertificate },
    ]);
    // The TLS floor is set on purpose (same reason), so CDK's warning that it has no effect on the
    // default certificate is acknowledged rather than printed for every stage on every synth.
    Annotations.of(this.distribution).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront:minimumProtocolVersionWithoutCertificate',
      NAG_REASONS.consoleCertificate,
    );

    // Presigned uploads go from the browser straight to the package bucket.
    const packageBucket = props.packageBucket as s3.Bucket;
    if (typeof packageBucket.addCorsRule === 'function') {
      packageBucket.addCorsRule({
        allowedOrigins: [this.url],
        allowedMethods: [s3.HttpMethods.PUT],
        allowedHeaders: ['content-type', 'x-amz-*'],
        maxAge: 3000,
      });
    }

    if (props.assetsDir !== undefined && existsSync(`${props.assetsDir}/index.html`)) {
      // Its singleton upload function is acknowledged with the other CDK providers (pluginops-stack.ts).
      new s3deploy.BucketDeployment(this, 'Deploy', {
        sources: [s3deploy.Source.asset(props.assetsDir, { exclude: ['.inputs-sha256'] })],
        destinationBucket: this.bucket,
        distribution: this.distribution,
        distributionPaths: ['/index.html'],
        prune: true,
        memoryLimit: 256,
      });
    } else {
      Annotations.of(this).addWarningV2(
        'pluginops:console-not-built',
        'console/dist is missing: run `npx tsx local/console-build.ts` before deploying, or the console bucket stays empty.',
      );
    }
  }
}
