import type { Analyzer, EntryInfo, FindingSink, ImageView, LayerRun } from '../../analyzer.js';
import { fromFact, perEntry, toFact, type PerEntry } from '../../facts.js';
import type { FinalFilesystem } from '../../filesystem.js';
import { decodeName } from '../../tar/names.js';
import { containerdUser, runcUser, type RuntimeUser, type UserFiles } from './runtime-user.js';

const FILES = new Set(['/etc/passwd', '/etc/group']);
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * What a runtime opening `path` in this view reads: absent, an error (not a regular file, or larger
 * than the gate reads — fail closed rather than judge a prefix), or the text. Content comes from the
 * copy captured while streaming, or from reading the layer again when the path leads elsewhere
 * (a symlinked or hard-linked /etc/passwd).
 */
async function readView(fs: FinalFilesystem, path: string, captured: ReadonlyMap<EntryInfo, Buffer>, image: ImageView, reader: 'kernel' | 'rootpath'): Promise<UserFiles['passwd']> {
  const entry = reader === 'kernel' ? fs.lookup(path) : fs.lookupRootPath(path);
  if (entry === null) return { error: `${path}: too many links (RootPath)` };
  if (!entry) return undefined;
  if (entry.type !== 'file') return { error: `${path} is a ${entry.type}, not a file` };
  if (entry.size > MAX_BYTES) return { error: `${path} is ${entry.size} bytes, more than the ${MAX_BYTES} the gate reads` };
  const content = captured.get(entry) ?? (await image.readFile(entry, MAX_BYTES));
  // Names are compared as bytes, as Go does: bytes that are not UTF-8 must not match a replacement character.
  return content === undefined ? { error: `${path} could not be read` } : decodeName(content);
}

/** A layer's copies of /etc/passwd and /etc/group, by ordinal. */
interface Facts {
  readonly captured: PerEntry<string>;
}

interface Judged {
  readonly view: string;
  readonly runtime: 'runc' | 'containerd';
  readonly result: RuntimeUser;
}

/**
 * The identity the container process gets from the image's `User`, resolved the way runc (Docker) and
 * containerd (Kubernetes) each resolve it, against /etc/passwd and /etc/group as each snapshotter
 * builds the filesystem. uid 0 under any of them is root; a user no runtime can resolve blocks too.
 */
export const rootUserAnalyzer: Analyzer = {
  id: 'root-user',
  version: 4,
  description: 'the user a container of the image runs as',
  layer(): LayerRun {
    const captured: PerEntry<string> = [];
    return {
      wants: (entry: EntryInfo) => (entry.type === 'file' && FILES.has(entry.path) ? { contentBytes: MAX_BYTES } : undefined),
      analyzeEntry(entry, content) {
        if (content) captured.push([entry.ordinal, toFact(content)]);
      },
      facts: (): Facts => ({ captured }),
    };
  },
  async conclude(_context, { image, facts }, sink: FindingSink) {
    const captured = perEntry<Facts, string, Buffer>(image, facts, (f) => f.captured, fromFact);
    const user = image.config.config?.User ?? '';
    const shown = user === '' ? 'no USER (the default, root)' : `USER "${user}"`;
    const judged: Judged[] = [];
    for (const { name, fs } of image.views) {
      // runc opens the files inside the container (the kernel resolves the links); containerd's WithUser
      // opens them from outside through RootPath, which may reach other files. Each runtime is judged on
      // both readings where they differ: which reader a runtime version uses is not the gate's to assume.
      const readings: UserFiles[] = [];
      for (const reader of ['kernel', 'rootpath'] as const) {
        const files: UserFiles = { passwd: await readView(fs, '/etc/passwd', captured, image, reader), group: await readView(fs, '/etc/group', captured, image, reader) };
        if (!readings.some((r) => JSON.stringify(r) === JSON.stringify(files))) readings.push(files);
      }
      for (const files of readings) {
        judged.push({ view: name, runtime: 'runc', result: runcUser(user, files) }, { view: name, runtime: 'containerd', result: containerdUser(user, files) });
      }
    }
    const where = (j: Judged): string => `${j.runtime}${image.views.length > 1 ? ` (${j.view} snapshotter)` : ''}`;
    const root = judged.filter((j) => j.result.uid === 0);
    if (root.length > 0) {
      const gid = root[0]?.result.gid;
      sink.report({
        check: 'root-user',
        rule: 'root-user',
        severity: 'high',
        blocking: true,
        message: `${shown}: the container runs as root (uid 0${gid !== undefined ? `, gid ${gid}` : ''}) under ${root.map(where).join(', ')}`,
      });
      return;
    }
    const failed = judged.filter((j) => j.result.error !== undefined);
    if (failed.length > 0) {
      sink.report({
        check: 'root-user',
        rule: 'user-not-found',
        severity: 'high',
        blocking: true,
        message: `${shown}: ${failed.map((j) => `${where(j)}: ${j.result.error}`).join('; ')}; the runtime will refuse to start it`,
      });
      return;
    }
    const rootGroup = judged.find((j) => j.result.gid === 0);
    const supplementary = judged.find((j) => j.result.sgids?.includes(0));
    if (rootGroup) {
      sink.report({ check: 'root-user', rule: 'root-group', severity: 'medium', blocking: false, message: `${shown}: runs as uid ${rootGroup.result.uid} with the root group (gid 0)` });
    } else if (supplementary) {
      sink.report({ check: 'root-user', rule: 'root-group', severity: 'medium', blocking: false, message: `${shown}: runs as uid ${supplementary.result.uid} with the root group (gid 0) among its supplementary groups (/etc/group lists the user in a group with gid 0) under ${where(supplementary)}` });
    }
  },
};
