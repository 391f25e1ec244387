import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ImggateError } from '../errors.js';
import { indexTarFile, type ArchiveMember } from '../scan/tar/file-index.js';
import { normalizeEntryPath } from '../scan/paths.js';
import type { LayoutFiles } from './layout.js';

async function readCapped(file: string, start: number, size: number, maxBytes: number, what: string): Promise<Buffer> {
  if (size > maxBytes) throw new ImggateError('BLOB_TOO_LARGE', `${what} is ${size} bytes, over the ${maxBytes}-byte limit`);
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await handle.read(buffer, 0, size, start);
    if (bytesRead !== size) throw new ImggateError('SOURCE_INVALID', `${what}: short read`);
    return buffer;
  } finally {
    await handle.close();
  }
}

/**
 * Files in a directory; paths are layout-relative and never leave it, by name or by symlink: a blob
 * that is a symlink to /etc/shadow (or a `blobs` directory that links elsewhere) is refused, not read.
 */
export class DirectoryFiles implements LayoutFiles {
  readonly where: string;
  readonly #dir: string;
  #root: Promise<string> | undefined;

  constructor(dir: string) {
    this.#dir = path.resolve(dir);
    this.where = dir;
  }

  /** The real path of `relative`, or undefined when it does not exist; throws when it resolves outside. */
  async #path(relative: string): Promise<string | undefined> {
    const full = path.resolve(this.#dir, relative);
    if (!full.startsWith(this.#dir + path.sep)) throw new ImggateError('SOURCE_ESCAPE', `path ${relative} leaves ${this.where}`);
    // The directory the user named may itself be a symlink; what is inside it may not lead out of it.
    this.#root ??= realpath(this.#dir);
    const root = await this.#root;
    let real: string;
    try {
      real = await realpath(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ImggateError('SOURCE_INVALID', `${this.where}/${relative}: ${(err as Error).message}`, { cause: err });
    }
    if (!real.startsWith(root + path.sep)) {
      throw new ImggateError('SOURCE_ESCAPE', `${this.where}/${relative} resolves to ${real}, outside the layout directory; refusing to read it`);
    }
    return real;
  }

  async read(relative: string, maxBytes: number): Promise<Buffer | undefined> {
    const file = await this.#path(relative);
    if (file === undefined) return undefined;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return readCapped(file, 0, info.size, maxBytes, `${this.where}/${relative}`);
  }

  async open(relative: string): Promise<{ stream: Readable; size: number } | undefined> {
    const file = await this.#path(relative);
    if (file === undefined) return undefined;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return { stream: createReadStream(file, { highWaterMark: 1024 * 1024 }), size: info.size };
  }
}

/** Members of an uncompressed tar archive, read in place: nothing is extracted to disk. */
export class ArchiveFiles implements LayoutFiles {
  readonly where: string;
  readonly #file: string;
  readonly #members: Map<string, ArchiveMember>;

  private constructor(file: string, members: Map<string, ArchiveMember>) {
    this.#file = file;
    this.where = file;
    this.#members = members;
  }

  static async open(file: string): Promise<ArchiveFiles> {
    const info = await stat(file).catch(() => undefined);
    if (!info) throw new ImggateError('SOURCE_NOT_FOUND', `${file} does not exist`);
    if (!info.isFile()) throw new ImggateError('SOURCE_INVALID', `${file} is not a file`);
    const head = await readCapped(file, 0, Math.min(4, info.size), 4, file);
    if (head[0] === 0x1f && head[1] === 0x8b) {
      throw new ImggateError('SOURCE_INVALID', `${file} is gzip-compressed; decompress it first (gunzip), as skopeo and docker load expect a plain tar`);
    }
    try {
      return new ArchiveFiles(file, await indexTarFile(file));
    } catch (err) {
      if (err instanceof ImggateError && err.code === 'SOURCE_INVALID') throw err;
      throw new ImggateError('SOURCE_INVALID', `${file} is not a readable tar archive: ${(err as Error).message}`, { cause: err });
    }
  }

  #member(relative: string): ArchiveMember | undefined {
    return this.#members.get(normalizeEntryPath(relative));
  }

  async read(relative: string, maxBytes: number): Promise<Buffer | undefined> {
    const member = this.#member(relative);
    if (!member) return undefined;
    return readCapped(this.#file, member.offset, member.size, maxBytes, `${this.where}:${relative}`);
  }

  async open(relative: string): Promise<{ stream: Readable; size: number } | undefined> {
    const member = this.#member(relative);
    if (!member) return undefined;
    const stream = member.size === 0
      ? Readable.from([])
      : createReadStream(this.#file, { start: member.offset, end: member.offset + member.size - 1 });
    return { stream, size: member.size };
  }
}
