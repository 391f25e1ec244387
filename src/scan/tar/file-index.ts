import { open, type FileHandle } from 'node:fs/promises';
import { ImggateError } from '../../errors.js';
import { normalizeEntryPath } from '../paths.js';
import type { ByteSource } from './byte-source.js';
import { readTar } from './reader.js';

/** Where a member's content sits inside an archive file. */
export interface ArchiveMember {
  readonly offset: number;
  readonly size: number;
}

/** Random access over a file for `readTar`: content that is not read is seeked past, not read. */
class FileByteSource implements ByteSource {
  readonly #handle: FileHandle;
  readonly #size: number;
  position = 0;

  constructor(handle: FileHandle, size: number) {
    this.#handle = handle;
    this.#size = size;
  }

  async readExact(n: number): Promise<Buffer | null> {
    if (this.position >= this.#size) return n === 0 ? Buffer.alloc(0) : null;
    if (this.position + n > this.#size) throw new ImggateError('TAR_INVALID', `the archive ends inside a member at offset ${this.position}`);
    const buffer = Buffer.alloc(n);
    const { bytesRead } = await this.#handle.read(buffer, 0, n, this.position);
    if (bytesRead !== n) throw new ImggateError('TAR_INVALID', `short read at offset ${this.position}`);
    this.position += n;
    return buffer;
  }

  async *chunks(n: number): AsyncGenerator<Buffer> {
    const data = await this.readExact(n);
    if (data) yield data;
  }

  async skipAvailable(n: number): Promise<number> {
    const take = Math.max(0, Math.min(n, this.#size - this.position));
    this.position += take;
    return take;
  }

  async skip(n: number): Promise<void> {
    if (this.position + n > this.#size) throw new ImggateError('TAR_INVALID', `the archive ends inside a member at offset ${this.position}`);
    this.position += n;
  }
}

/** Indexes the regular files of a tar archive on disk by normalised path, reading headers only. */
export async function indexTarFile(file: string): Promise<Map<string, ArchiveMember>> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const source = new FileByteSource(handle, size);
    const members = new Map<string, ArchiveMember>();
    for await (const { header } of readTar(source)) {
      if (header.type !== 'file') continue;
      const path = normalizeEntryPath(header.name);
      if (members.has(path)) throw new ImggateError('SOURCE_INVALID', `${file}: member ${path} appears twice`);
      members.set(path, { offset: source.position, size: header.size });
    }
    return members;
  } finally {
    await handle.close();
  }
}
