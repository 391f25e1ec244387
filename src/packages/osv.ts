import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from '../zod.js';
import { ImggateError } from '../errors.js';
import { describeIssues } from '../oci/schemas.js';
import type { Severity } from '../report/types.js';
import { normalizePythonName } from './parsers.js';
import { directory, extract } from './zip.js';
import type { InstalledPackage, OsInfo } from './types.js';
import { compareVersions, type Ecosystem } from './versions/index.js';

const event = z.looseObject({ introduced: z.optional(z.string()), fixed: z.optional(z.string()), last_affected: z.optional(z.string()), limit: z.optional(z.string()) });

export const osvSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  modified: z.string(),
  aliases: z.nullish(z.array(z.string())),
  summary: z.nullish(z.string()),
  withdrawn: z.nullish(z.string()),
  severity: z.nullish(z.array(z.looseObject({ type: z.string(), score: z.string() }))),
  database_specific: z.nullish(z.record(z.string(), z.unknown())),
  affected: z.nullish(
    z.array(
      z.looseObject({
        package: z.looseObject({ ecosystem: z.string(), name: z.string() }),
        ranges: z.nullish(z.array(z.looseObject({ type: z.string(), events: z.array(event) }))),
        versions: z.nullish(z.array(z.string())),
        database_specific: z.nullish(z.record(z.string(), z.unknown())),
        ecosystem_specific: z.nullish(z.record(z.string(), z.unknown())),
      }),
    )),
});
export type OsvRecord = z.infer<typeof osvSchema>;

/** OSV records indexed by (OSV ecosystem, package name), as read from a directory of OSV JSON files. */
export interface AdvisoryDb {
  readonly records: number;
  readonly sources: readonly string[];
  /** sha256 over every file's relative name and bytes, in order: which snapshot of the advisories was used. */
  readonly digest: string;
  /** When the snapshot was imported into the store (absent for advisories read directly). */
  readonly fetchedAt?: string;
  lookup(ecosystem: string, name: string): readonly OsvRecord[];
}

/** Every `*.json` document under a directory (recursively) or inside a `.zip` (OSV's per-ecosystem `all.zip`). */
async function documents(source: string): Promise<Array<{ name: string; bytes: Buffer }>> {
  const info = await stat(source).catch((err: unknown) => {
    throw new ImggateError('CONFIG_NOT_FOUND', `cannot read OSV source ${source}: ${(err as Error).message}`, { cause: err });
  });
  if (info.isFile()) {
    if (!source.endsWith('.zip')) return [{ name: path.basename(source), bytes: await readFile(source) }];
    const zip = await readFile(source);
    const { members, problem } = directory(zip);
    // Advisories read in part would pass what the rest names: the whole zip or nothing.
    if (problem) throw new ImggateError('CONFIG_INVALID', `${source} cannot be read whole: ${problem}`);
    const entries = members.filter((m) => m.name.endsWith('.json'));
    if (entries.length === 0) throw new ImggateError('CONFIG_INVALID', `${source} is not a zip of OSV JSON files`);
    return entries.map((m) => {
      const bytes = extract(zip, m);
      if (!bytes) throw new ImggateError('CONFIG_INVALID', `${source}: ${m.name} cannot be extracted`);
      return { name: `${path.basename(source)}!/${m.name}`, bytes };
    });
  }
  const out: Array<{ name: string; bytes: Buffer }> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith('.json')) out.push({ name: path.relative(source, p), bytes: await readFile(p) });
    }
  };
  await walk(source);
  return out;
}

/** Parses and indexes OSV records; withdrawn ones are left out. */
export function indexOsv(records: readonly OsvRecord[], meta: { sources: readonly string[]; digest: string; fetchedAt?: string }): AdvisoryDb {
  const index = new Map<string, OsvRecord[]>();
  for (const record of records) {
    for (const affected of record.affected ?? []) {
      const key = `${affected.package.ecosystem}\0${packageKey(affected.package.ecosystem, affected.package.name)}`;
      const list = index.get(key) ?? [];
      if (!list.includes(record)) list.push(record);
      index.set(key, list);
    }
  }
  return { records: records.length, ...meta, lookup: (ecosystem, name) => index.get(`${ecosystem}\0${packageKey(ecosystem, name)}`) ?? [] };
}

