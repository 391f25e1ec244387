import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { ImggateError } from '../errors.js';

// The package is CommonJS whose exports Node's ESM loader cannot list; loaded lazily, on the first .xz.
type XzModule = typeof import('xz-decompress');
let xz: XzModule | undefined;
const xzModule = (): XzModule => (xz ??= createRequire(import.meta.url)('xz-decompress') as XzModule);

/** The forms a Debian-style archive serves an index in, most preferred first (smallest download). */
export const INDEX_SUFFIXES = ['.xz', '.gz', ''] as const;
export type IndexSuffix = (typeof INDEX_SUFFIXES)[number];

export function suffixOf(name: string): IndexSuffix {
  return name.endsWith('.xz') ? '.xz' : name.endsWith('.gz') ? '.gz' : '';
}

/**
 * Decompresses an index by the form its name says (the Release lists the name and the hash of those
 * exact bytes), refusing output past `max` bytes so a hostile mirror cannot exhaust memory.
 */
export async function decompressIndex(name: string, data: Buffer, max: number): Promise<Buffer> {
  const suffix = suffixOf(name);
  try {
    if (suffix === '.gz') return gunzipSync(data, { maxOutputLength: max });
    if (suffix === '') return data;
    // xz-decompress runs xz-embedded compiled to WebAssembly: no native build, nothing fetched at install.
    const input = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        controller.close();
      },
    });
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of new (xzModule().XzReadableStream)(input)) {
      total += chunk.byteLength;
      if (total > max) throw new ImggateError('BLOB_TOO_LARGE', `${name} decompresses to more than ${max} bytes`);
      // Copied: the decoder may hand out views of its WebAssembly memory, reused for the next chunk.
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof ImggateError) throw err;
    throw new ImggateError('LAYER_DECOMPRESS_FAILED', `${name} does not decompress: ${(err as Error).message}`, { cause: err });
  }
}
