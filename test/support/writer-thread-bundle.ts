import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

let bundle: Promise<string> | undefined;

/**
 * The writer thread's module (src/ingest/writer-thread-main.ts) bundled into one ESM file, with its
 * packages left to Node: a thread loads it without tsx, in ~0.2 s instead of ~1 s (tsx's loader
 * hooks resolve and transform every module it imports). The suites that run every case over a
 * thread of their own start dozens of threads; they use this. The server and the writer thread's
 * own tests load the TypeScript entry through tsx, as `npm start` does. Built once per test process.
 */
export function writerThreadBundle(): Promise<string> {
	bundle ??= (async () => {
		// Inside the repository, so that its packages resolve from node_modules as the source's do.
		const cache = fileURLToPath(new URL("../../node_modules/.cache", import.meta.url));
		mkdirSync(cache, { recursive: true });
		const outfile = join(mkdtempSync(join(cache, "hexcovery-writer-thread-")), "main.mjs");
		await build({
			entryPoints: [fileURLToPath(new URL("../../src/ingest/writer-thread-main.ts", import.meta.url))],
			bundle: true,
			packages: "external",
			platform: "node",
			format: "esm",
			target: "node20",
			outfile,
			logLevel: "silent",
		});
		return pathToFileURL(outfile).href;
	})();
	return bundle;
}
