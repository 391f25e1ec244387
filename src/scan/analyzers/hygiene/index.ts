import type { Analyzer, FindingSink, LayerRun, RawFinding } from '../../analyzer.js';

/** Package manager caches and indexes that a tidy image does not ship (CIS Docker Benchmark 4.x). */
const CACHES: ReadonlyArray<{ name: string; prefix: string; ignore?: RegExp }> = [
  { name: 'apt archives', prefix: '/var/cache/apt/archives/', ignore: /\/(lock|partial)$/ },
  { name: 'apt lists', prefix: '/var/lib/apt/lists/', ignore: /\/(lock|partial|auxfiles)$/ },
  { name: 'apt package cache', prefix: '/var/cache/apt/', ignore: /^\/var\/cache\/apt\/archives(\/|$)/ },
  { name: 'apk cache', prefix: '/var/cache/apk/' },
  { name: 'yum/dnf cache', prefix: '/var/cache/dnf/' },
  { name: 'yum/dnf cache', prefix: '/var/cache/yum/' },
  { name: 'pip cache', prefix: '/root/.cache/pip/' },
  { name: 'npm cache', prefix: '/root/.npm/_cacache/' },
];

/**
 * Image hygiene items of the CIS Docker Benchmark's image section that can be seen in an image:
 * no HEALTHCHECK (4.6), ADD of remote URLs (4.9), package caches left in layers, sudo installed,
 * port 22 exposed. Informational by default.
 */
export const hygieneAnalyzer: Analyzer = {
  id: 'hygiene',
  version: 1,
  description: 'CIS Docker Benchmark image hygiene',
  layer(): LayerRun {
    return { wants: () => undefined, analyzeEntry() {}, facts: () => null };
  },
  conclude(_context, { image }, sink: FindingSink) {
    const info = (rule: string, message: string, extra: Partial<RawFinding> = {}): void =>
      sink.report({ check: 'hygiene', rule, severity: 'info', blocking: false, message, ...extra });
    const config = image.config.config;
    const test = config?.Healthcheck?.Test;
    if (!test || test.length === 0 || test[0] === 'NONE') info('no-healthcheck', 'the image defines no HEALTHCHECK');
    let layer = 0;
    for (const h of image.config.history ?? []) {
      const layerIndex = h.empty_layer ? undefined : layer++;
      if (h.created_by && /(^|\s|#\(nop\)\s*)ADD\s+(--\S+\s+)*(https?|ftp):\/\//i.test(h.created_by)) {
        info('add-remote-url', 'a build step ADDs a remote URL; fetch and verify it explicitly, or COPY', layerIndex !== undefined ? { layerIndex } : {});
      }
    }
    const counts = new Map<string, { files: number; bytes: number; layerIndex: number }>();
    let sudo = false;
    for (const { path: real, entry } of image.fs.entries()) {
      if (entry.type === 'file' && (real === '/usr/bin/sudo' || real === '/bin/sudo')) sudo = true;
      if (entry.type !== 'file') continue;
      const cache = CACHES.find((c) => real.startsWith(c.prefix) && !c.ignore?.test(real));
      if (!cache) continue;
      const c = counts.get(cache.name) ?? { files: 0, bytes: 0, layerIndex: entry.layerIndex };
      c.files++;
      c.bytes += entry.size;
      counts.set(cache.name, c);
    }
    for (const [name, c] of counts) {
      info('package-cache', `${name} left in the image: ${c.files} files, ${c.bytes} bytes`, { layerIndex: c.layerIndex });
    }
    if (sudo) info('sudo-installed', 'sudo is installed; containers should not need it');
    if (config?.ExposedPorts && Object.keys(config.ExposedPorts).some((p) => p === '22' || p.startsWith('22/'))) {
      info('ssh-port-exposed', 'the image exposes port 22 (SSH)');
    }
  },
};
