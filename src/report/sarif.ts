import type { RuleInfo } from '../policy/load-rules.js';
import type { Finding, Report } from './types.js';

/** SARIF 2.1.0 (OASIS), the format code-scanning dashboards read. */
export interface SarifLog {
  readonly $schema: string;
  readonly version: '2.1.0';
  readonly runs: unknown[];
}

function level(f: Finding): 'error' | 'warning' | 'note' {
  if (f.blocking) return 'error';
  return f.severity === 'critical' || f.severity === 'high' || f.severity === 'medium' ? 'warning' : 'note';
}

function run(report: Report, info: ReadonlyMap<string, RuleInfo>, version: string): unknown {
  const ruleIds = [...new Set(report.findings.map((f) => f.rule))].sort();
  const rules = ruleIds.map((id) => {
    const meta = info.get(id);
    const sample = report.findings.find((f) => f.rule === id) as Finding;
    return {
      id,
      name: id,
      shortDescription: { text: meta?.title ?? id },
      ...(meta?.description ? { fullDescription: { text: meta.description } } : {}),
      defaultConfiguration: { level: level({ ...sample, blocking: false, severity: meta?.severity ?? sample.severity }) },
      properties: { check: meta?.check ?? sample.check, severity: meta?.severity ?? sample.severity },
    };
  });
  const results = report.findings.map((f) => ({
    ruleId: f.rule,
    ruleIndex: ruleIds.indexOf(f.rule),
    level: level(f),
    message: { text: f.message },
    locations: [
      f.path
        ? {
            physicalLocation: {
              artifactLocation: { uri: f.path.replace(/^\//, ''), uriBaseId: 'IMAGEROOT' },
              ...(f.line !== undefined ? { region: { startLine: f.line } } : {}),
            },
          }
        : { logicalLocations: [{ name: report.image.reference, kind: 'module', fullyQualifiedName: `${report.image.reference}@${report.image.digest}` }] },
    ],
    ...(f.fingerprint ? { partialFingerprints: { 'imggateSecret/v1': f.fingerprint } } : {}),
    properties: {
      check: f.check,
      severity: f.severity,
      blocking: f.blocking,
      ...(f.layer ? { layer: f.layer } : {}),
      ...(f.createdBy ? { createdBy: f.createdBy } : {}),
      ...(f.inFinalFilesystem !== undefined ? { inFinalFilesystem: f.inFinalFilesystem } : {}),
      ...(f.exception ? { exception: f.exception } : {}),
    },
  }));
  return {
    tool: { driver: { name: 'imggate', version, rules } },
    originalUriBaseIds: { IMAGEROOT: { uri: 'file:///', description: { text: `root filesystem of ${report.image.reference}@${report.image.digest}` } } },
    results,
    properties: { image: { reference: report.image.reference, digest: report.image.digest, platform: report.image.platform }, verdict: report.verdict },
    ...(report.error ? { invocations: [{ executionSuccessful: false, toolExecutionNotifications: [{ level: 'error', message: { text: `${report.error.code}: ${report.error.message}` } }] }] } : {}),
  };
}

/** One run per checked image (per platform with --all-platforms); rule metadata from rules/. */
export function toSarif(report: Report, info: ReadonlyMap<string, RuleInfo>, version: string): SarifLog {
  const reports = report.platforms?.length ? report.platforms : [report];
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: reports.map((r) => run(r, info, version)),
  };
}
