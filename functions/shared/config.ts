/** The runtime configuration now lives in `#config/runtime-config.ts`; kept so older imports resolve. */
export {
  getConfig,
  type RuntimeConfig,
  readRuntimeConfig,
  resetConfigCache,
} from '#config/runtime-config.ts';