/** Reads OSV records from directories of JSON files or OSV zips, validating each; the digest covers every byte read. */
export async function readOsvRecords(sources: readonly string[]): Promise<{ records: OsvRecord[]; digest: string }> {
  const hash = createHash('sha256');
  const records: OsvRecord[] = [];
  for (const source of sources) {
    for (const doc of await documents(source)) {
      hash.update(`${doc.name}\0${doc.bytes.length}\0`).update(doc.bytes);
      let json: unknown;
      try {
        json = JSON.parse(doc.bytes.toString('utf8'));
      } catch (err) {
        throw new ImggateError('CONFIG_INVALID', `${path.join(source, doc.name)}: not JSON`, { cause: err });
      }
      for (const [i, item] of (Array.isArray(json) ? json : [json]).entries()) {
        const parsed = osvSchema.safeParse(item);
        if (!parsed.success) {
          throw new ImggateError('CONFIG_INVALID', `${path.join(source, doc.name)}${Array.isArray(json) ? `[${i}]` : ''} is not an OSV record: ${describeIssues(parsed.error).join('; ')}`);
        }
        if (!parsed.data.withdrawn) records.push(parsed.data);
      }
    }
  }
  return { records, digest: `sha256:${hash.digest('hex')}` };
}

/** Reads OSV sources straight into an index (for `--osv`; configured feeds go through the store). */
export async function loadOsv(sources: readonly string[]): Promise<AdvisoryDb> {
  const { records, digest } = await readOsvRecords(sources);
  return indexOsv(records, { sources, digest });
}

function packageKey(ecosystem: string, name: string): string {
  return ecosystem === 'PyPI' ? normalizePythonName(name) : name;
}

/** The OSV ecosystem a package of the image belongs to, with the name OSV files it under. */
export function osvCoordinates(pkg: InstalledPackage, os: OsInfo | undefined): { ecosystem: string; name: string } | undefined {
  switch (pkg.ecosystem) {
    case 'deb': {
      const major = os?.versionId?.split('.')[0];
      if (os?.id === 'debian' && major) return { ecosystem: `Debian:${major}`, name: pkg.source ?? pkg.name };
      if (os?.id === 'ubuntu' && os.versionId) return { ecosystem: `Ubuntu:${os.versionId}`, name: pkg.source ?? pkg.name };
      return undefined;
    }
    case 'apk': {
      const m = /^(\d+\.\d+)/.exec(os?.versionId ?? '');
      return os?.id === 'alpine' && m ? { ecosystem: `Alpine:v${m[1]}`, name: pkg.source ?? pkg.name } : undefined;
    }
    case 'npm':
      return { ecosystem: 'npm', name: pkg.name };
    case 'pypi':
      return { ecosystem: 'PyPI', name: pkg.name };
    case 'gem':
      return { ecosystem: 'RubyGems', name: pkg.name };
    case 'golang':
      return { ecosystem: 'Go', name: pkg.name };
    case 'maven':
      return { ecosystem: 'Maven', name: pkg.name };
    default:
      return undefined;
  }
}

export interface Match {
  readonly record: OsvRecord;
  readonly fixed?: string;
  readonly severity: Severity;
  readonly severityKnown: boolean;
}

/**
 * Whether `version` falls in an affected range of the record for that package: ECOSYSTEM and SEMVER
 * ranges are walked event by event (introduced … fixed | last_affected), and listed versions match
 * exactly. The fixed version reported is the first fix above the installed one. `'unordered'` when a
 * range names the package but the ecosystem's ordering cannot read the versions: unknown, not safe.
 */
