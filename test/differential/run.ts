/**
 * `npm run differential -- --runs N [--seed S]`: many more generated images than CI compares. Needs root
 * and the runtime oracle (IMGGATE_RUNTIME_ORACLE).
 */
import { checkGenerated } from './property.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} wants a non-negative integer`);
  return v;
};
const runs = arg('runs', 1000);
const seed = arg('seed', Date.now() % 2 ** 31);
console.log(`differential: ${runs} generated images, seed ${seed}`);
checkGenerated(runs, seed).then(
  () => console.log(`differential: ${runs} images, no image the runtime runs privileged passes imggate`),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  },
);
