export { defaultConfig, defaultHostname, defaultNodeId } from './defaults.js';
export { ENV_SETTINGS, loadConfig, type ConfigOptions, type LoadConfigInput } from './load.js';
export type * from './types.js';
export { ConfigError, checkLayer, validateConfig } from './validate.js';
