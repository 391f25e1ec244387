import { ImggateError } from './errors.js';
import { checkConfigCounts, checkLayerCount, checkPlatformCount } from './oci/counts.js';
import { MAX_CONFIG_BYTES, parseImageConfig, parseManifest } from './oci/manifest.js';
import { layerCompressionOf } from './oci/media-types.js';
import { formatPlatform, hostPlatform, imagePlatforms, normalizePlatform, parsePlatform, platformOf, selectPlatform } from './oci/platform.js';
import type { Descriptor, ImageManifest } from './oci/schemas.js';
import { resolveOptions, withConfig, type CheckOptions, type Resolved } from './options.js';
import { DEFAULT_FEED_MAX_AGE_MS, loadStoredAdvisories, storeDirOf } from './feeds/index.js';
import { detect } from './detect/index.js';
import type { FeedUse } from './feeds/resolve.js';
import { loadOsv, type AdvisoryDb } from './packages/osv.js';
import { applyPolicy } from './policy/apply.js';
import { loadRules, type RuleSet } from './policy/load-rules.js';
import { combine, decide, sortFindings } from './policy/verdict.js';
import { scanDocument } from './scan/analyzers/secrets/config.js';
import { secretsAnalyzer } from './scan/analyzers/secrets/index.js';
import { SecretMatcher } from './scan/analyzers/secrets/matcher.js';
import { errorReport, SCHEMA } from './report/error-report.js';
import type { Finding, ImageSection, LayerSummary, Report } from './report/types.js';
import type { Analyzer } from './scan/analyzer.js';
import { BUILTIN_ANALYZERS, validateAnalyzers } from './scan/analyzers/index.js';
import { StoredLayerCache, type LayerCache } from './scan/layer-cache.js';
import { scanLayers, type LayerInput } from './scan/engine.js';
import { openSource, type ImageSource } from './source/index.js';
import { repositoryNameOf } from './registry/reference.js';
import { trustScopeFor } from './policy/load-trust.js';
import type { Subject, TrustResult } from './verify/evaluate.js';
import type { Evidence, SignedSubject } from './verify/types.js';
import type { FetchedManifest } from './source/types.js';


/**
 * Checks one image: resolves the reference once, pins everything to digests, verifies every byte,
 * streams each layer once through the analyzers and decides. Never throws for a problem with the
 * image or its registry: those come back as a report with verdict "error" and the cause.
 */
export async function check(reference: string, options: CheckOptions = {}): Promise<Report> {
  const started = Date.now();
  let resolved: Resolved;
  let timeout: AbortSignal;
  let inputs: CheckInputs;
  try {
    resolved = resolveOptions(reference, await withConfig(options));
    timeout = AbortSignal.timeout(resolved.limits.timeoutMs);
    inputs = await loadInputs(options, resolved);
  } catch (err) {
    return errorReport({ reference, digest: '', mediaType: '' }, err, started);
  }
  const { rules, advisories, advisoriesMissing } = inputs;
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const analyzers = validateAnalyzers(options.analyzers ?? BUILTIN_ANALYZERS);
  const now = options.now ?? new Date();
  let source: ImageSource | undefined;
  // Opened while the registry answers: the store's driver loads and its file opens meanwhile.
  const layerCache = openLayerCache(options, resolved, analyzers);
  const image: { reference: string; digest: string; mediaType: string; source?: ImageSection['source'] } = {
    reference,
    digest: '',
    mediaType: '',
  };
  const overdue = (): ImggateError => new ImggateError('CHECK_TIMEOUT', `the check took longer than ${resolved.limits.timeoutMs} ms`);
  try {
    const report = await checkResolved();
    // Whatever finished, a check that ran past its deadline is never a verdict: work may have been cut short.
    return timeout.aborted ? errorReport(image, overdue(), started) : report;
  } catch (err) {
    return errorReport(image, timeout.aborted ? new ImggateError('CHECK_TIMEOUT', overdue().message, { cause: err }) : err, started);
  } finally {
    await source?.close();
    await (await layerCache)?.close().catch(() => {});
  }

  async function checkResolved(): Promise<Report> {
    source = await openSource(reference, resolved, signal);
    image.reference = source.reference;
    image.source = source.kind;
    const root = await source.resolve();
    image.digest = root.digest;
    const parsed = parseManifest(root.bytes, root.contentType, `manifest ${root.digest}`);
    image.mediaType = parsed.mediaType;
    const ctx: ImageContext = {
      source, resolved, analyzers, rules, advisories, advisoriesMissing, now, redactor: SecretMatcher.of(rules.secretRules), signal, options, started, signatures: new Map(), layerCache: layerCache.then((opened) => opened?.cache),
      ...(parsed.kind === 'index' ? { index: { digest: root.digest, bytes: root.bytes, mediaType: parsed.mediaType } } : {}),
    };
    if (parsed.kind === 'manifest') {
      return await checkManifest(ctx, { ...image }, root, parsed.manifest, undefined);
    }
    const runnable = imagePlatforms(parsed.index.manifests);
    if (options.allPlatforms) {
      if (runnable.length === 0) throw new ImggateError('PLATFORM_NOT_FOUND', `index ${root.digest} names no platform images`);
      checkPlatformCount(runnable.length, resolved.limits, `index ${root.digest}`);
      const platforms: Report[] = [];
      for (const descriptor of runnable) {
        platforms.push(await checkChild(ctx, image, descriptor));
      }
      // The index is what a tag or a pinned deploy names: its own signatures are judged on their own too.
      const scope = scopeOf(image.reference, source.kind);
      const indexTrust = await verifyTrust(ctx, scope, [{ subject: { digest: root.digest, bytes: root.bytes, mediaType: parsed.mediaType, repository: scope }, role: 'manifest' }]);
      const indexFindings = sortFindings(indexTrust.findings);
      return {
        schema: SCHEMA,
        image: { ...image },
        verdict: combine([...platforms.map((p) => p.verdict), decide(indexFindings)]),
        findings: indexFindings,
        signatures: indexTrust.signatures,
        ...(indexTrust.scope.level !== 'skip' ? { trust: { level: indexTrust.scope.level, scope: indexTrust.scope.origin } } : {}),
        platforms,
        checkedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
      };
    }
    const want = options.platform ? parsePlatform(options.platform) : hostPlatform();
    return await checkChild(ctx, image, selectPlatform(parsed.index.manifests, want));
  }
}

