import type { OsInfo } from './types.js';

export interface ParsedPackage {
  readonly name: string;
  readonly version: string;
  readonly source?: string;
  readonly sourceVersion?: string;
  readonly arch?: string;
}

/**
 * os-release(5) read as the spec says: shell-style `KEY=value` lines, `#` comments, values in double
 * quotes (with `\\` escapes of `"`, `\\`, `` ` `` and `$`), single quotes or bare; the last assignment
 * wins. `ID` must be lowercase `[a-z0-9._-]`: anything else is not a valid release (undefined), never
 * a guess.
 */
export function parseOsRelease(text: string): OsInfo | undefined {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m?.[1]) continue;
    const value = unquoteShell(m[2] ?? '');
    if (value !== undefined) fields.set(m[1], value);
  }
  const id = fields.get('ID');
  if (!id || !/^[a-z0-9._-]+$/.test(id)) return undefined;
  const versionId = fields.get('VERSION_ID');
  const codename = fields.get('VERSION_CODENAME');
  const prettyName = fields.get('PRETTY_NAME');
  return { id, ...(versionId ? { versionId } : {}), ...(codename ? { codename } : {}), ...(prettyName ? { prettyName } : {}) };
}

function unquoteShell(value: string): string | undefined {
  if (value.startsWith('"')) {
    let out = '';
    for (let i = 1; i < value.length; i++) {
      const c = value[i] as string;
      if (c === '\\' && i + 1 < value.length && '"\\`$'.includes(value[i + 1] as string)) {
        out += value[++i];
      } else if (c === '"') {
        return i === value.length - 1 ? out : undefined;
      } else out += c;
    }
    return undefined;
  }
  if (value.startsWith("'")) return value.length >= 2 && value.endsWith("'") && !value.slice(1, -1).includes("'") ? value.slice(1, -1) : undefined;
  return /^[^\s"'`$\\;&|<>()]*$/.test(value) ? value : undefined;
}

/** RFC 822-style stanzas (dpkg status, Packages indexes): fields by name, continuation lines joined. */
export function parseStanzas(text: string): Array<Map<string, string>> {
  const out: Array<Map<string, string>> = [];
  let current = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size) out.push(current);
      current = new Map();
      last = undefined;
    } else if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      current.set(last, `${current.get(last) ?? ''}\n${line.trim()}`);
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      current.set(last, line.slice(colon + 1).trim());
    }
  }
  if (current.size) out.push(current);
  return out;
}

/**
 * The dpkg package states (the last word of `Status:`) in which the package's files are on disk: its
 * code is in the image whether or not dpkg finished configuring it. `config-files` leaves only conffiles,
 * `not-installed` nothing.
 */
const DPKG_ON_DISK = new Set(['installed', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending']);

/**
 * Packages whose files dpkg's status database (or one `status.d/` file of a distroless image, whose
 * stanzas carry no Status) says are on disk: installed, and also unpacked, half-configured or awaiting
 * triggers, which a vulnerable package may be left in. `Source: name (version)` gives the source package
 * and its version.
 */
export function parseDpkgStatus(text: string, requireStatus: boolean): ParsedPackage[] {
  const out: ParsedPackage[] = [];
  for (const stanza of parseStanzas(text)) {
    const name = stanza.get('Package');
    const version = stanza.get('Version');
    const status = stanza.get('Status');
    if (!name || !version) continue;
    if (requireStatus && status === undefined) continue;
    if (status !== undefined && !DPKG_ON_DISK.has(status.trim().split(/\s+/).pop() ?? '')) continue;
    const source = /^(\S+)(?:\s+\((\S+)\))?$/.exec(stanza.get('Source') ?? '');
    const arch = stanza.get('Architecture');
    out.push({
      name,
      version,
      ...(source?.[1] ? { source: source[1], sourceVersion: source[2] ?? version } : {}),
      ...(arch ? { arch } : {}),
    });
  }
  return out;
}

/** apk's `installed` database: `P:` name, `V:` version, `o:` origin (source), `A:` arch, blank line between. */
export function parseApkInstalled(text: string): ParsedPackage[] {
  const out: ParsedPackage[] = [];
  let p: { name?: string; version?: string; source?: string; arch?: string } = {};
  const flush = (): void => {
    if (p.name && p.version) out.push({ name: p.name, version: p.version, ...(p.source ? { source: p.source, sourceVersion: p.version } : {}), ...(p.arch ? { arch: p.arch } : {}) });
    p = {};
  };
  for (const line of text.split('\n')) {
    if (line === '') flush();
    else if (line.startsWith('P:')) p.name = line.slice(2);
    else if (line.startsWith('V:')) p.version = line.slice(2);
    else if (line.startsWith('o:')) p.source = line.slice(2);
    else if (line.startsWith('A:')) p.arch = line.slice(2);
  }
  flush();
  return out;
}

/** `name` and `version` of an npm package.json, when both are strings. */
export function parseNpmPackageJson(text: string): ParsedPackage | undefined {
  try {
    const json = JSON.parse(text) as { name?: unknown; version?: unknown };
    return typeof json.name === 'string' && typeof json.version === 'string' && json.name && json.version ? { name: json.name, version: json.version } : undefined;
  } catch {
    return undefined;
  }
}

/** `Name:` and `Version:` headers of a Python METADATA or PKG-INFO file. */
export function parsePythonMetadata(text: string): ParsedPackage | undefined {
  const head = text.split(/\r?\n\r?\n/)[0] ?? '';
  const name = /^Name:\s*(.+)$/m.exec(head)?.[1]?.trim();
  const version = /^Version:\s*(.+)$/m.exec(head)?.[1]?.trim();
  return name && version ? { name, version } : undefined;
}

/** PEP 503 normalised name: lowercase, runs of `-_.` as one `-`. */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
