import type { ImageView, RawFinding } from '../../analyzer.js';
import type { SecretMatcher } from './matcher.js';

/** Secrets in the image config: Env, Labels, Entrypoint and Cmd, and each build history step. */
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
  for (const place of places) {
    for (const m of matcher.scan(place.text)) {
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
  }
}
