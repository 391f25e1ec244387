export const MAIN_HELP = `imggate — trust a container image only after looking at it

Usage:
  imggate <command> [options]

Commands:
  check REF     Pull REF by digest, verify every byte, scan its layers, decide pass/fail
  sbom REF      Write the image's package inventory as a CycloneDX JSON SBOM
  verify-attestation REF --key gate.pub
                Exit 0 only if a valid signed PASSED verdict exists for REF's exact digest
  history REF   List the verdicts the store holds for REF
  keys generate Write a new gate signing key pair (ECDSA P-256)
  rules check   Validate a rules directory and run every rule's examples
  feeds update  Fetch the configured distribution package indexes into the store
  serve         Run the gate as a service: registry webhooks and an API queue checks
  help [CMD]    Show help for imggate or a command
  version       Print the version

Image references:
  registry/repo:tag, repo@sha256:…   an image in a registry (docker.io when no host is named)
  oci:DIR[:NAME]                      an OCI image layout directory
  oci-archive:FILE[:NAME]             a tar of an OCI image layout
  docker-archive:FILE[:REPO:TAG]      a \`docker save\` tarball

Exit codes: 0 pass, 1 policy failure, 2 error or inconclusive.
Run 'imggate help check' for the options of check.
`;

export const CHECK_HELP = `Usage: imggate check [options] REF

Resolves REF to a digest once, fetches the manifest, config and every layer by digest, checks each
against its descriptor (and each layer's uncompressed content against its diffID), streams every layer
once through the analyzers, and prints the verdict.

Output:
  -f, --format FORMAT        table (default), json (the imggate.report/v1 document), sarif (SARIF 2.1.0)
                             or cyclonedx (the package inventory as a CycloneDX 1.5 SBOM)
      --sbom FILE            also write the CycloneDX SBOM to FILE
  -o, --output FILE          write the report in FORMAT to FILE; the summary still goes to the terminal
  -q, --quiet                print nothing but errors; use the exit code
      --no-progress          no layer progress on stderr (it is shown only on a terminal anyway)

Image selection:
      --platform OS/ARCH[/VARIANT]   platform to check in a multi-platform index (default: this host's)
      --all-platforms                check every platform of the index, each reported separately

Registries:
      --insecure-registry HOST       speak plain HTTP (or HTTPS without certificate checks) to HOST;
                                     loopback hosts (localhost, 127.0.0.1) are always plain HTTP
      --creds USER:PASSWORD          credentials for REF's registry (or IMGGATE_USERNAME/IMGGATE_PASSWORD)
      --password-stdin               read the password for --username from standard input
      --username USER

Limits (override imggate.yaml):
      --max-layer-size SIZE          largest compressed layer accepted (e.g. 2GiB)
      --max-uncompressed-size SIZE   largest a single layer may expand to
      --max-file-size SIZE           most bytes of one file handed to analyzers
      --timeout DURATION             give up (verdict error) after DURATION (e.g. 10m)
      --concurrency N                layers streamed at once

Recording (each verdict is kept in the store, store.dir/imggate.db or store.database):
      --key FILE             the gate's signing key (default: attest.key, then keys/gate.key if present);
                             an encrypted key's password: $IMGGATE_KEY_PASSWORD (or $COSIGN_PASSWORD)
      --no-attest            do not sign, even with a key
      --no-push              do not push the signed verdict next to a registry image
      --attestation-out FILE also write the signed verdict (a Sigstore bundle) to FILE, e.g. before push
      --no-store             do not record the verdict in the store
      --offline              never fetch package feeds during the check (a missing or stale one is reported)
      --no-cache             read every layer, even those the layer cache (store.scanCache) knows

Configuration:
      --rules DIR            rules directory (default: imggate.yaml's rules.dir, then the bundled rules/)
      --osv DIR              OSV advisories (a directory of OSV JSON) to match packages against; repeatable
                             (default: imggate.yaml's feeds.osv)
  -c, --config FILE          imggate.yaml to use (default: $IMGGATE_CONFIG, then
                             $XDG_CONFIG_HOME/imggate/imggate.yaml)

Examples:
  imggate check 127.0.0.1:5000/app:1.2
  imggate check --format json --output report.json registry.example.com/team/app@sha256:…
  imggate check --all-platforms oci-archive:build/app.tar
`;

export const RULES_HELP = `Usage: imggate rules check [DIR]

Validates a rules directory (default: the bundled rules/): policy.yaml, checks.yaml and secrets/*.yaml.
Every problem is reported with its file and field; then every secret rule's examples are run: each
positive example must be found by its rule, each negative must not. Exits 0 when all is well, 1 otherwise.
`;