/** What a check reads besides the image: the rules, and the feed snapshots package findings rest on. */
interface CheckInputs {
  readonly rules: RuleSet;
  readonly advisories: AdvisoryDb | undefined;
  readonly advisoriesMissing: boolean;
}

async function loadInputs(options: CheckOptions, resolved: Resolved): Promise<CheckInputs> {
  const rules = typeof options.rules === 'object' ? options.rules : await loadRules(options.rules ?? resolved.config.rules.dir ?? undefined);
  const stored = options.osv?.length ? await loadOsv(options.osv) : await loadStoredAdvisories(resolved.config, options.env);
  return {
    rules,
    advisories: stored === 'missing' ? undefined : stored,
    advisoriesMissing: stored === 'missing',
  };
}

interface ImageContext {
  readonly source: ImageSource;
  readonly resolved: Resolved;
  readonly analyzers: CheckOptions['analyzers'] & object;
  readonly rules: RuleSet;
  readonly advisories: AdvisoryDb | undefined;
  readonly advisoriesMissing: boolean;
  readonly now: Date;
  /** Build history can hold secrets (ARG values, tokens in RUN lines); reports show it redacted. */
  readonly redactor: SecretMatcher;
  readonly signal: AbortSignal;
  readonly options: CheckOptions;
  readonly started: number;
  /** The index the reference resolved to, when it was one: its signatures cover the platform manifests it lists. */
  readonly index?: { readonly digest: string; readonly bytes: Buffer; readonly mediaType: string };
  /** Signatures found per digest: an index's are read once, not once per platform. */
  readonly signatures: Map<string, Promise<Evidence[]>>;
  /** Facts of layers read before, by diffID; undefined with --no-cache or `store.scanCache: false`. */
  readonly layerCache: Promise<LayerCache | undefined>;
}

async function checkChild(ctx: ImageContext, index: { reference: string; digest: string }, descriptor: Descriptor): Promise<Report> {
  const platform = platformOf(descriptor.platform);
  const image = { reference: index.reference, digest: descriptor.digest, mediaType: descriptor.mediaType, source: ctx.source.kind };
  try {
    const fetched = await ctx.source.fetchManifest(descriptor);
    const parsed = parseManifest(fetched.bytes, fetched.contentType ?? descriptor.mediaType, `manifest ${descriptor.digest}`);
    if (parsed.kind !== 'manifest') throw new ImggateError('MANIFEST_INVALID', `index entry ${descriptor.digest} is itself an index; nested indexes are not followed`);
    return await checkManifest(ctx, { ...image, mediaType: parsed.mediaType }, fetched, parsed.manifest, platform);
  } catch (err) {
    return errorReport({ ...image, ...(platform ? { platform: formatPlatform(platform) } : {}) }, err, Date.now());
  }
}

