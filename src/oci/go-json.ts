import { isUtf8 } from 'node:buffer';
import type * as z from '../zod.js';
import { ImggateError } from '../errors.js';

/**
 * containerd, Docker, skopeo and umoci decode manifests, indexes and configs with Go's encoding/json,
 * which matches object keys to struct fields case-insensitively (with Unicode folds: `ſ` is `s`,
 * `K` (Kelvin) is `k`) and lets the last of several matching keys win. JSON.parse keeps `layers` and
 * `Layers` as two keys, so a document with both would show the gate one image and the runtime
 * another. This reader decides every struct field as Go does, and refuses what Go and JavaScript
 * could read differently: two keys that are the same field to Go (or the same map key), bytes that
 * are not UTF-8, escaped lone surrogates, nesting deeper than Go's decoder allows.
 */
export function parseGoJson(bytes: Uint8Array, schema: z.ZodMiniType, what: string): unknown {
  if (!isUtf8(bytes)) throw invalid(what, 'is not valid UTF-8 (Go and JavaScript would read it differently)');
  const parser = new Parser(Buffer.from(bytes).toString('utf8'), what);
  const value = parser.document();
  return canonical(value, schema, what, '');
}

const MAX_DEPTH = 10_000;

function invalid(what: string, problem: string): ImggateError {
  return new ImggateError('MANIFEST_INVALID', `${what} ${problem}`);
}

/** A JSON object with its keys in document order, duplicates kept. */
class Pairs {
  constructor(readonly pairs: Array<[string, Json]>) {}
}
type Json = null | boolean | number | string | Json[] | Pairs;

class Parser {
  #i = 0;
  readonly #s: string;
  readonly #what: string;

  constructor(text: string, what: string) {
    this.#s = text;
    this.#what = what;
  }

  document(): Json {
    const v = this.#value(0);
    this.#ws();
    if (this.#i !== this.#s.length) this.#fail('has data after the JSON value');
    return v;
  }

  #fail(problem: string): never {
    throw invalid(this.#what, `is not valid JSON: ${problem} at offset ${this.#i}`);
  }

  #ws(): void {
    const s = this.#s;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.#i++;
      else break;
    }
  }

  #value(depth: number): Json {
    if (depth > MAX_DEPTH) this.#fail(`nesting deeper than ${MAX_DEPTH}`);
    this.#ws();
    const c = this.#s[this.#i];
    if (c === '{') return this.#object(depth);
    if (c === '[') return this.#array(depth);
    if (c === '"') return this.#string();
    if (c === 't') return this.#literal('true', true);
    if (c === 'f') return this.#literal('false', false);
    if (c === 'n') return this.#literal('null', null);
    return this.#number();
  }

  #literal<T>(word: string, value: T): T {
    if (this.#s.startsWith(word, this.#i)) {
      this.#i += word.length;
      return value;
    }
    return this.#fail('unexpected character');
  }

  #number(): number {
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = this.#i;
    const match = m.exec(this.#s);
    if (!match || match[0] === '' || match[0] === '-') this.#fail('unexpected character');
    this.#i += match[0].length;
    return Number(match[0]);
  }

  #string(): string {
    const start = this.#i;
    const s = this.#s;
    let i = start + 1;
    let simple = true;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        simple = false;
        i++;
      } else if (c < 0x20) this.#fail('a control character in a string');
    }
    if (i >= s.length) this.#fail('an unterminated string');
    this.#i = i + 1;
    if (simple) return s.slice(start + 1, i);
    let text: string;
    try {
      text = JSON.parse(s.slice(start, i + 1)) as string;
    } catch {
      return this.#fail('a bad escape in a string');
    }
    // Go turns an escaped lone surrogate into U+FFFD; JavaScript keeps it. Neither reading is safe to assume.
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)) this.#fail('an escaped lone surrogate');
    return text;
  }

  #array(depth: number): Json[] {
    this.#i++;
    const out: Json[] = [];
    this.#ws();
    if (this.#s[this.#i] === ']') {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.#value(depth + 1));
      this.#ws();
      const c = this.#s[this.#i++];
      if (c === ']') return out;
      if (c !== ',') this.#fail('expected , or ]');
    }
  }

  #object(depth: number): Pairs {
    this.#i++;
    const pairs: Array<[string, Json]> = [];
    this.#ws();
    if (this.#s[this.#i] === '}') {
      this.#i++;
      return new Pairs(pairs);
    }
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] !== '"') this.#fail('expected a key');
      const key = this.#string();
      this.#ws();
      if (this.#s[this.#i++] !== ':') this.#fail('expected :');
      pairs.push([key, this.#value(depth + 1)]);
      this.#ws();
      const c = this.#s[this.#i++];
      if (c === '}') return new Pairs(pairs);
      if (c !== ',') this.#fail('expected , or }');
    }
  }
}

