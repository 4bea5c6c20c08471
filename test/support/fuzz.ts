/**
 * Settings of the property/fuzz suites (test/node/fuzz-*.test.ts). `npm test` runs them with a fixed
 * seed and a small number of cases; `npm run fuzz` runs them longer (FUZZ_SCALE) with a fresh seed
 * (FUZZ_SEED=random), printing the seed so a failure can be replayed: `FUZZ_SEED=<seed> npm run fuzz`.
 */
const seedText = process.env.FUZZ_SEED ?? "20261202";
export const FUZZ_SEED = seedText === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
export const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);

if (process.env.FUZZ_SEED === "random" || FUZZ_SCALE !== 1) {
	console.log(`fuzz: seed ${FUZZ_SEED}, scale ${FUZZ_SCALE}`);
}

/** fast-check parameters for a property that runs `runs` cases under `npm test`. */
export function fuzzRuns(runs: number): { seed: number; numRuns: number } {
	return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * FUZZ_SCALE)) };
}

/** A per-test timeout that grows with the scale. */
export function fuzzTimeout(ms: number): number {
	return Math.round(ms * Math.max(1, FUZZ_SCALE));
}