async function checkManifest(
  ctx: ImageContext,
  image: { reference: string; digest: string; mediaType: string; source?: ImageSection['source'] },
  fetched: FetchedManifest,
  manifest: ImageManifest,
  indexPlatform: ReturnType<typeof platformOf>,
): Promise<Report> {
  const { source, resolved } = ctx;
  const configBytes = await source.fetchBlob(manifest.config, MAX_CONFIG_BYTES);
  checkLayerCount(manifest.layers.length, resolved.limits, `manifest ${fetched.digest}`);
  const config = parseImageConfig(configBytes, `config ${manifest.config.digest}`);
  checkConfigCounts(config, resolved.limits, `config ${manifest.config.digest}`);
  const platform = config.os && config.architecture ? normalizePlatform({ os: config.os, architecture: config.architecture, variant: config.variant }) : indexPlatform;
  const section: ImageSection = {
    ...image,
    digest: fetched.digest,
    ...(platform ? { platform: formatPlatform(platform) } : {}),
    configDigest: manifest.config.digest,
    size: fetched.bytes.length,
  };
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new ImggateError('MANIFEST_INVALID', `manifest has ${manifest.layers.length} layers but its config names ${diffIds.length} diffIDs`);
  }
  for (const layer of manifest.layers) {
    if (layerCompressionOf(layer.mediaType) === undefined) {
      throw new ImggateError('MEDIA_TYPE_UNSUPPORTED', `layer ${layer.digest} has media type ${layer.mediaType}, which is not an image layer`);
    }
    if (layer.size > resolved.limits.maxLayerBytes) {
      throw new ImggateError('LAYER_TOO_LARGE', `layer ${layer.digest} is ${layer.size} bytes, over the ${resolved.limits.maxLayerBytes}-byte limit`);
    }
  }
  const history = (config.history ?? []).filter((h) => !h.empty_layer);
  const inputs: LayerInput[] = manifest.layers.map((descriptor, index) => ({
    index,
    descriptor,
    diffId: diffIds[index],
    // History lines up with layers only when the counts agree; a guess would misattribute findings.
    createdBy: history.length === manifest.layers.length ? redactHistory(ctx.redactor, history[index]?.created_by) : undefined,
    open: () => source.openBlob(descriptor),
  }));
  const context = {
    rules: ctx.rules,
    maxFileBytes: resolved.limits.maxFileBytes,
    maxArchiveInflateBytes: resolved.limits.maxArchiveInflateBytes,
  };
  const scan = await scanLayers(inputs, config, ctx.analyzers, context, resolved.limits, {
    signal: ctx.signal,
    progress: ctx.options.progress,
    cache: await ctx.layerCache,
    configDigest: manifest.config.digest,
  });
  // The detect stage runs once the inventory is known, over it alone: end of life, advisories, and the
  // distribution's suites (which feed applies depends on the image's own os-release; it may be fetched first).
  const outdated = await detect(scan.inventory, { architecture: config.architecture, variant: config.variant }, {
    eol: ctx.rules.eol,
    advisories: ctx.advisories,
    advisoriesMissing: ctx.advisoriesMissing,
    feeds: {
      config: resolved.config,
      storeDir: storeDirOf(resolved.config, ctx.options.env),
      maxAgeMs: resolved.config.feeds.maxAge ?? DEFAULT_FEED_MAX_AGE_MS,
      autoUpdate: !ctx.options.offline && resolved.config.feeds.autoUpdate !== false,
      now: ctx.now,
      progress: ctx.options.feedProgress,
    },
  });
  const outdatedFindings: Finding[] = outdated.findings.map(({ layerIndex, ...f }) => {
    const layer = layerIndex === undefined ? undefined : inputs[layerIndex];
    // Package findings point at the package database of the final filesystem the inventory was read from.
    return { ...f, ...(layer ? { layer: layer.descriptor.digest, ...(layer.createdBy ? { createdBy: layer.createdBy } : {}), ...(f.path ? { inFinalFilesystem: true } : {}) } : {}) };
  });
  const layers: LayerSummary[] = inputs.map((input, i) => ({
    digest: input.descriptor.digest,
    mediaType: input.descriptor.mediaType,
    size: input.descriptor.size,
    ...(input.diffId ? { diffId: input.diffId } : {}),
    ...(input.createdBy ? { createdBy: input.createdBy } : {}),
    uncompressedSize: scan.layers[i]?.uncompressedSize ?? 0,
    entries: scan.layers[i]?.entries ?? 0,
  }));
  const scope = scopeOf(image.reference, ctx.source.kind);
  const manifestSubject = { digest: fetched.digest, bytes: fetched.bytes, mediaType: image.mediaType, repository: scope };
  const trust = await verifyTrust(ctx, scope, [
    { subject: manifestSubject, role: 'manifest' },
    ...(ctx.index ? [{ subject: { ...ctx.index, repository: scope }, role: 'index' as const }] : []),
  ]);
  // The manifest and the index ship beside the config: a secret in an annotation is as public as one in a label.
  const documentFindings: Finding[] = [];
  if (ctx.analyzers.some((a) => a.id === secretsAnalyzer.id)) {
    for (const [bytes, name] of [[fetched.bytes, 'image manifest'], ...(ctx.index ? [[ctx.index.bytes, 'image index'] as const] : [])] as const) {
      scanDocument(ctx.redactor, JSON.parse(bytes.toString('utf8')), name, (f) => documentFindings.push(f));
    }
  }
  // Trust findings keep the blocking their scope's level gave them (enforce or audit); policy does not re-rate them.
  const findings = sortFindings([...applyPolicy([...scan.findings, ...documentFindings, ...outdatedFindings], ctx.rules, scope, ctx.now), ...trust.findings]);
  return {
    schema: SCHEMA,
    image: { ...section, layers },
    verdict: decide(findings),
    findings,
    signatures: trust.signatures,
    ...(trust.scope.level !== 'skip' ? { trust: { level: trust.scope.level, scope: trust.scope.origin } } : {}),
    analyzers: ctx.analyzers.map((a) => ({ id: a.id, version: a.version })),
    policy: { digest: ctx.rules.digest },
    ...(scan.inventory ? { inventory: scan.inventory } : {}),
    ...feedsSection(ctx, outdated.feeds),
    checkedAt: new Date(ctx.started).toISOString(),
    durationMs: Date.now() - ctx.started,
  };
}

