/**
 * `npm run bench`: the credential guard's cost on both runtimes, measured side by side in one run.
 *
 * Node: bench/node-server.ts in a child process (@hono/node-server, embedded libSQL).
 * workerd: bench/edge-worker.ts bundled by esbuild and run by Miniflare, libSQL reached over HTTP
 * through the Hrana stand-in (bench/hrana-server.ts, a child process) on a loopback port.
 * Load: autocannon from this process. Figures are reported, never asserted: the exit code is 0
 * whether the goals are met or not, and non-zero only when the bench itself could not run.
 *
 * Env: BENCH_SECONDS (measured seconds per case, 5), BENCH_WARMUP_SECONDS (1), BENCH_CONNECTIONS (10),
 * BENCH_COLD_KEYS (2000), BENCH_RUNTIMES ("node,workerd"), BENCH_LOGINS (sequential logins timed, 30).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { apiKeyStart, generateApiKey, hashApiKey } from "../src/auth/api-key.js";
import { createJwtSigner, generateSigningKey } from "../src/auth/jwt.js";
import { hashPassword } from "../src/auth/password.js";
import { systemClock } from "../src/clock.js";
import { jwtSettingsFrom } from "../src/config.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { apiKeys, users } from "../src/db/schema.js";
import { newId } from "../src/ids.js";
import { createApiKey, createOrg } from "../src/services/api-keys.js";
import { runHeartbeatBench } from "./heartbeats.js";
import { runLoadBench } from "./load.js";
import { runOqlBench } from "./oql.js";
import { benchOtlp } from "./otlp.js";
import { runPagesBench } from "./pages.js";
import { findWorkerdPid, percentile, processCpuSeconds, tsxChildArgs } from "./proc.js";
import { benchQueue } from "./queue.js";
import { bundleForWorkerd } from "./workerd-bundle.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function numberFromEnv(name: string, fallback: number, integer = false): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
		throw new Error(
			`${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(raw)}`,
		);
	}
	return value;
}

const SECONDS = numberFromEnv("BENCH_SECONDS", 5);
const WARMUP_SECONDS = numberFromEnv("BENCH_WARMUP_SECONDS", 1);
const CONNECTIONS = numberFromEnv("BENCH_CONNECTIONS", 10, true);
const COLD_KEYS = numberFromEnv("BENCH_COLD_KEYS", 2000, true);
const LOGINS = numberFromEnv("BENCH_LOGINS", 30, true);
const RUNTIMES = (process.env.BENCH_RUNTIMES ?? "node,workerd").split(",").map((r) => r.trim());
/** The pass over every cold key before measuring is cut off here, whether or not it is complete. */
const COLD_PASS_MAX_SECONDS = 20;
const GOALS = [
	{ case: "b", min: 0.95 },
	{ case: "d", min: 0.9 },
] as const;

// ---------------------------------------------------------------------------------------------
// Cleanup: every resource registers its closer; they run in reverse at the end or on a signal.
// A synchronous last resort on "exit" kills what is left and removes the temp dir, should the
// process end mid-cleanup (e.g. Ctrl-C also killed workerd, and Miniflare's dispose never settles).

const cleanups: Array<() => unknown> = [];
let cleaning: Promise<void> | undefined;
const lastResort = { pids: new Set<number>(), paths: new Set<string>() };

function cleanup(): Promise<void> {
	cleaning ??= (async () => {
		while (cleanups.length > 0) {
			const close = cleanups.pop() as () => unknown;
			try {
				await close();
			} catch (error) {
				console.error("bench: cleanup step failed:", error);
			}
		}
	})();
	return cleaning;
}

process.on("exit", () => {
	for (const pid of lastResort.pids) {
		try {
			process.kill(pid, "SIGKILL");
		} catch {
			// already gone
		}
	}
	for (const path of lastResort.paths) rmSync(path, { recursive: true, force: true });
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
	process.once(signal, () => {
		console.error(`\nbench: ${signal}, cleaning up`);
		void cleanup().finally(() => process.exit(130));
	});
}

function withTimeout(work: Promise<unknown>, ms: number, what: string): Promise<unknown> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
	});
	return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one migrated database with an org, one warm key and COLD_KEYS distinct cold keys.

interface Fixtures {
	nodeDbUrl: string;
	edgeDbUrl: string;
	signingKeysJson: string;
	totpKey: string;
	warmKey: string;
	coldKeys: string[];
	token: string;
	login: { email: string; password: string };
}

