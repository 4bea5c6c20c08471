/**
 * The heavy-read part of `npm run bench` (also runnable alone: `npx tsx bench/load.ts`): does one
 * viewer running the 24 h overview in a loop stall everybody else?
 *
 * A real Node server (bench/load-server.ts: `startNodeServer`, in its own process) over the OQL data
 * set (bench/oql.ts: BENCH_LOAD_ROWS logs and as many spans over 24 h). For each of `/health`, a
 * heartbeat ping and a small OTLP/JSON export, autocannon measures p99 alone, then again while one
 * client requests `GET /api/v1/pages/overview` over those 24 h back to back. Two servers side by
 * side in one run: `READ_POOL_SIZE=0` (heavy reads on the event loop, as before reader processes)
 * and the default pool. Goal: p99 with the loop ≤ 3× p99 alone.
 *
 * Env: BENCH_LOAD_ROWS (300000; 0 skips), BENCH_LOAD_SECONDS (5 per case), BENCH_LOAD_CONNECTIONS (5),
 * BENCH_LOAD=0 skips it in run.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import {
	createServerFixtures,
	type ServerFixtures,
	smallOtlpLogs,
	startServerChild,
} from "./load-support.js";
import { percentile } from "./proc.js";

const GOAL_RATIO = 3;

function wholeNumber(name: string, fallback: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${raw}`);
	return value;
}

interface Endpoint {
	label: string;
	request(f: ServerFixtures): autocannon.Request;
}

const ENDPOINTS: Endpoint[] = [
	{ label: "GET /health", request: () => ({ method: "GET", path: "/health" }) },
	{
		label: "POST heartbeat ping",
		request: (f) => ({
			method: "POST",
			path: "/api/v1/heartbeat/load-bench",
			headers: { "X-API-Key": f.key },
		}),
	},
	{
		label: "POST /v1/logs (1 record)",
		request: (f) => ({
			method: "POST",
			path: "/v1/logs",
			headers: { "X-API-Key": f.key, "Content-Type": "application/json" },
			body: smallOtlpLogs(1),
		}),
	},
];

/** Per-response latencies (ms, sub-ms resolution) of 2xx answers, and the count of other answers. */
async function latencies(
	url: string,
	request: autocannon.Request,
	seconds: number,
	connections: number,
): Promise<{ ms: number[]; failed: number }> {
	const ms: number[] = [];
	let failed = 0;
	await new Promise<void>((resolve, reject) => {
		const instance = autocannon({ url, connections, duration: seconds, requests: [request] }, (error) =>
			error ? reject(error) : resolve(),
		);
		instance.on("response", (_client, status, _bytes, time) => {
			if (status >= 200 && status < 300) ms.push(time);
			else failed++;
		});
	});
	return { ms, failed };
}

/** One client requesting the 24 h overview back to back until stopped. */
function overviewLoop(url: string, f: ServerFixtures, toMs: number) {
	const times: number[] = [];
	let stopped = false;
	let failures = 0;
	const path = `/api/v1/pages/overview?range=24h&to=${encodeURIComponent(new Date(toMs).toISOString())}`;
	const done = (async () => {
		while (!stopped) {
			const started = performance.now();
			const response = await fetch(url + path, { headers: { Authorization: `Bearer ${f.token}` } });
			await response.arrayBuffer();
			if (response.status === 200) times.push(performance.now() - started);
			else failures++;
		}
	})();
	return {
		times,
		get failures() {
			return failures;
		},
		async stop() {
			stopped = true;
			await done;
		},
	};
}

export interface LoadRow {
	server: string;
	endpoint: string;
	aloneP99: number;
	loadedP99: number;
	overviewRuns: number;
	overviewP50: number;
	failed: number;
}

export async function runLoadBench(): Promise<LoadRow[]> {
	const rows = wholeNumber("BENCH_LOAD_ROWS", 300_000);
	const seconds = Math.max(1, wholeNumber("BENCH_LOAD_SECONDS", 5));
	const connections = Math.max(1, wholeNumber("BENCH_LOAD_CONNECTIONS", 5));
	if (rows === 0) return [];
	process.stderr.write(`bench: load data set (the OQL one), ${rows} logs + ${rows} spans …\n`);
	const { createOqlBenchDatabase } = await import("./oql.js");
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-load-bench-"));
	const bench = await createOqlBenchDatabase(rows, dir);
	const dbPath = join(dir, "oql.db");
	const results: LoadRow[] = [];
	try {
		const fixtures = await createServerFixtures(bench.db, bench.orgId);
		for (const [server, poolSize] of [
			["reads on the event loop (READ_POOL_SIZE=0)", "0"],
			["reader processes (READ_POOL_SIZE=2)", "2"],
		] as const) {
			const running = await startServerChild({
				DATABASE_URL: `file:${dbPath}`,
				DATA_DIR: `${dbPath}.data`,
				JWT_SIGNING_KEYS: fixtures.signingKeys,
				READ_POOL_SIZE: poolSize,
				OQL_TIMEOUT_MS: "60000",
			});
			try {
				for (const endpoint of ENDPOINTS) {
					const request = endpoint.request(fixtures);
					await latencies(running.url, request, 1, connections); // warm-up
					const alone = await latencies(running.url, request, seconds, connections);
					const loop = overviewLoop(running.url, fixtures, bench.now);
					const loaded = await latencies(running.url, request, seconds, connections);
					await loop.stop();
					const row: LoadRow = {
						server,
						endpoint: endpoint.label,
						aloneP99: percentile(alone.ms, 99),
						loadedP99: percentile(loaded.ms, 99),
						overviewRuns: loop.times.length,
						overviewP50: percentile(loop.times, 50),
						failed: alone.failed + loaded.failed + loop.failures,
					};
					results.push(row);
					process.stderr.write(
						`bench: load ${server} ${row.endpoint}: p99 ${row.aloneP99.toFixed(1)} → ${row.loadedP99.toFixed(1)} ms\n`,
					);
				}
			} finally {
				await running.stop();
			}
		}
		console.log(formatLoadBench(rows, seconds, connections, results));
		console.log();
		return results;
	} finally {
		bench.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

export function formatLoadBench(
	rows: number,
	seconds: number,
	connections: number,
	results: LoadRow[],
): string {
	const lines = [
		`One viewer running the 24 h overview in a loop (Node server in its own process, ${rows} logs + ${rows} spans over 24 h; autocannon ${connections} connections, ${seconds} s per case)`,
		"",
		"| server | endpoint | p99 alone ms | p99 with the overview loop ms | × | overview runs | overview p50 ms | non-2xx | ≤ 3× |",
		"|---|---|---:|---:|---:|---:|---:|---:|:---:|",
	];
	for (const row of results) {
		const ratio = row.loadedP99 / row.aloneP99;
		lines.push(
			`| ${row.server} | ${row.endpoint} | ${row.aloneP99.toFixed(1)} | ${row.loadedP99.toFixed(1)} | ${ratio.toFixed(1)}× | ${row.overviewRuns} | ${row.overviewP50.toFixed(0)} | ${row.failed} | ${ratio <= GOAL_RATIO ? "yes" : "**no**"} |`,
		);
	}
	return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		await runLoadBench();
	} catch (error) {
		console.error("bench load failed:", error);
		process.exitCode = 1;
	}
}
