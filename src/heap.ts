/**
 * The check's JavaScript heap when `limits.maxHeap` is not set. A leaf of its own: the CLI starts the
 * check's thread with it before it loads the config (cli/check-thread.ts).
 */
export const DEFAULT_MAX_HEAP_BYTES = 2 * 1024 ** 3;