async function createFixtures(dir: string): Promise<Fixtures> {
	const nodeDbPath = join(dir, "node.db");
	const edgeDbPath = join(dir, "edge.db");
	const { client, db } = await openMigratedDatabase(`file:${nodeDbPath}`);
	try {
		const clock = systemClock;
		const org = await createOrg(db, clock, "Bench");
		const warm = await createApiKey(db, clock, { orgId: org.id, name: "warm", createdBy: "cli" });
		const coldKeys: string[] = [];
		const rows: (typeof apiKeys.$inferInsert)[] = [];
		for (let i = 0; i < COLD_KEYS; i++) {
			const key = generateApiKey();
			coldKeys.push(key);
			rows.push({
				id: newId("key"),
				orgId: org.id,
				name: `cold ${i}`,
				start: apiKeyStart(key),
				keyHash: hashApiKey(key),
				createdAt: clock.now(),
				createdBy: "cli",
			});
		}
		for (let i = 0; i < rows.length; i += 200) await db.insert(apiKeys).values(rows.slice(i, i + 200));
		const login = { email: "bench@example.com", password: "bench passphrase for logins 42" };
		await db.insert(users).values({
			id: newId("usr"),
			orgId: org.id,
			email: login.email,
			name: "Bench",
			role: "viewer",
			passwordHash: await hashPassword(login.password),
			createdAt: clock.now(),
			updatedAt: clock.now(),
		});
		// The Worker gets its own copy: neither runtime's last_used_at writes touch the other's file.
		await client.execute({ sql: "VACUUM INTO ?", args: [edgeDbPath] });

		const signingKeysJson = JSON.stringify({ keys: [await generateSigningKey()] });
		const sign = createJwtSigner(jwtSettingsFrom({}, signingKeysJson), clock);
		const token = await sign({ orgId: org.id, userId: "usr_bench", role: "viewer" });
		return {
			nodeDbUrl: `file:${nodeDbPath}`,
			edgeDbUrl: `file:${edgeDbPath}`,
			signingKeysJson,
			totpKey: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
			warmKey: warm.key,
			coldKeys,
			token,
			login,
		};
	} finally {
		client.close();
	}
}

// ---------------------------------------------------------------------------------------------
// Child processes (the Node server, the Hrana stand-in)

async function startChild<T>(
	script: string,
	env: Record<string, string>,
): Promise<{ child: ChildProcess; info: T }> {
	const child = spawn(process.execPath, tsxChildArgs(join(ROOT, script)), {
		cwd: ROOT,
		env: { ...process.env, ...env },
		stdio: ["ignore", "pipe", "inherit"],
	});
	if (child.pid !== undefined) lastResort.pids.add(child.pid);
	cleanups.push(() => stopChild(child));
	const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
	const line = await new Promise<string>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
		lines.once("line", (first) => {
			clearTimeout(timer);
			resolve(first);
		});
		child.once("exit", (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`${script} exited before it was ready (code ${code}, signal ${signal})`));
		});
	});
	lines.on("line", (more) => console.error(`[${script}] ${more}`));
	return { child, info: JSON.parse(line) as T };
}

async function stopChild(child: ChildProcess): Promise<void> {
	if (child.exitCode === null && child.signalCode === null) {
		const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
		child.kill("SIGTERM");
		const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
		await exited;
		clearTimeout(timer);
	}
	if (child.pid !== undefined) lastResort.pids.delete(child.pid);
}

// ---------------------------------------------------------------------------------------------
// Cases and measurement

interface BenchCase {
	id: "a" | "b" | "c" | "d";
	label: string;
	path: string;
	/** Headers for one request; the cold case rotates through its keys. */
	headers: () => Record<string, string>;
	/** Requests of a pass over the keys before measuring (see docs/performance.md). */
	warmupRequests?: number;
}

function casesFor(f: Fixtures): BenchCase[] {
	let next = 0;
	return [
		{ id: "a", label: "(a) no-op, no auth", path: "/noop", headers: () => ({}) },
		{ id: "b", label: "(b) API key, warm", path: "/key", headers: () => ({ "x-api-key": f.warmKey }) },
		{
			id: "c",
			label: "(c) API key, cold",
			path: "/key-cold",
			headers: () => ({ "x-api-key": f.coldKeys[next++ % f.coldKeys.length] as string }),
			warmupRequests: f.coldKeys.length,
		},
		{
			id: "d",
			label: "(d) JWT Bearer",
			path: "/jwt",
			headers: () => ({ authorization: `Bearer ${f.token}` }),
		},
	];
}

