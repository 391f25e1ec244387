import type { Analyzer } from '../analyzer.js';
import { hygieneAnalyzer } from './hygiene/index.js';
import { packagesAnalyzer } from './packages/index.js';
import { privilegesAnalyzer } from './privileges/index.js';
import { rootUserAnalyzer } from './root-user/index.js';
import { secretsAnalyzer } from './secrets/index.js';

/** Every built-in analyzer. Adding a check means adding it here, never editing the engine. */
export const BUILTIN_ANALYZERS: readonly Analyzer[] = [secretsAnalyzer, privilegesAnalyzer, rootUserAnalyzer, packagesAnalyzer, hygieneAnalyzer];

/** Checks a set of analyzers before any runs: ids must be unique, versions positive integers. */
export function validateAnalyzers(analyzers: readonly Analyzer[]): readonly Analyzer[] {
  const seen = new Set<string>();
  for (const analyzer of analyzers) {
    if (!/^[a-z][a-z0-9-]*$/.test(analyzer.id)) throw new Error(`analyzer id "${analyzer.id}" is not lowercase-kebab`);
    if (seen.has(analyzer.id)) throw new Error(`two analyzers share the id "${analyzer.id}"`);
    if (!Number.isInteger(analyzer.version) || analyzer.version < 1) throw new Error(`analyzer ${analyzer.id} has an invalid version`);
    seen.add(analyzer.id);
  }
  return analyzers;
}
