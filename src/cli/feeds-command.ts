import { loadConfig } from '../config/load.js';
import { describeError, ImggateError } from '../errors.js';
import { DEFAULT_FEED_MAX_AGE_MS, storeDirOf, updateFeeds } from '../feeds/index.js';
import { readHostRelease } from '../feeds/host-sources.js';
import { updateFeedFor } from '../feeds/resolve.js';
import { exportFeeds, importFeeds } from '../feeds/transfer.js';
import { hostPlatform } from '../oci/platform.js';
import { parseCommand, say, usage } from './common.js';
import { EXIT } from './exit-codes.js';
import { FEEDS_HELP } from './help.js';
import type { Io } from './main.js';

/** `imggate feeds update|export|import`: distribution feed snapshots in the store. */
export async function runFeeds(args: readonly string[], io: Io): Promise<number> {
  const parsed = parseCommand(args, {
    config: { type: 'string', short: 'c' },
    release: { type: 'string', multiple: true },
    distro: { type: 'string' },
    arch: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [sub, ...more] = parsed.positionals;
  if (parsed.values.help || sub === undefined) {
    io.stdout.write(FEEDS_HELP);
    return sub === undefined && !parsed.values.help ? EXIT.usage : 0;
  }
  const { config } = await loadConfig(parsed.values.config, io.env);
  const storeDir = storeDirOf(config, io.env);
  if (sub === 'export' || sub === 'import') {
    if (more.length !== 1) throw usage(`feeds ${sub} takes one file`);
    const file = more[0] as string;
    let failedImport = false;
    try {
      if (sub === 'export') {
        const n = await exportFeeds(storeDir, file);
        say(io.stdout, `${n} feed snapshot(s) with their signed InRelease and indexes → ${file}\n`);
      } else {
        const results = await importFeeds(storeDir, file, { config, now: new Date() });
        if (results.some((r) => r.error)) failedImport = true;
        for (const r of results) {
          if (r.error) say(io.stdout, `${r.suite}: NOT imported: ${r.error}\n`);
          else if (r.kept) say(io.stdout, `${r.suite}: kept the newer snapshot this store holds (archive dated ${r.kept}); the export's is dated ${r.date ?? 'unknown'}\n`);
          else say(io.stdout, `${r.suite}: ${r.packages} packages, InRelease ${r.digest}${r.verified ? ', signature verified' : ', NOT verified'} (archive dated ${r.date ?? 'unknown'})\n`);
        }
      }
    } catch (err) {
      say(io.stderr, `imggate: feeds ${sub} failed: ${describeError(err)}\n`);
      return EXIT.error;
    }
    return failedImport ? EXIT.error : 0;
  }
  if (sub !== 'update' || more.length) throw usage(`unknown feeds command "${parsed.positionals.join(' ')}"`);
  const configured = Boolean(config.feeds.debian?.length || config.feeds.alpine?.length || config.feeds.osv?.length);
  // With no feed configured, or with --release, the release comes from the host (or the flag) and the
  // archive from the host's own package sources: what a check of an image of that release would use.
  const releases = parsed.values.release ?? (configured ? [] : [undefined]);
  if (!configured && config.feeds.hostSources === false) {
    say(io.stderr, 'imggate: no feeds (osv, debian, alpine) configured in imggate.yaml and feeds.hostSources is false; nothing to update\n');
    return EXIT.usage;
  }
  let failed = false;
  try {
    if (configured) {
      for (const r of await updateFeeds(config, io.env)) {
        if (r.suite === 'osv') say(io.stdout, `osv: ${r.packages} advisories imported, digest ${r.digest} → ${r.file}\n`);
        else say(io.stdout, `${r.suite}: ${r.packages} packages, ${r.suite.startsWith('alpine ') ? 'APKINDEX' : 'InRelease'} ${r.digest}${r.verified ? ', signature verified' : ', NOT verified (no keyring configured)'} → ${r.file}\n`);
      }
    }
    for (const release of releases) {
      const host = await readHostRelease(config.feeds.hostSources === false ? undefined : config.feeds.hostSources?.osRelease);
      const id = parsed.values.distro ?? host?.id ?? 'debian';
      const codename = release ?? (id === 'alpine' ? undefined : host?.codename);
      const versionId = id === 'alpine' ? (release ?? host?.versionId)?.replace(/^v/, '') : undefined;
      if (!codename && !versionId) throw usage('the host does not say its release (VERSION_CODENAME); name one with --release');
      const started = Date.now();
      const results = await updateFeedFor({ id, ...(codename ? { codename } : {}), ...(versionId ? { versionId } : {}) }, { architecture: parsed.values.arch ?? hostPlatform().architecture }, {
        config,
        storeDir,
        maxAgeMs: config.feeds.maxAge ?? DEFAULT_FEED_MAX_AGE_MS,
        autoUpdate: true,
        now: new Date(),
        progress: io.stderr.isTTY ? (m) => say(io.stderr, `  ${m}\n`) : undefined,
      });
      if (typeof results === 'string') throw new ImggateError('NOT_FOUND', results);
      for (const r of results) {
        if (r.error) {
          failed = true;
          say(io.stderr, `imggate: ${r.suite} from ${r.mirror}: ${r.error}\n`);
        } else {
          say(io.stdout, `${r.suite}: ${r.packages} packages, InRelease ${r.digest}${r.verified ? ', signature verified' : ', NOT verified'}, archive dated ${r.date ?? 'unknown'}${r.validUntil ? `, valid until ${r.validUntil}` : ''} (${r.mirror})\n`);
        }
      }
      say(io.stdout, `fetched in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  } catch (err) {
    say(io.stderr, `imggate: feeds update failed: ${describeError(err)}\n`);
    return EXIT.error;
  }
  return failed ? EXIT.error : 0;
}