interface Pids {
	/** The process serving HTTP: the Node child, or workerd. */
	server: number | undefined;
	/** The libSQL process when it is not the server (the Hrana stand-in, for workerd). */
	database?: number | undefined;
}

interface Figures {
	rps: number;
	p50: number;
	p99: number;
	serverCpuUsPerReq: number | null;
	serverCpuPct: number | null;
	databaseCpuUsPerReq: number | null;
	generatorCpuPct: number;
	failures: number;
}

interface Row extends Figures {
	runtime: string;
	case: BenchCase;
	ratio: number;
}

/** One autocannon run; `onLatency` gets every 2xx response's latency in ms (autocannon's own
 * histogram has 1 ms resolution, too coarse here); `maxSeconds` cuts a run by `amount` short. */
function cannon(
	options: autocannon.Options,
	onLatency?: (ms: number) => void,
	maxSeconds?: number,
): Promise<autocannon.Result> {
	return new Promise((resolve, reject) => {
		let deadline: NodeJS.Timeout | undefined;
		const instance = autocannon(options, (error, result) => {
			clearTimeout(deadline);
			if (error) reject(error);
			else resolve(result);
		});
		if (maxSeconds !== undefined) deadline = setTimeout(() => instance.stop(), maxSeconds * 1000);
		if (onLatency) {
			instance.on("response", (_client, status, _bytes, ms) => {
				if (status >= 200 && status < 300) onLatency(ms);
			});
		}
	});
}

function requestsFor(benchCase: BenchCase): autocannon.Request[] {
	return [
		{
			method: "GET",
			path: benchCase.path,
			// called for every request, so each one carries the case's next headers
			setupRequest: (request) => ({ ...request, headers: { ...request.headers, ...benchCase.headers() } }),
		},
	];
}

function cpuDelta(before: number | null, after: number | null): number | null {
	return before === null || after === null ? null : after - before;
}

async function measure(runtime: string, baseUrl: string, benchCase: BenchCase, pids: Pids): Promise<Figures> {
	const probe = await fetch(baseUrl + benchCase.path, {
		headers: benchCase.headers(),
		signal: AbortSignal.timeout(15_000),
	});
	if (probe.status !== 200) {
		throw new Error(`${runtime} ${benchCase.path} answered ${probe.status}: ${await probe.text()}`);
	}
	const common = { url: baseUrl, connections: CONNECTIONS, requests: requestsFor(benchCase) };
	await cannon({ ...common, duration: WARMUP_SECONDS });
	if (benchCase.warmupRequests) {
		await cannon({ ...common, amount: benchCase.warmupRequests }, undefined, COLD_PASS_MAX_SECONDS);
	}

	const latencies: number[] = [];
	const serverBefore = processCpuSeconds(pids.server);
	const databaseBefore = processCpuSeconds(pids.database);
	const generatorBefore = process.cpuUsage();
	const result = await cannon({ ...common, duration: SECONDS }, (ms) => latencies.push(ms));
	const generator = process.cpuUsage(generatorBefore);
	const serverCpu = cpuDelta(serverBefore, processCpuSeconds(pids.server));
	const databaseCpu = cpuDelta(databaseBefore, processCpuSeconds(pids.database));

	const ok = result["2xx"];
	const perRequestUs = (cpu: number | null) => (cpu === null || ok === 0 ? null : (cpu * 1e6) / ok);
	return {
		rps: ok / result.duration,
		p50: percentile(latencies, 50),
		p99: percentile(latencies, 99),
		serverCpuUsPerReq: perRequestUs(serverCpu),
		serverCpuPct: serverCpu === null ? null : (100 * serverCpu) / result.duration,
		databaseCpuUsPerReq: perRequestUs(databaseCpu),
		generatorCpuPct: (100 * (generator.user + generator.system)) / 1e6 / result.duration,
		failures: result.non2xx + result.errors + result.timeouts,
	};
}

async function measureRuntime(runtime: string, baseUrl: string, cases: BenchCase[], pids: Pids) {
	const rows: Row[] = [];
	for (const benchCase of cases) {
		process.stderr.write(`bench: ${runtime} ${benchCase.label} … `);
		const figures = await measure(runtime, baseUrl, benchCase, pids);
		process.stderr.write(`${Math.round(figures.rps)} req/s\n`);
		rows.push({ runtime, case: benchCase, ratio: Number.NaN, ...figures });
	}
	const base = rows.find((row) => row.case.id === "a")?.rps ?? Number.NaN;
	for (const row of rows) row.ratio = row.rps / base;
	return rows;
}

