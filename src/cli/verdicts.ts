import { loadConfig } from '../config/load.js';
import { parseDuration } from '../config/units.js';
import { loadRules } from '../policy/load-rules.js';
import { parseReference, formatReference, repositoryNameOf } from '../registry/reference.js';
import { openStore, type VerdictQuery } from '../store/index.js';
import { verifyAttestation } from '../verify-attestation.js';
import { credentialsFrom, parseCommand, say, usage } from './common.js';
import { jsonForTerminal } from '../report/terminal.js';
import { EXIT } from './exit-codes.js';
import { HISTORY_HELP, VERIFY_ATTESTATION_HELP } from './help.js';
import { loadPublicKeyFile } from './keys.js';
import type { Io } from './main.js';

export async function runVerifyAttestation(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand(args, {
        key: { type: 'string' },
        'max-age': { type: 'string' },
        'policy-digest': { type: 'string' },
        'current-policy': { type: 'boolean', default: false },
        rules: { type: 'string' },
        bundle: { type: 'string', multiple: true },
        platform: { type: 'string' },
        format: { type: 'string', short: 'f', default: 'table' },
        'insecure-registry': { type: 'string', multiple: true },
        creds: { type: 'string' },
        username: { type: 'string' },
        'password-stdin': { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    io.stdout.write(VERIFY_ATTESTATION_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('verify-attestation takes one image reference');
  if (!values.key) throw usage('verify-attestation needs --key (the gate\'s public key)');
  if (values.format !== 'table' && values.format !== 'json') throw usage('--format must be table or json');
  if (values['policy-digest'] && values['current-policy']) throw usage('--policy-digest and --current-policy exclude each other');
  if (values['policy-digest'] && !/^sha256:[0-9a-f]{64}$/.test(values['policy-digest'])) throw usage('--policy-digest takes sha256:<64 hex>');
  let maxAgeMs: number | undefined;
  if (values['max-age'] !== undefined) {
    maxAgeMs = parseDuration(values['max-age']);
    if (maxAgeMs === undefined || maxAgeMs <= 0) throw usage(`--max-age: "${values['max-age']}" is not a duration (e.g. 24h)`);
  }
  const { config } = await loadConfig(values.config, io.env);
  const policyDigest = values['current-policy'] ? (await loadRules(values.rules ?? config.rules.dir ?? undefined)).digest : values['policy-digest'];
  const publicKey = await loadPublicKeyFile(values.key);
  const credentials = await credentialsFrom(values, io);
  const reference = positionals[0] as string;
  let result;
  try {
    result = await verifyAttestation(reference, {
      publicKey,
      maxAgeMs,
      policyDigest,
      bundleFiles: values.bundle ?? [],
      platform: values.platform,
      checkOptions: { config, env: io.env, insecureRegistries: values['insecure-registry'] ?? [], ...(credentials ? { credentials } : {}) },
    });
  } catch (err) {
    say(io.stderr, `imggate: verify-attestation ${reference}: ${(err as Error).message}\n`);
    return EXIT.error;
  }
  const { decision } = result;
  if (values.format === 'json') {
    io.stdout.write(jsonForTerminal(`${JSON.stringify({ reference, ...result }, null, 2)}\n`));
  } else {
    say(io.stdout, `${decision.passed ? 'VERIFIED' : 'NOT VERIFIED'}  ${reference}\n      digest   ${result.digest}\n      why      ${decision.reason}\n`);
    for (const c of decision.considered) {
      say(io.stdout, `      ${c.accepted ? 'valid   ' : 'rejected'} ${c.source}${c.result ? ` ${c.result} ${c.timeVerified}` : ''}${c.accepted ? '' : `: ${c.reason}`}\n`);
    }
  }
  return decision.passed ? 0 : EXIT.fail;
}

export async function runHistory(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    format: { type: 'string', short: 'f', default: 'table' },
    limit: { type: 'string', short: 'n', default: '20' },
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    io.stdout.write(HISTORY_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage('history takes one image reference or digest');
  if (values.format !== 'table' && values.format !== 'json') throw usage('--format must be table or json');
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw usage('--limit takes a whole number from 1 to 10000');
  const query = { ...historyQuery(positionals[0] as string), limit };
  const { config } = await loadConfig(values.config, io.env);
  const store = await openStore(config, io.env);
  let rows;
  try {
    rows = await store.list(query);
  } finally {
    await store.close();
  }
  if (values.format === 'json') {
    const out = rows.map(({ bundle, reportBundle, ...rest }) => ({
      ...rest,
      ...(bundle ? { bundle: JSON.parse(bundle.toString('utf8')) as unknown } : {}),
      ...(reportBundle ? { signedReport: true } : {}),
    }));
    io.stdout.write(jsonForTerminal(`${JSON.stringify(out, null, 2)}\n`));
    return 0;
  }
  if (rows.length === 0) {
    say(io.stdout, `no verdicts recorded for ${positionals[0]}\n`);
    return 0;
  }
  say(io.stdout, `${'CHECKED AT'.padEnd(25)}${'VERDICT'.padEnd(8)}${'DIGEST'.padEnd(20)}${'POLICY'.padEnd(20)}${'FINDINGS'.padEnd(10)}${'SIGNED'.padEnd(8)}REFERENCE\n`);
  for (const r of rows) {
    const blocking = r.report.findings.filter((f) => f.blocking).length;
    const signed = r.bundle ? (r.attestations?.some((a) => a.manifest) ? 'pushed' : 'yes') : 'no';
    say(io.stdout, 
      `${r.checkedAt.padEnd(25)}${r.verdict.padEnd(8)}${short(r.digest).padEnd(20)}${short(r.policyDigest).padEnd(20)}${`${r.report.findings.length}/${blocking}`.padEnd(10)}${signed.padEnd(8)}${r.reference}${r.platform ? ` (${r.platform})` : ''}\n`,
    );
  }
  return 0;
}

function short(digest: string | undefined): string {
  return digest ? `${digest.slice(0, 7 + 12)}` : '-';
}

/** A digest, a reference with a tag (that tag only), or a bare repository (all its tags). */
export function historyQuery(text: string): VerdictQuery {
  if (/^sha256:[0-9a-f]{64}$/.test(text)) return { digest: text };
  if (/^(oci|oci-archive|docker-archive):/.test(text)) return { reference: text };
  const at = text.lastIndexOf('@');
  if (at >= 0) return { digest: text.slice(at + 1) };
  const bare = text.replace(/^docker:\/\//, '');
  const ref = parseReference(bare);
  const explicitTag = bare.lastIndexOf(':') > bare.lastIndexOf('/');
  const normalised = formatReference(ref);
  return explicitTag ? { reference: normalised } : { repository: repositoryNameOf(normalised) };
}
