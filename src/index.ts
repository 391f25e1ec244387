/** imggate as a library: `check(reference, options)` returns the report the CLI prints. */
export { check } from './check.js';
export type { CheckOptions, Limits } from './options.js';
export { DEFAULT_LIMITS } from './options.js';
export { loadConfig, parseConfig } from './config/load.js';
export type { ConfigFile } from './config/schema.js';
export type { Finding, Report, Severity, Verdict, ImageSection, LayerSummary } from './report/types.js';
export type { Analyzer, AnalyzerRun, EntryInfo, ImageView, RawFinding } from './scan/analyzer.js';
export { BUILTIN_ANALYZERS } from './scan/analyzers/index.js';
export { ImggateError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { parseReference, formatReference } from './registry/reference.js';
export { RegistryClient } from './registry/client.js';
