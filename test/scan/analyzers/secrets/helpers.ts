import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import type { ImageConfig } from '../../../../src/oci/schemas.js';
import type { RuleSet } from '../../../../src/policy/load-rules.js';
import type { Finding } from '../../../../src/report/types.js';
import { secretsAnalyzer } from '../../../../src/scan/analyzers/secrets/index.js';
import { scanLayers, type LayerInput } from '../../../../src/scan/engine.js';
import { makeTar, type TestEntry } from '../../../helpers/tar-writer.js';

export const MIB = 1024 * 1024;

/** Tokens of GitHub's classic shape, made up here (random enough for the rule's entropy floor). */
export const TOKEN = 'ghp_q7Rk2mVx9LpT4wZb8NcY3hJd6FsA1eGu5oKi';
export const TOKEN2 = 'ghp_W3nB8vXc1ZqL5tRy7UoP2aSd9FgH4jKm6EiT';

/** A PKCS#8 PEM block shaped like the test keys libraries carry (the body is made up). */
export const PEM_KEY = [
  '-----BEGIN PRIVATE KEY-----',
  'MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ',
  'Yx2eqzDV+xeG8kx/sQFV18S5JhzGeIJNA72wSeukEPojtqUyX2J0CciPBh7eqclQ',
  '2zpAswIDAQABAkAgisq4+zRdrzkwH1ITV1vpytnkO/NiHcnePQiOW0VUybPyHoGM',
  '-----END PRIVATE KEY-----',
].join('\n');

/** Bytes that look like a shared library with a key embedded among NULs, as test vectors sit in .rodata. */
export const LIBRARY = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0', 'latin1'), Buffer.alloc(300), Buffer.from(`${PEM_KEY}\n`), Buffer.alloc(300, 0x90)]);

/** A minimal zip writer: entries as given, optionally many central records over one local entry. */
export function makeZip(entries: Array<{ name: string; data: Buffer; deflate?: boolean }>, aliases = 0): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const central = (name: Buffer, method: number, size: number, raw: number, at: number): Buffer => {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(size, 20);
    c.writeUInt32LE(raw, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(at, 42);
    return Buffer.concat([c, name]);
  };
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate === false ? e.data : deflateRawSync(e.data);
    const method = e.deflate === false ? 0 : 8;
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0);
    l.writeUInt16LE(20, 4);
    l.writeUInt16LE(method, 8);
    l.writeUInt32LE(body.length, 18);
    l.writeUInt32LE(e.data.length, 22);
    l.writeUInt16LE(name.length, 26);
    locals.push(l, name, body);
    centrals.push(central(name, method, body.length, e.data.length, offset));
    for (let i = 0; i < aliases; i++) centrals.push(central(Buffer.from(`alias-${i}`), method, body.length, e.data.length, offset));
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length, 8);
  end.writeUInt16LE(centrals.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

export interface ScanOptions {
  readonly maxFileBytes?: number;
  readonly maxArchiveInflateBytes?: number;
  readonly signal?: AbortSignal;
  /** The image config (diff_ids are filled in); a bare amd64 one otherwise. */
  readonly config?: ImageConfig;
}

/** Runs the secrets analyzer alone over layers made in memory, as the engine streams them. */
export async function scanSecrets(rules: RuleSet, layers: TestEntry[][], options: ScanOptions = {}): Promise<Finding[]> {
  const maxFileBytes = options.maxFileBytes ?? 4096;
  const inputs: LayerInput[] = layers.map((entries, index) => {
    const tar = makeTar(entries);
    return {
      index,
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${String(index).repeat(64)}`, size: tar.length },
      diffId: undefined,
      createdBy: undefined,
      open: async () => Readable.from([tar]),
    };
  });
  const config = options.config ?? (JSON.parse('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}') as ImageConfig);
  const result = await scanLayers(
    inputs,
    config,
    [secretsAnalyzer],
    { rules, maxFileBytes, maxArchiveInflateBytes: options.maxArchiveInflateBytes },
    { maxUncompressedLayerBytes: 1024 * MIB, maxUncompressedTotalBytes: 1024 * MIB, maxFileBytes, concurrency: 1, maxDirectoryEntries: 100_000, maxPathDepth: 256, maxEntries: 1_000_000 },
    { signal: options.signal },
  );
  return result.findings;
}