export const SBOM_HELP = `Usage: imggate sbom [options] REF

Pulls and verifies REF exactly as check does, and prints its inventory (OS release; dpkg, apk, npm,
Python and RubyGems packages, each with its purl, the file it was read from and its layer) as a
CycloneDX 1.5 JSON SBOM. Exits 0 when the image could be read, 2 otherwise, whatever the verdict.
Takes the options of check that read the image; -o FILE writes the SBOM to FILE. It records no
verdict: --key, --no-attest, --no-push, --attestation-out, --no-store and --sbom are refused. CycloneDX
JSON is its one format: --format cyclonedx is accepted, any other --format is refused (check --format
writes the others).
`;

export const FEEDS_HELP = `Usage: imggate feeds update [-c imggate.yaml] [--release CODENAME]... [--distro ID] [--arch ARCH]
       imggate feeds export FILE
       imggate feeds import FILE

update: for every feeds.debian entry of imggate.yaml, fetches <codename>, <codename>-updates and
<codename>-security from the mirror configured; with no feed configured (or with --release), the host's
own release (or CODENAME) from the archive the host's apt sources name. InRelease is verified with gpgv
(the configured keyring, else the host's apt keyrings); expired (Valid-Until), future-dated and replayed
InRelease files are refused; each Packages index (.xz, .gz or plain, by-hash when offered) is checked
against the SHA256 the Release lists. Snapshots go to the store (store.dir/feeds/). A check refreshes
missing or stale snapshots itself unless --offline or feeds.autoUpdate: false.

export: the snapshots with the signed files they were made from, as one tar.gz (for air-gapped use).
import: re-verifies an export as a fetch would (signature with the keyrings a check here would use,
hashes, Valid-Until, the package lists against the indexes) and stores it. An export that fails any of
that is refused whole (nothing is imported); a suite older than the one the store holds is not imported
(the newer is kept). A check uses imported snapshots even where nothing names an archive for them.
`;

export const VERIFY_ATTESTATION_HELP = `Usage: imggate verify-attestation [options] REF --key gate.pub

What a deploy step runs. Resolves REF to its manifest digest (for an index, the platform's manifest),
finds the Sigstore bundles attached to exactly that digest as OCI referrers (the referrers API, or the
sha256-<hex> tag where the registry lacks it), verifies each against the key, and exits 0 only when the
newest acceptable SLSA verification summary says PASSED. 1 when none does, 2 on errors.

      --key FILE             the gate's public key (PEM); required
      --max-age DURATION     only verdicts at most this old (e.g. 24h)
      --policy-digest D      only verdicts made under this rules digest (sha256:…)
      --current-policy       only verdicts made under the rules in force here (--rules, rules.dir)
      --bundle FILE          consider this bundle (from check --attestation-out) too; repeatable.
                             With a bare sha256:… digest as REF, only these files are read.
      --platform OS/ARCH     the platform of an index to look at (default: this host's)
  -f, --format FORMAT        table (default) or json
      --creds, --username, --password-stdin, --insecure-registry, -c/--config: as for check
`;

export const HISTORY_HELP = `Usage: imggate history [options] REF

Lists the verdicts the store (store.dir/imggate.db, or store.database) holds for REF, newest first: a reference as check
printed it (registry/repo:tag), a repository (all its tags), or a digest (sha256:…, or REF@sha256:…).

  -f, --format FORMAT        table (default) or json
  -n, --limit N              at most N verdicts (default 20)
  -c, --config FILE          imggate.yaml (for store.dir or store.database)
`;

export const KEYS_HELP = `Usage: imggate keys generate [--output-key-prefix PREFIX] [--force]

Writes PREFIX.key, an ECDSA P-256 private key in cosign's encrypted format (scrypt + NaCl secretbox,
mode 0600; the password is $IMGGATE_KEY_PASSWORD, else $COSIGN_PASSWORD, else empty), and PREFIX.pub (the
public key, for verify-attestation, trust.yaml and cosign verify --key). cosign sign --key takes the
private key as well. PREFIX defaults to keys/gate. An existing key is never overwritten without --force.
`;

export const SERVE_HELP = `Usage: imggate serve [options]

Runs the gate as a service: registry webhooks (/hooks/<receiver>) and the API (/v1) queue checks in
the embedded store; worker processes run them, sign the verdicts and push them next to the images.
Configured by imggate.yaml's serve: section; environment and flags override it.

Options:
  -c, --config FILE       imggate.yaml (default $IMGGATE_CONFIG, then ~/.config/imggate/imggate.yaml)
      --listen HOST:PORT  where to listen ($IMGGATE_SERVE_LISTEN; default 127.0.0.1:8080)
      --concurrency N     checks at once ($IMGGATE_SERVE_CONCURRENCY; default 2)
  -h, --help

SIGTERM or SIGINT: stop taking jobs, let running checks finish (serve.drainTimeout), release the rest, exit 0.
`;