/** Sequential logins (one at a time, so the figure is scrypt and the session writes, not queueing). */
async function measureLogin(runtime: string, baseUrl: string, f: Fixtures): Promise<LoginRow> {
	process.stderr.write(`bench: ${runtime} login × ${LOGINS} … `);
	const times: number[] = [];
	let failures = 0;
	for (let i = 0; i < LOGINS; i++) {
		const started = performance.now();
		const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify(f.login),
		});
		await response.arrayBuffer();
		if (response.status === 200) times.push(performance.now() - started);
		else failures++;
	}
	process.stderr.write(`p50 ${percentile(times, 50).toFixed(1)} ms\n`);
	return { runtime, p50: percentile(times, 50), p99: percentile(times, 99), n: times.length, failures };
}

interface LoginRow {
	runtime: string;
	p50: number;
	p99: number;
	n: number;
	failures: number;
}

const loginRows: LoginRow[] = [];

// ---------------------------------------------------------------------------------------------
// Runtimes

async function benchNode(dir: string, f: Fixtures, cases: BenchCase[]): Promise<Row[]> {
	const { child, info } = await startChild<{ port: number }>("bench/node-server.ts", {
		BENCH_DATABASE_URL: f.nodeDbUrl,
		BENCH_DATA_DIR: join(dir, "node-data"),
		JWT_SIGNING_KEYS: f.signingKeysJson,
		TOTP_ENCRYPTION_KEY: f.totpKey,
	});
	try {
		const rows = await measureRuntime("node", `http://127.0.0.1:${info.port}`, cases, { server: child.pid });
		loginRows.push(await measureLogin("node", `http://127.0.0.1:${info.port}`, f));
		return rows;
	} finally {
		await stopChild(child);
	}
}

async function benchWorkerd(dir: string, f: Fixtures, cases: BenchCase[]): Promise<Row[]> {
	const { child: hrana, info } = await startChild<{ url: string }>("bench/hrana-server.ts", {
		BENCH_DATABASE_URL: f.edgeDbUrl,
	});
	try {
		const scriptPath = join(dir, "edge-worker.mjs");
		await bundleForWorkerd(join(ROOT, "bench/edge-worker.ts"), scriptPath);
		const mf = new Miniflare({
			modules: true,
			scriptPath,
			modulesRoot: dir,
			compatibilityDate: "2026-04-20",
			compatibilityFlags: ["nodejs_compat"],
			kvNamespaces: ["KEY_CACHE"],
			kvPersist: join(dir, "kv"),
			bindings: {
				DATABASE_URL: info.url,
				JWT_SIGNING_KEYS: f.signingKeysJson,
				TOTP_ENCRYPTION_KEY: f.totpKey,
			},
			host: "127.0.0.1",
			port: 0,
		});
		let disposed = false;
		const dispose = async () => {
			if (disposed) return;
			disposed = true;
			await withTimeout(mf.dispose(), 10_000, "Miniflare dispose");
		};
		cleanups.push(dispose);
		try {
			const url = await mf.ready;
			const workerd = findWorkerdPid();
			if (workerd !== undefined) lastResort.pids.add(workerd);
			const rows = await measureRuntime("workerd", url.origin, cases, {
				server: workerd,
				database: hrana.pid,
			});
			loginRows.push(await measureLogin("workerd", url.origin, f));
			return rows;
		} finally {
			await dispose();
		}
	} finally {
		await stopChild(hrana);
	}
}

// ---------------------------------------------------------------------------------------------
// Report

