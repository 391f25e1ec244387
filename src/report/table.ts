import { forTerminal } from './terminal.js';
import type { Finding, Report } from './types.js';

function shortDigest(digest: string | undefined): string {
  return digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '';
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function renderFindings(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ['  no findings'];
  const lines: string[] = [];
  const byCheck = new Map<string, Finding[]>();
  for (const f of findings) byCheck.set(f.check, [...(byCheck.get(f.check) ?? []), f]);
  for (const [checkId, group] of byCheck) {
    const blocking = group.filter((f) => f.blocking).length;
    lines.push(`  ${checkId} (${group.length}${blocking ? `, ${blocking} blocking` : ''})`);
    for (const f of group) {
      lines.push(`    ${f.blocking ? 'BLOCK' : '     '} ${pad(f.severity, 8)} ${clip(f.message, 110)}`);
      const where: string[] = [];
      if (f.layer) where.push(`layer ${shortDigest(f.layer)}${f.createdBy ? ` (${clip(f.createdBy.replace(/\s+/g, ' '), 60)})` : ''}`);
      if (f.inFinalFilesystem === false) where.push('deleted by a later layer, still shipped');
      if (where.length) lines.push(`                   ${where.join('; ')}`);
    }
  }
  return lines;
}

/**
 * The human summary `imggate check` prints: what was checked, the verdict, findings grouped by check.
 * Every line goes through `forTerminal`: most of what it shows (messages, paths, platforms, reasons)
 * came from the image or its registry.
 */
export function renderTable(report: Report): string {
  return renderLines(report).map(forTerminal).join('\n');
}

function renderLines(report: Report): string[] {
  const lines: string[] = [];
  const verdict = report.verdict.toUpperCase();
  lines.push(`${verdict}  ${report.image.reference}`);
  if (report.image.digest) lines.push(`      digest   ${report.image.digest}`);
  if (report.image.platform) lines.push(`      platform ${report.image.platform}`);
  if (report.image.layers) {
    const bytes = report.image.layers.reduce((n, l) => n + l.size, 0);
    const entries = report.image.layers.reduce((n, l) => n + l.entries, 0);
    lines.push(`      layers   ${report.image.layers.length} (${formatBytes(bytes)} compressed, ${entries} entries)`);
  }
  if (report.error) lines.push(`      error    ${report.error.code}: ${report.error.message}`);
  if (report.trust) lines.push(`      trust    ${report.trust.level} (${report.trust.scope}): ${report.signatures.filter((x) => x.verified).length} of ${report.signatures.length} signature(s) verified`);
  for (const sig of report.signatures) {
    lines.push(`      ${sig.verified ? 'signed  ' : 'rejected'} ${sig.format}${sig.signer ? ` by ${sig.signer}` : ''} ${sig.uri ?? ''}${sig.verified ? '' : `: ${clip(sig.reason ?? '', 140)}`}`);
  }
  for (const a of report.attestations ?? []) {
    const where = [a.manifest ? `referrer ${a.manifest} (${a.via === 'api' ? 'referrers API' : 'referrers tag'})` : '', a.file ?? ''].filter(Boolean).join(', ');
    lines.push(`      attested ${a.predicateType}${where ? ` → ${where}` : ' (signed, kept in the store)'}`);
  }
  if (report.platforms) {
    for (const p of report.platforms) {
      lines.push('');
      lines.push(...renderLines(p).map((l) => `  ${l}`));
    }
    return lines;
  }
  lines.push('');
  lines.push(...renderFindings(report.findings));
  return lines;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
