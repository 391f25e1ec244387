import { createHash } from 'node:crypto';
import type { CompiledSecretRule } from '../../../policy/load-rules.js';

export interface SecretMatch {
  readonly rule: CompiledSecretRule;
  /** Offset of the secret in the text. */
  readonly index: number;
  readonly length: number;
  readonly fingerprint: string;
}

/** Shannon entropy in bits per character. */
export function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * A fingerprint that identifies a secret without revealing it: sha256 over a fixed domain tag, the
 * rule and the value. Stable across runs and images, so exceptions and dashboards can name it.
 */
export function fingerprint(ruleId: string, secret: string): string {
  return `sha256:${createHash('sha256').update(`imggate/secret/v1\0${ruleId}\0`).update(secret, 'latin1').digest('hex')}`;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * Runs secret rules over text: one pass of a combined keyword expression picks the rules worth
 * trying, then only those rules' patterns run. Allowed example values, allow patterns and the
 * entropy floor are applied to the secret itself.
 */
export class SecretMatcher {
  readonly #rules: readonly CompiledSecretRule[];
  readonly #byKeyword = new Map<string, CompiledSecretRule[]>();
  /** For each keyword, the rules of every keyword it contains: `_password` also stands for `password`. */
  readonly #implied = new Map<string, CompiledSecretRule[]>();

  constructor(rules: readonly CompiledSecretRule[]) {
    this.#rules = rules;
    for (const rule of rules) {
      for (const keyword of rule.keywords) {
        const k = keyword.toLowerCase();
        this.#byKeyword.set(k, [...(this.#byKeyword.get(k) ?? []), rule]);
      }
    }
    const keys = [...this.#byKeyword.keys()];
    for (const k of keys) this.#implied.set(k, keys.filter((other) => k.includes(other)).flatMap((other) => this.#byKeyword.get(other) ?? []));
  }

  get rules(): readonly CompiledSecretRule[] {
    return this.#rules;
  }

  /** The rules whose keywords occur in `text`. */
  candidates(text: string): Set<CompiledSecretRule> {
    const found = new Set<CompiledSecretRule>();
    if (this.#byKeyword.size === 0) return found;
    // Lowercasing keeps offsets for the latin1 strings scanned here, and a case-sensitive search is faster.
    const lower = text.toLowerCase();
    const left = new Set(this.#byKeyword.keys());
    let regex: RegExp = this.#regexFor(left);
    let from = 0;
    for (;;) {
      regex.lastIndex = from;
      const m = regex.exec(lower);
      if (!m) break;
      const k = m[0];
      for (const rule of this.#implied.get(k) ?? []) found.add(rule);
      for (const other of left) if (k.includes(other)) left.delete(other);
      // A keyword found once need not be found again: search on for the others only, one
      // character on so that a keyword overlapping this one is not skipped.
      from = m.index + 1;
      if (left.size === 0) break;
      regex = this.#regexFor(left);
    }
    return found;
  }

  readonly #regexCache = new Map<string, RegExp>();

  #regexFor(keywords: ReadonlySet<string>): RegExp {
    const sorted = [...keywords].sort((a, b) => b.length - a.length || a.localeCompare(b));
    const key = sorted.join('\0');
    let regex = this.#regexCache.get(key);
    if (!regex) {
      if (this.#regexCache.size > 512) this.#regexCache.clear();
      regex = new RegExp(sorted.map(escape).join('|'), 'g');
      this.#regexCache.set(key, regex);
    }
    return regex;
  }

  scan(text: string): SecretMatch[] {
    const out: SecretMatch[] = [];
    for (const rule of this.candidates(text)) {
      rule.regex.lastIndex = 0;
      for (const m of text.matchAll(rule.regex)) {
        const secret = m.groups?.['secret'] ?? m[1] ?? m[0];
        if (!secret) continue;
        if (rule.allow?.includes(secret)) continue;
        if (rule.allowRegexes.some((r) => r.test(secret))) continue;
        if (rule.entropy !== undefined && entropy(secret) < rule.entropy) continue;
        const index = (m.index ?? 0) + Math.max(0, m[0].indexOf(secret));
        out.push({ rule, index, length: secret.length, fingerprint: fingerprint(rule.id, secret) });
      }
    }
    return out;
  }

  /** `text` with every secret replaced by `[REDACTED:rule-id]`: for build history shown in reports. */
  redact(text: string): string {
    const matches = this.scan(text).sort((a, b) => b.index - a.index);
    let out = text;
    let limit = Infinity;
    for (const m of matches) {
      if (m.index + m.length > limit) continue;
      out = `${out.slice(0, m.index)}[REDACTED:${m.rule.id}]${out.slice(m.index + m.length)}`;
      limit = m.index;
    }
    return out;
  }
}

/** 1-based line of an offset. */
export function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