function formatTable(rows: Row[]): string {
	const fixed = (value: number | null, digits: number) =>
		value === null || Number.isNaN(value) ? "–" : value.toFixed(digits);
	const header = [
		"runtime",
		"case",
		"req/s",
		"p50 ms",
		"p99 ms",
		"× (a)",
		"srv CPU µs/req",
		"srv CPU %",
		"db CPU µs/req",
		"gen CPU %",
		"non-2xx/err",
	];
	const body = rows.map((row) => [
		row.runtime,
		row.case.label,
		row.rps.toFixed(0),
		fixed(row.p50, 2),
		fixed(row.p99, 2),
		fixed(row.ratio, 2),
		fixed(row.serverCpuUsPerReq, 0),
		fixed(row.serverCpuPct, 0),
		fixed(row.databaseCpuUsPerReq, 0),
		fixed(row.generatorCpuPct, 0),
		row.rps === 0 ? "all hung" : String(row.failures),
	]);
	const left = new Set([0, 1]);
	const widths = header.map((h, i) =>
		Math.max(h.length, ...body.map((cells) => (cells[i] as string).length)),
	);
	const pad = (cell: string, i: number) =>
		left.has(i) ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number);
	const line = (cells: string[]) => `| ${cells.map(pad).join(" | ")} |`;
	const rule = `|${widths.map((w, i) => (left.has(i) ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
	return [line(header), rule, ...body.map(line)].join("\n");
}

function formatGoals(rows: Row[]): string[] {
	const lines: string[] = [];
	for (const runtime of new Set(rows.map((row) => row.runtime))) {
		for (const goal of GOALS) {
			const row = rows.find((r) => r.runtime === runtime && r.case.id === goal.case);
			if (!row) continue;
			const verdict =
				row.failures > 0 || row.rps === 0
					? "not met (requests failed)"
					: row.ratio >= goal.min
						? "met"
						: "not met";
			// the same comparison by the server's CPU per request, which a busy machine disturbs less
			const base = rows.find((r) => r.runtime === runtime && r.case.id === "a");
			const byCpu =
				base?.serverCpuUsPerReq && row.serverCpuUsPerReq
					? ` (by server CPU per request: ${(base.serverCpuUsPerReq / row.serverCpuUsPerReq).toFixed(2)}×)`
					: "";
			lines.push(
				`- goal ${runtime}: ${row.case.label} ≥ ${goal.min.toFixed(2)}×(a): ${row.ratio.toFixed(2)}×${byCpu} → ${verdict}`,
			);
		}
	}
	return lines;
}

async function main(): Promise<void> {
	const started = Date.now();
	const loadBefore = loadavg()[0] as number;
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-bench-"));
	lastResort.paths.add(dir);
	cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

	console.error(
		`bench: ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s per case, ` +
			`${COLD_KEYS} cold keys, runtimes ${RUNTIMES.join(", ")}`,
	);
	const fixtures = await createFixtures(dir);
	const cases = casesFor(fixtures);
	const rows: Row[] = [];
	for (const runtime of RUNTIMES) {
		if (runtime === "node") rows.push(...(await benchNode(dir, fixtures, cases)));
		else if (runtime === "workerd") rows.push(...(await benchWorkerd(dir, fixtures, cases)));
		else throw new Error(`Unknown runtime in BENCH_RUNTIMES: ${runtime}`);
	}

	console.log();
	console.log(
		`Hexcovery bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} CPU(s), ` +
			`${CONNECTIONS} connections, ${SECONDS} s per case after ${WARMUP_SECONDS} s warm-up, ` +
			`load average ${loadBefore.toFixed(2)} before / ${(loadavg()[0] as number).toFixed(2)} after`,
	);
	console.log();
	console.log(formatTable(rows));
	console.log();
	for (const line of formatGoals(rows)) console.log(line);
	console.log();
	console.log("Login (POST /api/v1/auth/login, one at a time: scrypt N=2^14 r=8 p=5 + session writes)");
	console.log();
	console.log("| runtime | logins | p50 ms | p99 ms | failed |");
	console.log("|---|---:|---:|---:|---:|");
	for (const row of loginRows) {
		console.log(
			`| ${row.runtime} | ${row.n} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.failures} |`,
		);
	}
	console.log();
	// Heartbeats (bench/heartbeats.ts): pings per second, statements per ping, the sweep; its own tables.
	if (process.env.BENCH_HEARTBEATS !== "0") {
		const options = { dir, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS };
		await runHeartbeatBench({ ...options, runtimes: RUNTIMES, cleanups, pids: lastResort.pids });
		console.log();
	}
	// OTLP ingest (bench/otlp.ts): spans and log records per second end to end vs a raw insert; memory.
	if (process.env.BENCH_OTLP !== "0") await benchOtlp();
	// Cloudflare Queues (bench/queue.ts): OTLP exports on workerd written directly vs through the queue.
	if (process.env.BENCH_QUEUE !== "0") await benchQueue();
	// OQL (bench/oql.ts): ten queries as OQL vs the same SQL by hand, 1M logs + 1M spans; BENCH_OQL_ROWS=0 skips.
	await runOqlBench();
	// Built-in pages (bench/pages.ts): p50/p99 of each page over the OQL data set.
	if (process.env.BENCH_PAGES !== "0") await runPagesBench();
	// Heavy reads (bench/load.ts): /health, ping and OTLP p99 alone vs beside a 24 h overview loop.
	if (process.env.BENCH_LOAD !== "0") await runLoadBench();
	console.log(`(a report, not an assertion; total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

try {
	await main();
} catch (error) {
	console.error("bench failed:", error);
	process.exitCode = 1;
} finally {
	await cleanup();
}
