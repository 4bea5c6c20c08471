/**
 * The ClickHouse engine for tests and benches: the npm package `chdb` (embedded ClickHouse; its Linux
 * library `@chdb/lib-linux-x64-gnu` is ~570 MB unpacked), installed on demand into `.cache/chdb` and
 * never into node_modules, so `npm install` stays light for a newcomer.
 *
 *   npm run clickhouse:install   # or: npx tsx scripts/clickhouse-engine.ts
 *
 * The ClickHouse suite (test/clickhouse/**, vitest project `clickhouse`) runs when the engine is
 * installed and is left out, with one line saying so, when it is not. CI (.ci/run) installs it first.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The pinned engine: chdb 3.4.0 ships libchdb 26.7 (ClickHouse 26.7). */
export const CHDB_VERSION = "3.4.0";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the engine is installed (git-ignored). */
export const CHDB_PREFIX = join(ROOT, ".cache", "chdb");
const PACKAGE_JSON = join(CHDB_PREFIX, "node_modules", "chdb", "package.json");

/** The command that installs the engine, for messages. */
export const INSTALL_HINT = "npm run clickhouse:install";

/** What the stand-in uses of chdb's API (chdb ships its own index.d.ts, outside node_modules here). */
export interface ChdbResult {
	text(): string;
	readonly rowsRead: number;
	readonly bytesRead: number;
	readonly elapsed: number;
}
export interface ChdbSession {
	readonly path: string;
	queryBindAsync(query: string, params: object, opts?: { format?: string }): Promise<ChdbResult>;
	close(): void;
}
export interface ChdbModule {
	Session: new (path?: string, opts?: { connectionArgs?: readonly string[] }) => ChdbSession;
	version(): { chdb: string; libchdb: string };
}

/** Whether the pinned engine is installed in .cache/chdb. */
export function chdbInstalled(): boolean {
	if (!existsSync(PACKAGE_JSON)) return false;
	const require = createRequire(PACKAGE_JSON);
	return (require(PACKAGE_JSON) as { version?: string }).version === CHDB_VERSION;
}

/** Loads the installed engine; throws with the install command when it is absent. */
export function loadChdb(): ChdbModule {
	if (!chdbInstalled()) {
		throw new Error(`The ClickHouse engine (chdb ${CHDB_VERSION}) is not installed: run ${INSTALL_HINT}`);
	}
	return createRequire(PACKAGE_JSON)("chdb") as ChdbModule;
}

/** Installs the pinned engine into .cache/chdb (a no-op when it is there). Returns the seconds taken. */
export function installChdb(
	log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): number {
	if (chdbInstalled()) {
		log(`ClickHouse engine: chdb ${CHDB_VERSION} already in ${CHDB_PREFIX}`);
		return 0;
	}
	log(`ClickHouse engine: installing chdb ${CHDB_VERSION} into ${CHDB_PREFIX} (~570 MB unpacked)…`);
	const started = performance.now();
	execFileSync(
		"npm",
		["install", "--no-save", "--no-audit", "--no-fund", "--prefix", CHDB_PREFIX, `chdb@${CHDB_VERSION}`],
		{ stdio: ["ignore", "inherit", "inherit"] },
	);
	const seconds = (performance.now() - started) / 1000;
	const version = loadChdb().version();
	log(
		`ClickHouse engine: chdb ${version.chdb} (ClickHouse ${version.libchdb}) installed in ${seconds.toFixed(1)} s`,
	);
	return seconds;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	installChdb();
}