/**
 * The key Go's encoding/json would match a struct field by: ASCII letters case-folded, and the four
 * non-ASCII letters that fold to ASCII ones under Go's rules (old and new: `ſ`→s, Kelvin `K`→k,
 * dotless `ı`→i, dotted `İ`→i). Field names here are all ASCII, so nothing else can reach one.
 */
export function goFold(key: string): string {
  return key.replace(/[\u017f\u212a\u0131\u0130]/g, (c) => ({ '\u017f': 's', '\u212a': 'k', '\u0131': 'i', '\u0130': 'i' })[c] ?? c).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodMiniType>;
  readonly element?: z.ZodMiniType;
  readonly innerType?: z.ZodMiniType;
  readonly valueType?: z.ZodMiniType;
  readonly catchall?: z.ZodMiniType;
}

const defOf = (schema: z.ZodMiniType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Unwraps optional/nullable/default wrappers to the schema that shapes the value. */
function core(schema: z.ZodMiniType | undefined): Def | undefined {
  let s = schema;
  for (let i = 0; s && i < 16; i++) {
    const def = defOf(s);
    if ((def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'nonoptional' || def.type === 'readonly') && def.innerType) {
      s = def.innerType;
      continue;
    }
    return def;
  }
  return undefined;
}

/** Turns the parsed document into plain values, with struct keys renamed to the field Go would fill. */
function canonical(value: Json, schema: z.ZodMiniType | undefined, what: string, path: string): unknown {
  const def = core(schema);
  if (Array.isArray(value)) return value.map((v, i) => canonical(v, def?.type === 'array' ? def.element : undefined, what, `${path}[${i}]`));
  if (!(value instanceof Pairs)) return value;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (def?.type === 'object' && def.shape) {
    const fields = new Map(Object.keys(def.shape).map((name) => [goFold(name), name]));
    const seen = new Map<string, string>();
    for (const [key, v] of value.pairs) {
      const folded = goFold(key);
      const field = fields.get(folded);
      const previous = seen.get(folded);
      if (previous !== undefined) {
        throw invalid(what, `has keys ${JSON.stringify(previous)} and ${JSON.stringify(key)} at ${path || '(root)'}, which Go's encoding/json reads as one field; refusing a document the runtime could read differently`);
      }
      seen.set(folded, key);
      if (field !== undefined && /[\u0130\u0131]/.test(key)) {
        // Go 1.21 folds dotless/dotted i to i; earlier releases do not: runtimes built with each disagree.
        throw invalid(what, `has the key ${JSON.stringify(key)} at ${path || '(root)'}, which Go releases read differently`);
      }
      const name = field ?? key;
      out[name] = canonical(v, field ? def.shape[field] : def.catchall, what, `${path}.${name}`);
    }
  } else {
    // A map (labels, annotations) or a value no schema describes: keys are exact, but never twice.
    const seen = new Set<string>();
    for (const [key, v] of value.pairs) {
      if (seen.has(key)) throw invalid(what, `has the key ${JSON.stringify(key)} twice at ${path || '(root)'}`);
      seen.add(key);
      out[key] = canonical(v, def?.type === 'record' ? def.valueType : undefined, what, `${path}.${key}`);
    }
  }
  return { ...out };
}
