/**
 * Whole-process measurements for the bench: each command runs under GNU time, which reports its
 * peak resident set (%M, the largest of the process and its waited-for children) and its CPU time
 * (%U + %S, its threads and waited-for children together); the wall time is taken around it.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../test/harness/process.js';

export interface Sample {
  readonly seconds: number;
  readonly rssMiB: number;
  /** User and system CPU seconds, every thread's. */
  readonly cpuSeconds: number;
}

export interface Command {
  readonly argv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Exit codes that mean the command did its work (default: 0 only). */
  readonly ok?: readonly number[];
}

/** Runs one command once; throws, with the end of its stderr, when it exits with a code not in `ok`. */
export async function measure(command: Command, scratch: string): Promise<Sample> {
  const [program, ...args] = command.argv;
  if (program === undefined) throw new Error('nothing to measure');
  const timeFile = path.join(scratch, `time-${process.pid}.txt`);
  const started = process.hrtime.bigint();
  const r = await run('/usr/bin/time', ['-o', timeFile, '-f', '%M %U %S', program, ...args], { env: command.env ?? process.env });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [kib, user, system] = ((await readFile(timeFile, 'utf8')).trim().split('\n').pop() ?? '').split(' ').map(Number);
  await rm(timeFile, { force: true });
  if (!(command.ok ?? [0]).includes(r.code)) throw new Error(`${command.argv.join(' ')} exited ${r.code}: ${r.stderr.slice(-1000)}`);
  return { seconds, rssMiB: (kib ?? NaN) / 1024, cpuSeconds: (user ?? NaN) + (system ?? NaN) };
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Samples gathered under one label, in the order they were taken; the table shows their medians. */
export class Samples {
  readonly #byLabel = new Map<string, Sample[]>();

  add(label: string, sample: Sample): void {
    const list = this.#byLabel.get(label) ?? [];
    list.push(sample);
    this.#byLabel.set(label, list);
  }

  /** The medians of a label's runs (wall time, peak RSS, CPU time), with how many there were. */
  median(label: string): Sample & { runs: number } {
    const list = this.#byLabel.get(label) ?? [];
    return { seconds: median(list.map((s) => s.seconds)), rssMiB: median(list.map((s) => s.rssMiB)), cpuSeconds: median(list.map((s) => s.cpuSeconds)), runs: list.length };
  }
}
