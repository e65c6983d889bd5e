/** Catalog records as the API returns them (snake_case, Dify's convention). */
import type { PackageSource } from './policy.ts';

export type SourceRef = (
  | { type: 'package'; upload_id?: string; filename?: string; drop_key?: string }
  | { type: 'github'; repo: string; release: string; asset: string }
  | { type: 'marketplace'; unique_identifier: string; marketplace_url: string }
) & {
  /** Set on a package published from a `.difybndl`: the bundle's `author/name:version`. */
  bundle?: string;
};

export interface PackageSignature {
  status: 'verified' | 'unsigned' | 'invalid';
  key_id?: string;
  signed_at?: string;
  authorized_category?: string;
}

/** Who catalogued a build (docs/security.md): decides which tenants see and trust it. */
export interface Publisher {
  kind: 'operator' | 'tenant';
  /** The publishing tenant; `null` for the operator. */
  tenant_id: string | null;
  /** The API key id; `null` for the drop folder. */
  key_id: string | null;
  /** How it arrived: the source type, or `drop` for the S3 drop folder. */
  source: SourceRef['type'] | 'drop';
  published_at: string;
}

/** The operator made a tenant's build stage-wide. */
export interface Promotion {
  key_id: string;
  promoted_at: string;
}

/** The copy a genuine (verified) build replaced: same files, other bytes. */
export interface SupersededBuild {
  sha256: string;
  signature_status: PackageSignature['status'];
  publisher: Publisher | null;
  superseded_at: string;
}

export interface PackageRecord {
  unique_identifier: string;
  plugin_id: string;
  version: string;
  checksum: string;
  sha256: string;
  size: number;
  manifest: Record<string, unknown>;
  signature: PackageSignature;
  source: SourceRef;
  dependencies: unknown[];
  storage_key: string;
  published_at: string;
  /** Absent on records catalogued before publishers were recorded (treated as stage-wide). */
  publisher?: Publisher;
  promoted?: Promotion;
  superseded?: SupersededBuild[];
  /** Other tenants that published these exact bytes themselves (each may use the build). */
  also_published_by?: string[];
}

export interface PluginSummary {
  plugin_id: string;
  latest_version: string | null;
  versions_count: number;
}

export function sourceKind(source: SourceRef): PackageSource {
  return source.type;
}

/** S3 key of the immutable, content-addressed package bytes. */
export function packageStorageKey(sha256: string): string {
  return `packages/sha256/${sha256}.difypkg`;
}
