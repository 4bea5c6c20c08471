import { build } from "esbuild";

/**
 * Bundles a Worker entry (`src/runtime/worker.ts`, `bench/edge-worker.ts`) into one ES module for
 * Miniflare, as wrangler bundles for workerd; shared by the benchmarks that run on workerd.
 */
export async function bundleForWorkerd(entry: string, outfile: string): Promise<void> {
	await build({
		entryPoints: [entry],
		outfile,
		bundle: true,
		format: "esm",
		target: "es2022",
		platform: "neutral",
		conditions: ["workerd", "worker", "browser"],
		mainFields: ["browser", "module", "main"],
		external: ["node:*", "cloudflare:*"],
		logLevel: "warning",
	});
}