/**
 * The layer cache in the store (`store.scanCache`, on unless set to false; `--no-cache` skips it).
 * A store that cannot be opened costs a read of every layer, not the check.
 */
async function openLayerCache(options: CheckOptions, resolved: Resolved, analyzers: readonly Analyzer[]): Promise<{ cache: LayerCache; close(): Promise<void> } | undefined> {
  const { config } = resolved;
  if (options.noCache || config.store.scanCache === false) return undefined;
  try {
    const { openLayerFacts } = await import('./store/index.js');
    const facts = await openLayerFacts(config, options.env);
    return { cache: new StoredLayerCache(facts.rows, analyzers), close: () => facts.close() };
  } catch {
    return undefined;
  }
}

function redactHistory(redactor: SecretMatcher, createdBy: string | undefined): string | undefined {
  return createdBy === undefined ? undefined : redactor.redact(createdBy);
}

/** What policy scopes match against: `registry/repository` for registry images, the reference otherwise. */
export function scopeOf(reference: string, kind: ImageSource['kind']): string {
  return kind === 'registry' ? repositoryNameOf(reference) : reference;
}

/** Which feed snapshots the package findings rest on. */
function feedsSection(ctx: ImageContext, distro: readonly FeedUse[]): Pick<Report, 'feeds'> {
  const feeds: NonNullable<Report['feeds']>[number][] = [];
  if (ctx.advisories) {
    const a = ctx.advisories;
    feeds.push({ kind: 'osv', sources: a.sources, records: a.records, digest: a.digest, ...(a.fetchedAt ? { fetchedAt: a.fetchedAt } : {}) });
  }
  feeds.push(...distro);
  return feeds.length ? { feeds } : {};
}

/**
 * Verifies the signatures of what is about to be reported — a manifest (and the index it came from),
 * or an index — under the trust scope that matches the image. Runs on digests already pinned: nothing
 * is re-resolved by tag.
 */
async function verifyTrust(ctx: ImageContext, scope: string, targets: ReadonlyArray<{ subject: SignedSubject; role: Subject['role'] }>): Promise<TrustResult> {
  const level = trustScopeFor(ctx.rules.trust, scope);
  // Nothing to verify: the signature formats and their verifiers are not loaded at all.
  if (level.level === 'skip') return { scope: level, signatures: [], findings: [] };
  const [{ findSignatures }, { evaluateTrust }] = await Promise.all([import('./source/signatures.js'), import('./verify/evaluate.js')]);
  const store = ctx.source.signatureStore?.();
  const subjects: Subject[] = [];
  for (const { subject, role } of targets) {
    if (!store) {
      subjects.push({ subject, role, evidence: [], discoveryError: `a ${ctx.source.kind} image carries no signatures imggate reads; check it in its registry` });
      continue;
    }
    try {
      let found = ctx.signatures.get(subject.digest);
      if (!found) {
        found = findSignatures(store.client, store.repository, subject.digest);
        ctx.signatures.set(subject.digest, found);
      }
      subjects.push({ subject, role, evidence: await found });
    } catch (err) {
      subjects.push({ subject, role, evidence: [], discoveryError: err instanceof Error ? err.message : String(err) });
    }
  }
  return evaluateTrust(ctx.rules.trust, scope, subjects, ctx.now);
}
