/**
 * `npm run build:web`: builds the UI into dist/web with Vite. With `--if-stale` (what `npm start`,
 * `npm run dev:edge` and the test setup run) it builds only when dist/web is missing or older than
 * a file under web/, so a fresh clone never serves a missing bundle and a warm start costs ~nothing.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WEB = join(ROOT, "web");
const BUILT = join(ROOT, "dist", "web", "index.html");
/** Inputs besides web/ whose change changes the bundle. */
const EXTRA_INPUTS = [
	join(ROOT, "package-lock.json"),
	join(ROOT, "src", "web", "security-headers.ts"),
	join(ROOT, "src", "web", "api-reference.ts"),
];

function newestMtime(path: string): number {
	const stat = statSync(path);
	if (!stat.isDirectory()) return stat.mtimeMs;
	return readdirSync(path).reduce(
		(newest, name) => Math.max(newest, newestMtime(join(path, name))),
		stat.mtimeMs,
	);
}

export function webBuildIsStale(): boolean {
	if (!existsSync(BUILT)) return true;
	const built = statSync(BUILT).mtimeMs;
	return Math.max(newestMtime(WEB), ...EXTRA_INPUTS.filter(existsSync).map(newestMtime)) > built;
}

export async function buildWeb(options: { ifStale?: boolean; quiet?: boolean } = {}): Promise<boolean> {
	if (options.ifStale && !webBuildIsStale()) return false;
	await build({ configFile: join(WEB, "vite.config.ts"), logLevel: options.quiet ? "warn" : "info" });
	return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const ifStale = process.argv.includes("--if-stale");
	const built = await buildWeb({ ifStale, quiet: ifStale });
	if (ifStale) console.log(built ? "web UI built into dist/web" : "web UI is up to date (dist/web)");
}
