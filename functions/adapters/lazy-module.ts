/**
 * Loads a module on first use and keeps it. The AWS SDK clients cost a Lambda cold start ~15–85 ms
 * each to import (S3 the most); a function imports only DynamoDB eagerly and the rest when a
 * request first needs them (bench/bundles.ts measures the cold import). A failed load is not
 * kept: the next call tries again.
 */
export function lazyModule<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
