import type { ImageView, RawFinding } from '../../analyzer.js';
import type { SecretMatcher } from './matcher.js';

/**
 * Secrets in the image config: Env, Labels, Entrypoint and Cmd, each build history step by name, then
 * every other string the document holds, keys included (a Healthcheck's curl with a password, OnBuild,
 * a history comment, docker's container_config, fields no spec names): the config ships whole. A secret
 * found at a named place is not reported again from the other fields (docker's container_config copies Env).
 */
export function scanConfig(matcher: SecretMatcher, image: ImageView, report: (finding: RawFinding) => void): void {
  const config = image.config.config;
  const places: Array<{ where: string; text: string; layerIndex?: number }> = [];
  for (const env of config?.Env ?? []) places.push({ where: `ENV ${env.split('=')[0] ?? ''}`, text: env });
  for (const [key, value] of Object.entries(config?.Labels ?? {})) places.push({ where: `LABEL ${key}`, text: `${key}=${value}` });
  for (const field of ['Entrypoint', 'Cmd'] as const) {
    const argv = config?.[field];
    if (argv?.length) places.push({ where: field === 'Cmd' ? 'CMD' : 'ENTRYPOINT', text: argv.join(' ') });
  }
  let layer = 0;
  for (const [i, h] of (image.config.history ?? []).entries()) {
    const layerIndex = h.empty_layer ? undefined : layer++;
    if (h.created_by) places.push({ where: `build history step ${i + 1}`, text: h.created_by, ...(layerIndex !== undefined && layerIndex < image.layers.length ? { layerIndex } : {}) });
  }
  const named = places.length;
  for (const [path, text] of strings(image.config)) {
    if (!NAMED.some((re) => re.test(path))) places.push({ where: `field ${path}`, text });
  }
  const found = new Set<string>();
  places.forEach((place, i) => {
    for (const m of matcher.scan(place.text)) {
      if (i >= named && found.has(`${m.rule.id}|${m.fingerprint}`)) continue;
      if (i < named) found.add(`${m.rule.id}|${m.fingerprint}`);
      report({
        check: 'secret',
        rule: m.rule.id,
        severity: m.rule.severity,
        blocking: true,
        message: `${m.rule.title} in the image config's ${place.where}`,
        ...(place.layerIndex !== undefined ? { layerIndex: place.layerIndex } : {}),
        fingerprint: m.fingerprint,
      });
    }
  });
}

/**
 * Secrets in another JSON document that ships with the image, its manifest or index: every string and
 * key (annotations such as a source URL with a token in it, a layer's `urls`), each secret once.
 */
export function scanDocument(matcher: SecretMatcher, document: unknown, name: string, report: (finding: RawFinding) => void): void {
  const found = new Set<string>();
  for (const [path, text] of strings(document)) {
    for (const m of matcher.scan(text)) {
      if (found.has(`${m.rule.id}|${m.fingerprint}`)) continue;
      found.add(`${m.rule.id}|${m.fingerprint}`);
      report({ check: 'secret', rule: m.rule.id, severity: m.rule.severity, blocking: true, message: `${m.rule.title} in the ${name}'s field ${path}`, fingerprint: m.fingerprint });
    }
  }
}

/** The places scanned by name above, as `strings` spells their paths. */
const NAMED = [/^config\.Env\[\d+\]$/, /^config\.Labels[.[{]/, /^config\.(?:Entrypoint|Cmd)\[\d+\]$/, /^history\[\d+\]\.created_by$/];

/**
 * Every string in a JSON value with its path (`config.Healthcheck.Test[1]`; a key that is not a plain
 * name as `["key"]`), and every key, as `path{"key"}`; iterative, so no nesting depth can overflow the
 * stack.
 */
function* strings(value: unknown): Generator<[path: string, text: string]> {
  const stack: Array<[string, unknown]> = [['', value]];
  while (stack.length) {
    const [path, v] = stack.pop() as [string, unknown];
    if (typeof v === 'string') yield [path, v];
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push([`${path}[${i}]`, v[i]]);
    else if (v !== null && typeof v === 'object') {
      for (const [key, child] of Object.entries(v).reverse()) {
        const at = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path ? `${path}.` : ''}${key}` : `${path}[${JSON.stringify(key)}]`;
        yield [`${path}{${JSON.stringify(key)}}`, key];
        stack.push([at, child]);
      }
    }
  }
}
