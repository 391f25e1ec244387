import { ImggateError, type LimitErrorCode } from '../errors.js';
import type { ImageConfig } from './schemas.js';

/** Caps on how many of each thing one image may hold: every count an attacker chooses has one. */
export interface CountLimits {
  /** Layers in one manifest (config `limits.maxLayers`). */
  readonly maxLayers: number;
  /** Platform images checked with `--all-platforms` (config `limits.maxPlatforms`). */
  readonly maxPlatforms: number;
  /** Entries of a config's `history` (config `limits.maxHistory`). */
  readonly maxHistory: number;
  /** Entries of a config's `config.Env` (config `limits.maxEnv`). */
  readonly maxEnv: number;
  /** Entries of a config's `config.Labels` (config `limits.maxLabels`). */
  readonly maxLabels: number;
}

/**
 * Far above what real images hold (Docker refuses to build past 127 layers; multi-arch indexes name a
 * dozen platforms), far below what costs time or memory to walk.
 */
export const DEFAULT_COUNT_LIMITS: CountLimits = {
  maxLayers: 1000,
  maxPlatforms: 64,
  maxHistory: 10_000,
  maxEnv: 10_000,
  maxLabels: 10_000,
};

function over(what: string, count: number, noun: string, setting: keyof CountLimits, limit: number): ImggateError<LimitErrorCode> {
  return new ImggateError('LIMIT_EXCEEDED', `${what} has ${count} ${noun}, over the limit of ${limit} (limits.${setting})`);
}

/** Refuses a manifest with more layers than the limit. */
export function checkLayerCount(layers: number, limits: CountLimits, what: string): void {
  if (layers > limits.maxLayers) throw over(what, layers, 'layers', 'maxLayers', limits.maxLayers);
}

/** Refuses to check more platform images of an index than the limit, rather than check some. */
export function checkPlatformCount(platforms: number, limits: CountLimits, what: string): void {
  if (platforms > limits.maxPlatforms) throw over(what, platforms, 'platform images', 'maxPlatforms', limits.maxPlatforms);
}

/** Refuses a config whose history, Env or Labels hold more entries than their limits. */
export function checkConfigCounts(config: ImageConfig, limits: CountLimits, what: string): void {
  const history = config.history?.length ?? 0;
  if (history > limits.maxHistory) throw over(what, history, 'history entries', 'maxHistory', limits.maxHistory);
  const env = config.config?.Env?.length ?? 0;
  if (env > limits.maxEnv) throw over(what, env, 'Env entries', 'maxEnv', limits.maxEnv);
  const labels = config.config?.Labels ? Object.keys(config.config.Labels).length : 0;
  if (labels > limits.maxLabels) throw over(what, labels, 'Labels', 'maxLabels', limits.maxLabels);
}