export function affects(record: OsvRecord, coords: { ecosystem: string; name: string }, ecosystem: Ecosystem, version: string): Match | 'unordered' | undefined {
  const cmp = (a: string, b: string): number => compareVersions(ecosystem, a, b);
  let unordered = false;
  for (const affected of record.affected ?? []) {
    if (affected.package.ecosystem !== coords.ecosystem || packageKey(coords.ecosystem, affected.package.name) !== packageKey(coords.ecosystem, coords.name)) continue;
    if ((affected.versions ?? []).includes(version)) return { record, ...severityOf(record, affected) };
    for (const range of affected.ranges ?? []) {
      if (range.type !== 'ECOSYSTEM' && range.type !== 'SEMVER') continue;
      let inside = false;
      let fixed: string | undefined;
      try {
        // OSV events may come in any order; evaluation walks them sorted by version.
        const at = (e: (typeof range.events)[number]): string => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '0';
        const events = [...range.events].sort((x, y) => (at(x) === '0' ? -1 : at(y) === '0' ? 1 : cmp(at(x), at(y))));
        for (const e of events) {
          if (e.introduced !== undefined && (e.introduced === '0' || cmp(version, e.introduced) >= 0)) inside = true;
          if (e.fixed !== undefined && cmp(version, e.fixed) >= 0) inside = false;
          if (e.last_affected !== undefined && cmp(version, e.last_affected) > 0) inside = false;
          if (e.limit !== undefined && cmp(version, e.limit) >= 0) inside = false;
        }
        if (inside) {
          fixed = events.map((e) => e.fixed).filter((f): f is string => f !== undefined && cmp(f, version) > 0).sort(cmp)[0];
          return { record, ...(fixed ? { fixed } : {}), ...severityOf(record, affected) };
        }
      } catch {
        // The exact list was consulted above; whether the range holds the version is unknown.
        unordered = true;
      }
    }
  }
  return unordered ? 'unordered' : undefined;
}

const LEVELS: Record<string, Severity> = { critical: 'critical', high: 'high', important: 'high', moderate: 'medium', medium: 'medium', low: 'low', negligible: 'low', unimportant: 'low' };

function severityOf(record: OsvRecord, affected: NonNullable<OsvRecord['affected']>[number]): { severity: Severity; severityKnown: boolean } {
  for (const source of [affected.ecosystem_specific, affected.database_specific, record.database_specific]) {
    const s = source?.['severity'];
    if (typeof s === 'string' && LEVELS[s.toLowerCase()]) return { severity: LEVELS[s.toLowerCase()] as Severity, severityKnown: true };
  }
  for (const s of record.severity ?? []) {
    const score = cvss3Score(s.score);
    if (score !== undefined) {
      const severity: Severity = score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : score > 0 ? 'low' : 'info';
      return { severity, severityKnown: true };
    }
  }
  return { severity: 'medium', severityKnown: false };
}

/** The CVSS v3.x base score of a vector (FIRST's specification, §7.1), or undefined if it is not one. */
export function cvss3Score(vector: string): number | undefined {
  const m = /^CVSS:3\.[01]\/(.*)$/.exec(vector);
  if (!m?.[1]) return undefined;
  const metrics = new Map(m[1].split('/').map((p) => p.split(':') as [string, string]));
  const W: Record<string, Record<string, number>> = {
    AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
    AC: { L: 0.77, H: 0.44 },
    UI: { N: 0.85, R: 0.62 },
    C: { H: 0.56, L: 0.22, N: 0 },
    I: { H: 0.56, L: 0.22, N: 0 },
    A: { H: 0.56, L: 0.22, N: 0 },
  };
  const get = (k: string): number | undefined => W[k]?.[metrics.get(k) ?? ''];
  const scope = metrics.get('S');
  const pr = metrics.get('PR');
  const prw = pr === 'N' ? 0.85 : pr === 'L' ? (scope === 'C' ? 0.68 : 0.62) : pr === 'H' ? (scope === 'C' ? 0.5 : 0.27) : undefined;
  const [av, ac, ui, c, i, a] = ['AV', 'AC', 'UI', 'C', 'I', 'A'].map(get);
  if ([av, ac, ui, c, i, a, prw].some((x) => x === undefined) || (scope !== 'U' && scope !== 'C')) return undefined;
  const iss = 1 - (1 - (c as number)) * (1 - (i as number)) * (1 - (a as number));
  const impact = scope === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * (av as number) * (ac as number) * (prw as number) * (ui as number);
  if (impact <= 0) return 0;
  const roundup = (x: number): number => {
    const n = Math.round(x * 100000);
    return n % 10000 === 0 ? n / 100000 : (Math.floor(n / 10000) + 1) / 10;
  };
  return scope === 'U' ? roundup(Math.min(impact + exploitability, 10)) : roundup(Math.min(1.08 * (impact + exploitability), 10));
}
