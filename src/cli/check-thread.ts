import { Worker } from 'node:worker_threads';
import { DEFAULT_MAX_HEAP_BYTES } from '../heap.js';

/**
 * The check's thread, started before the CLI has read its flags and config, so that the thread loads
 * its modules while the CLI loads its own. It is started with the default heap bound; a check whose
 * `limits.maxHeap` differs ends it and starts its own (a heap bound is fixed when a thread starts).
 * Until a check takes it, it keeps no process alive: a usage error exits as before.
 */
export class CheckThread {
  readonly #worker: Worker;
  readonly #heapMb: number;
  #taken = false;
  #exited = false;

  constructor(maxHeapBytes: number = DEFAULT_MAX_HEAP_BYTES) {
    this.#heapMb = heapMbOf(maxHeapBytes);
    this.#worker = spawnCheckThread(this.#heapMb);
    this.#worker.unref();
    // A thread that failed or ended before a check took it is not handed out: the check spawns its own and sees why.
    this.#worker.on('error', () => {});
    this.#worker.once('exit', () => (this.#exited = true));
  }

  /** The thread, when its heap bound is the one asked for; otherwise it is ended and undefined is returned. */
  take(maxHeapBytes: number): Worker | undefined {
    if (this.#taken || this.#exited) return undefined;
    this.#taken = true;
    if (heapMbOf(maxHeapBytes) !== this.#heapMb) {
      void this.#worker.terminate();
      return undefined;
    }
    this.#worker.ref();
    return this.#worker;
  }
}

/** The heap bound as the thread takes it, in MiB (at least 64). */
export const heapMbOf = (maxHeapBytes: number): number => Math.max(64, Math.floor(maxHeapBytes / 1024 ** 2));

/**
 * The young generation beside a heap bound: Node 20's and 22's 48 MiB, at most a quarter of the bound.
 * Node 24 gives a thread 192 MiB of young generation whatever its bound; promoted at once, that passes
 * a small bound by more than V8 allows for ending the thread, and the whole process aborts instead of
 * the check ending in LIMIT_EXCEEDED (a 64 MiB bound: 6 aborts in 12 runs on Node 24.22, none in 14
 * with 16 MiB). A cold check on Node 24 took the same time with 48 MiB as with 192.
 */
export const youngMbOf = (heapMb: number): number => Math.min(48, Math.floor(heapMb / 4));

/** A new check thread: it loads its modules and waits for its task (check-worker.ts). */
export function spawnCheckThread(heapMb: number): Worker {
  // The JavaScript heap of the check; layer bytes in flight are bounded by the stream buffers.
  return new Worker(new URL('./check-worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: youngMbOf(heapMb) } });
}
