/**
 * The OTLP ingest part of `npm run bench` (called at the end of bench/run.ts; also runnable alone
 * with `npx tsx bench/otlp.ts`).
 *
 * End to end: the real Node runtime (src/runtime/node.ts) in a child process; autocannon POSTs
 * OTLP/HTTP protobuf bodies of 512 spans or 512 log records on 8 connections. Raw ceiling: the same
 * rows — the statements the ingest path builds from the same bodies — written by plain batched
 * multi-row INSERTs (one transaction per 512 rows) into a fresh database in this process, for the
 * same time. Memory: the server's RSS, sampled every few ms from /proc, while it ingests requests of
 * just under 16 MiB one after another; growth over the RSS just before.
 *
 * Small exports: 5 spans per request on 50 connections: with WRITE_GROUP_MAX=1, WRITE_SYNC=commit and
 * WRITER_THREAD=off (every export commits alone with its fsync on the event loop, as before group
 * commit), with group commit on the event loop (WRITER_THREAD=off), and as the server runs by
 * default (group commit in the writer thread, the WAL's fsync off its loop); a server each, the
 * cases measured in turn in slices.
 *
 * Env: BENCH_SECONDS (per measured case, 5), BENCH_OTLP_BATCH (512), BENCH_OTLP_CONNECTIONS (8),
 * BENCH_OTLP_SMALL_ROUNDS (slices per small-export case, 4), BENCH_OTLP_ROLLUP_ROUNDS (rounds of the
 * rollups on/off comparison, 3), BENCH_OTLP_ONLY=small (only the small
 * exports), BENCH_CHILD_NODE_ARGS (extra node flags for the server, e.g. "--cpu-prof
 * --cpu-prof-dir=/tmp/profiles"; bench/proc.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { InValue } from "@libsql/client";
import autocannon from "autocannon";
import { systemClock } from "../src/clock.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { IngestBatch } from "../src/ingest/batch.js";
import { openEmbeddedWriter } from "../src/ingest/embedded-writer.js";
import { decodeLogsProtobuf } from "../src/ingest/logs.js";
import { decodeProtobuf } from "../src/ingest/protobuf.js";
import { decodeTracesProtobuf } from "../src/ingest/traces.js";
import { createApiKey, createOrg } from "../src/services/api-keys.js";
import { percentile, processCpuSeconds, tsxChildArgs } from "./proc.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const positive = (name: string, fallback: number) => {
	const value = Number(process.env[name] ?? fallback);
	if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
	return value;
};
const SECONDS = positive("BENCH_SECONDS", 5);
const BATCH = positive("BENCH_OTLP_BATCH", 512);
const CONNECTIONS = positive("BENCH_OTLP_CONNECTIONS", 8);
const DISTINCT_BODIES = 32;
/** Small exports: what an SDK's batch processor sends from a quiet service, from many processes. */
const SMALL_BATCH = 5;
const SMALL_CONNECTIONS = 50;
const BIG_REQUESTS = 4;
/** BENCH_OTLP_ONLY=small: only the small-export table (the write path's comparison), nothing else. */
const SMALL_ONLY = process.env.BENCH_OTLP_ONLY === "small";
/** Rounds of the rollups on/off comparison (BENCH_OTLP_ROLLUP_ROUNDS, 3). */
const ROLLUP_ROUNDS = Math.max(1, Number(process.env.BENCH_OTLP_ROLLUP_ROUNDS ?? 3) || 3);

const BIG_LIMIT = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Payloads: realistic spans and log records, encoded with the protobuf wire writer.

let counter = 0;
const random = (bytes: number) => crypto.getRandomValues(new Uint8Array(bytes));

/** A KeyValue (a string or an int64 AnyValue) as field `field` of the message being written. */
export function attribute(w: BinaryWriter, field: number, key: string, value: string | number): void {
	w.tag(field, WireType.LengthDelimited).fork();
	w.tag(1, WireType.LengthDelimited).string(key);
	w.tag(2, WireType.LengthDelimited).fork();
	if (typeof value === "string") w.tag(1, WireType.LengthDelimited).string(value);
	else w.tag(3, WireType.Varint).int64(value);
	w.join().join();
}

/** Export…Request { Resource… { resource, Scope… { scope, records } } } with `records` items. */
export function exportRequest(signal: "traces" | "logs", records: number): Uint8Array<ArrayBuffer> {
	const w = new BinaryWriter();
	w.tag(1, WireType.LengthDelimited).fork(); // ResourceSpans / ResourceLogs
	w.tag(1, WireType.LengthDelimited).fork(); // Resource
	attribute(w, 1, "service.name", `svc-${counter % 7}`);
	attribute(w, 1, "host.name", `host-${counter % 13}`);
	attribute(w, 1, "deployment.environment", "production");
	attribute(w, 1, "telemetry.sdk.language", "nodejs");
	w.join();
	w.tag(2, WireType.LengthDelimited).fork(); // ScopeSpans / ScopeLogs
	w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("bench").join();
	const nowNs = BigInt(Date.now()) * 1_000_000n;
	for (let i = 0; i < records; i++) {
		counter++;
		const start = nowNs - BigInt((records - i) * 1_000_000);
		const traceId = random(16);
		w.tag(2, WireType.LengthDelimited).fork();
		if (signal === "traces") {
			w.tag(1, WireType.LengthDelimited).bytes(traceId);
			w.tag(2, WireType.LengthDelimited).bytes(random(8));
			if (i % 8 !== 0) w.tag(4, WireType.LengthDelimited).bytes(random(8));
			w.tag(5, WireType.LengthDelimited).string(`GET /api/items/{id}`);
			w.tag(6, WireType.Varint).int32(2);
			w.tag(7, WireType.Bit64).fixed64(start);
			w.tag(8, WireType.Bit64).fixed64(start + BigInt(1_000_000 + (counter % 5000) * 1000));
			attribute(w, 9, "http.request.method", "GET");
			attribute(w, 9, "http.route", "/api/items/{id}");
			attribute(w, 9, "http.response.status_code", counter % 50 === 0 ? 500 : 200);
			attribute(w, 9, "server.address", "api.example.com");
			attribute(w, 9, "user.id", `u-${counter % 1000}`);
			if (counter % 50 === 0)
				w.tag(15, WireType.LengthDelimited).fork().tag(3, WireType.Varint).int32(2).join();
		} else {
			w.tag(1, WireType.Bit64).fixed64(start);
			w.tag(11, WireType.Bit64).fixed64(start);
			w.tag(2, WireType.Varint).int32(counter % 20 === 0 ? 17 : 9);
			w.tag(3, WireType.LengthDelimited).string(counter % 20 === 0 ? "ERROR" : "INFO");
			w.tag(5, WireType.LengthDelimited)
				.fork()
				.tag(1, WireType.LengthDelimited)
				.string(`request ${counter} handled for user u-${counter % 1000} in ${counter % 300} ms`)
				.join();
			attribute(w, 6, "http.route", "/api/items/{id}");
			attribute(w, 6, "logger", "app.requests");
			attribute(w, 6, "thread.id", counter % 16);
			w.tag(9, WireType.LengthDelimited).bytes(traceId);
			w.tag(10, WireType.LengthDelimited).bytes(random(8));
		}
		w.join();
	}
	w.join().join();
	return w.finish();
}

// ---------------------------------------------------------------------------------------------
// The server (child process) and its memory

async function startServer(
	dir: string,
	databaseUrl: string,
	extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
	const child = spawn(process.execPath, tsxChildArgs(join(ROOT, "src/runtime/node.ts")), {
		cwd: ROOT,
		env: {
			...process.env,
			PORT: "0",
			HOST: "127.0.0.1",
			OTLP_GRPC_PORT: "0",
			DATABASE_URL: databaseUrl,
			DATA_DIR: join(dir, "data"),
			OTLP_MAX_CONCURRENT_PER_ORG: "64",
			...extraEnv,
		},
		stdio: ["ignore", "pipe", "inherit"],
	});
	const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
	const url = await new Promise<string>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error("the Node server did not start within 60 s")), 60_000);
		lines.on("line", (line) => {
			const match = /"url":"http:\/\/localhost:(\d+)"/.exec(line);
			if (match) {
				clearTimeout(timer);
				// From here on its log (a line per request) is drained, not parsed.
				lines.close();
				child.stdout?.resume();
				resolve(`http://127.0.0.1:${match[1]}`);
			}
		});
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`the Node server exited (${code})`));
		});
	});
	return { child, url };
}

async function stopServer(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
	child.kill("SIGTERM");
	const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
	await exited;
	clearTimeout(force);
}

function rssBytes(pid: number | undefined): number {
	if (pid === undefined) return Number.NaN;
	const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
	return match ? Number(match[1]) * 1024 : Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Throughput {
	rowsPerSecond: number;
	failures: number;
}

async function endToEnd(
	url: string,
	key: string,
	signal: "traces" | "logs",
	bodies: Uint8Array[],
	shape: { connections: number; batch: number } = { connections: CONNECTIONS, batch: BATCH },
	serverPid?: number,
	timing: { warmupSeconds: number; seconds: number } = { warmupSeconds: 1, seconds: SECONDS },
): Promise<
	Throughput & {
		requestsPerSecond: number;
		p99: number;
		serverCpuUs: number | null;
		ok: number;
		duration: number;
		cpuSeconds: number | null;
	}
> {
	// One request per body, which autocannon builds once and sends in turn on each connection (a
	// `setupRequest` copying a body per request cost the load generator more than the server's work).
	const options = {
		url,
		connections: shape.connections,
		requests: bodies.map((body) => ({
			method: "POST" as const,
			path: `/v1/${signal}`,
			headers: { "x-api-key": key, "content-type": "application/x-protobuf" },
			body: Buffer.from(body),
		})),
	};
	if (timing.warmupSeconds > 0) {
		await new Promise((resolve, reject) =>
			autocannon({ ...options, duration: timing.warmupSeconds }, (e, r) => (e ? reject(e) : resolve(r))),
		);
	}
	const cpuBefore = processCpuSeconds(serverPid);
	const result = await new Promise<autocannon.Result>((resolve, reject) =>
		autocannon({ ...options, duration: timing.seconds }, (e, r) => (e ? reject(e) : resolve(r))),
	);
	const cpuAfter = processCpuSeconds(serverPid);
	return {
		// The server's CPU per request: steadier than its rate on a machine shared with other work.
		serverCpuUs:
			cpuBefore === null || cpuAfter === null || result["2xx"] === 0
				? null
				: ((cpuAfter - cpuBefore) * 1e6) / result["2xx"],
		rowsPerSecond: (result["2xx"] * shape.batch) / result.duration,
		requestsPerSecond: result["2xx"] / result.duration,
		p99: result.latency.p99,
		failures: result.non2xx + result.errors + result.timeouts,
		ok: result["2xx"],
		duration: result.duration,
		cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
	};
}

/** The cases of the small-export table: a label and the server's extra environment. */
const SMALL_CASES: readonly (readonly [string, Record<string, string>])[] = [
	["per-request commit (before)", { WRITE_GROUP_MAX: "1", WRITE_SYNC: "commit", WRITER_THREAD: "off" }],
	["group commit on the event loop (WRITER_THREAD=off)", { WRITE_SYNC: "wal-fsync", WRITER_THREAD: "off" }],
	["group commit in the writer thread (now)", { WRITE_SYNC: "wal-fsync", WRITER_THREAD: "on" }],
];
/** Each case's measured time is cut into this many slices, run in turn (see `smallExports`). */
const SMALL_ROUNDS = positive("BENCH_OTLP_SMALL_ROUNDS", 4);

interface SmallResult {
	requestsPerSecond: number;
	/** The worst slice's p99. */
	p99: number;
	serverCpuUs: number | null;
	failures: number;
}

/**
 * Small exports (a few spans each, many connections): per-request commits (WRITE_GROUP_MAX=1, the
 * path before group commit) and the group-commit variants. Every case has its own server on its own
 * copy of the database, all started first; each case's BENCH_SECONDS are then measured in
 * BENCH_OTLP_SMALL_ROUNDS slices, the cases in turn (forwards, then backwards, …), so that a change
 * of the machine's load during the run falls on every case alike. Returns the printing of its table,
 * done after the other sections' measurements.
 */
async function smallExports(dir: string, databaseUrl: string, key: string): Promise<() => void> {
	const smallBodies = Array.from({ length: DISTINCT_BODIES }, () => exportRequest("traces", SMALL_BATCH));
	const template = databaseUrl.slice("file:".length);
	const servers: { label: string; url: string; child: ChildProcess }[] = [];
	const totals = SMALL_CASES.map(() => ({
		ok: 0,
		duration: 0,
		cpu: 0 as number | null,
		p99: 0,
		failures: 0,
	}));
	try {
		for (const [i, [label, env]] of SMALL_CASES.entries()) {
			const file = join(dir, `small-${i}.db`);
			copyFileSync(template, file);
			if (existsSync(`${template}-wal`)) copyFileSync(`${template}-wal`, `${file}-wal`);
			const started = await startServer(dir, `file:${file}`, env);
			servers.push({ label, ...started });
		}
		const shape = { connections: SMALL_CONNECTIONS, batch: SMALL_BATCH };
		for (let round = 0; round < SMALL_ROUNDS; round++) {
			const order = servers.map((_, i) => i);
			if (round % 2 === 1) order.reverse();
			for (const i of order) {
				const server = servers[i] as (typeof servers)[number];
				const total = totals[i] as (typeof totals)[number];
				process.stderr.write(`bench: OTLP small exports, round ${round + 1}, ${server.label} … `);
				const slice = await endToEnd(server.url, key, "traces", smallBodies, shape, server.child.pid, {
					warmupSeconds: round === 0 ? 1 : 0,
					seconds: SECONDS / SMALL_ROUNDS,
				});
				process.stderr.write(`${Math.round(slice.requestsPerSecond)} req/s\n`);
				total.ok += slice.ok;
				total.duration += slice.duration;
				total.cpu = total.cpu === null || slice.cpuSeconds === null ? null : total.cpu + slice.cpuSeconds;
				total.p99 = Math.max(total.p99, slice.p99);
				total.failures += slice.failures;
			}
		}
	} finally {
		await Promise.all(servers.map((server) => stopServer(server.child)));
	}
	const small: { label: string; result: SmallResult }[] = SMALL_CASES.map(([label], i) => {
		const total = totals[i] as (typeof totals)[number];
		return {
			label,
			result: {
				requestsPerSecond: total.ok / total.duration,
				p99: total.p99,
				serverCpuUs: total.cpu === null || total.ok === 0 ? null : (total.cpu * 1e6) / total.ok,
				failures: total.failures,
			},
		};
	});
	return () => {
		console.log(
			`Small OTLP exports — ${SMALL_BATCH} spans per request, ${SMALL_CONNECTIONS} connections, ${SECONDS} s per case in ${SMALL_ROUNDS} slices taken in turn (Node runtime)`,
		);
		console.log();
		console.log("| write path | exports/s | worst slice's p99 ms | srv CPU µs/export | non-2xx/err |");
		console.log("|---|---:|---:|---:|---:|");
		for (const { label, result } of small) {
			const cpu = result.serverCpuUs === null ? "–" : result.serverCpuUs.toFixed(0);
			console.log(
				`| ${label} | ${Math.round(result.requestsPerSecond)} | ${result.p99} | ${cpu} | ${result.failures} |`,
			);
		}
		const before = (small[0] as (typeof small)[number]).result;
		const after = (small[small.length - 1] as (typeof small)[number]).result;
		const cpuRatio =
			before.serverCpuUs !== null && after.serverCpuUs !== null
				? ` (server CPU per export: ${(before.serverCpuUs / after.serverCpuUs).toFixed(2)}× less)`
				: "";
		const ratio = after.requestsPerSecond / before.requestsPerSecond;
		console.log(
			`- goal small exports: group commit ≥ 3× per-request commit: ${ratio.toFixed(2)}×${cpuRatio} → ${ratio >= 3 ? "met" : "not met"}`,
		);
	};
}

/**
 * The same rows by plain batched INSERTs — the multi-row statements the ingest path builds from the
 * same bodies, decoded beforehand — through a prepared-statement connection like the Node writer's,
 * one transaction per request's rows: no HTTP, no credential check, no decoding.
 */
async function rawCeiling(dir: string, signal: "traces" | "logs", bodies: Uint8Array[]): Promise<number> {
	const path = join(dir, `raw-${signal}.db`);
	const { client, db } = await openMigratedDatabase(`file:${path}`);
	const writer = openEmbeddedWriter(path);
	try {
		const org = await createOrg(db, systemClock, "Raw");
		const nowMs = Date.now();
		const window = {
			nowNs: BigInt(nowMs) * 1_000_000n,
			minNs: 0n,
			maxNs: BigInt(nowMs + 3_600_000) * 1_000_000n,
		};
		const batches = bodies.map((body) => {
			const batch = new IngestBatch(
				org.id,
				signal === "traces" ? "spans" : "logs",
				window,
				nowMs,
				undefined,
				{
					rollups: false,
				},
			);
			decodeProtobuf(body, (r) =>
				signal === "traces" ? decodeTracesProtobuf(r, batch) : decodeLogsProtobuf(r, batch),
			);
			return batch.dataStatements() as { sql: string; args: InValue[] }[];
		});
		let rows = 0;
		let i = 0;
		const started = performance.now();
		const warmupEnds = started + 1000;
		let measuredFrom = 0;
		const ends = warmupEnds + SECONDS * 1000;
		for (let now = started; now < ends; now = performance.now()) {
			if (measuredFrom === 0 && now >= warmupEnds) {
				measuredFrom = now;
				rows = 0;
			}
			const statements = batches[i++ % batches.length] as { sql: string; args: InValue[] }[];
			await writer.submit((tx) => {
				for (const statement of statements) tx.run(statement.sql, statement.args, true);
			});
			rows += BATCH;
			// Yield between transactions, as a server does between requests.
			if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
		}
		return rows / ((performance.now() - measuredFrom) / 1000);
	} finally {
		writer.close();
		client.close();
	}
}

/**
 * The ingest path in process, as the Node server runs it (decoded and written statement by
 * statement inside the writer's group commit, then the rollup upserts), with or without rollups:
 * what the rollups cost, without HTTP and credential checks diluting the ratio.
 */
async function ingestInProcess(
	dir: string,
	signal: "traces" | "logs",
	bodies: Uint8Array[],
	rollups: boolean,
	round = 0,
): Promise<number> {
	const path = join(dir, `ingest-${signal}-${rollups}-${round}.db`);
	const { client, db } = await openMigratedDatabase(`file:${path}`);
	const writer = openEmbeddedWriter(path);
	try {
		const org = await createOrg(db, systemClock, "Ingest");
		let rows = 0;
		let i = 0;
		const started = performance.now();
		const warmupEnds = started + 1000;
		let measuredFrom = 0;
		const ends = warmupEnds + SECONDS * 1000;
		for (let now = started; now < ends; now = performance.now()) {
			if (measuredFrom === 0 && now >= warmupEnds) {
				measuredFrom = now;
				rows = 0;
			}
			const body = bodies[i++ % bodies.length] as Uint8Array;
			const nowMs = Date.now();
			const window = {
				nowNs: BigInt(nowMs) * 1_000_000n,
				minNs: 0n,
				maxNs: BigInt(nowMs + 3_600_000) * 1_000_000n,
			};
			await writer.submit((tx) => {
				const batch = new IngestBatch(org.id, signal === "traces" ? "spans" : "logs", window, nowMs, tx.run, {
					rollups,
				});
				decodeProtobuf(body, (r) =>
					signal === "traces" ? decodeTracesProtobuf(r, batch) : decodeLogsProtobuf(r, batch),
				);
				batch.finish();
				for (const statement of batch.rollupStatements()) tx.run(statement.sql, statement.args, true);
			});
			rows += BATCH;
		}
		return rows / ((performance.now() - measuredFrom) / 1000);
	} finally {
		writer.close();
		client.close();
	}
}

async function peakMemory(url: string, key: string, pid: number | undefined) {
	// Just under the 16 MiB limit.
	const sample = exportRequest("traces", 10_000);
	const body = exportRequest("traces", Math.floor((0.97 * BIG_LIMIT * 10_000) / sample.byteLength));
	if (body.byteLength > BIG_LIMIT) throw new Error("the big request came out over the limit");
	const spans = decodeCount(body);
	const send = () =>
		fetch(`${url}/v1/traces`, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/x-protobuf" },
			body,
		});
	// One request first, so the baseline holds what the first one leaves behind (code, caches, pages).
	const first = await send();
	if (first.status !== 200)
		throw new Error(`a 16 MiB request answered ${first.status}: ${await first.text()}`);
	await new Promise((resolve) => setTimeout(resolve, 500));
	const baseline = rssBytes(pid);
	let peak = baseline;
	const sampler = setInterval(() => {
		peak = Math.max(peak, rssBytes(pid));
	}, 2);
	let failures = 0;
	try {
		for (let i = 0; i < BIG_REQUESTS; i++) if ((await send()).status !== 200) failures++;
	} finally {
		clearInterval(sampler);
	}
	return { requestBytes: body.byteLength, spans, baseline, peak, failures };
}

function decodeCount(body: Uint8Array): number {
	const nowMs = Date.now();
	const batch = new IngestBatch(
		"org_count",
		"spans",
		{ nowNs: 0n, minNs: 0n, maxNs: BigInt(nowMs + 3_600_000) * 1_000_000n },
		nowMs,
	);
	decodeProtobuf(body, (r) => decodeTracesProtobuf(r, batch));
	return batch.items;
}

// ---------------------------------------------------------------------------------------------

export async function benchOtlp(): Promise<void> {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-bench-otlp-"));
	let server: ChildProcess | undefined;
	try {
		const databaseUrl = `file:${join(dir, "node.db")}`;
		const setup = await openMigratedDatabase(databaseUrl);
		const org = await createOrg(setup.db, systemClock, "Bench OTLP");
		const { key } = await createApiKey(setup.db, systemClock, {
			orgId: org.id,
			name: "otlp",
			createdBy: "cli",
		});
		setup.client.close();
		// First, while the database holds only the org and its key: each case starts from a copy of it.
		const printSmall = await smallExports(dir, databaseUrl, key);
		if (SMALL_ONLY) {
			console.log();
			printSmall();
			return;
		}
		const spanBodies = Array.from({ length: DISTINCT_BODIES }, () => exportRequest("traces", BATCH));
		const logBodies = Array.from({ length: DISTINCT_BODIES }, () => exportRequest("logs", BATCH));

		const started = await startServer(dir, databaseUrl);
		server = started.child;
		process.stderr.write("bench: OTLP spans end to end … ");
		const spans = await endToEnd(started.url, key, "traces", spanBodies);
		process.stderr.write(`${Math.round(spans.rowsPerSecond)}/s; log records … `);
		const logs = await endToEnd(started.url, key, "logs", logBodies);
		process.stderr.write(`${Math.round(logs.rowsPerSecond)}/s; 16 MiB requests … `);
		const memory = await peakMemory(started.url, key, server.pid);
		process.stderr.write("done\n");
		await stopServer(server);
		server = undefined;

		process.stderr.write("bench: raw insert ceiling, spans … ");
		const rawSpans = await rawCeiling(dir, "traces", spanBodies);
		process.stderr.write(`${Math.round(rawSpans)}/s; log records … `);
		const rawLogs = await rawCeiling(dir, "logs", logBodies);
		process.stderr.write(`${Math.round(rawLogs)}/s\n`);

		const withRollups: { signal: string; off: number; on: number }[] = [];
		for (const [signal, bodies] of [
			["traces", spanBodies],
			["logs", logBodies],
		] as const) {
			// ROLLUP_ROUNDS rounds, off and on alternately (the order swapped each round, so a drift of
			// the machine's speed falls on both); the median of each. One case each read 0.79×–1.08×
			// for the same code in two runs.
			const runs = { off: [] as number[], on: [] as number[] };
			for (let round = 0; round < ROLLUP_ROUNDS; round++) {
				for (const rollups of round % 2 === 0 ? [false, true] : [true, false]) {
					process.stderr.write(
						`bench: ingest in process, ${signal}, round ${round + 1}, rollups ${rollups ? "on" : "off"} … `,
					);
					const rate = await ingestInProcess(dir, signal, bodies, rollups, round);
					process.stderr.write(`${Math.round(rate)}/s\n`);
					runs[rollups ? "on" : "off"].push(rate);
				}
			}
			withRollups.push({ signal, off: percentile(runs.off, 50), on: percentile(runs.on, 50) });
		}

		const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
		const rows = [
			["spans", spans, rawSpans],
			["log records", logs, rawLogs],
		] as const;
		console.log();
		console.log(
			`OTLP ingest — OTLP/HTTP protobuf, ${BATCH} per request, ${CONNECTIONS} connections, ${SECONDS} s per case (Node runtime)`,
		);
		console.log();
		console.log("| signal | end to end /s | raw insert /s | ratio | non-2xx/err |");
		console.log("|---|---:|---:|---:|---:|");
		for (const [name, e2e, raw] of rows) {
			console.log(
				`| ${name} | ${Math.round(e2e.rowsPerSecond)} | ${Math.round(raw)} | ${(e2e.rowsPerSecond / raw).toFixed(2)} | ${e2e.failures} |`,
			);
		}
		console.log();
		const growth = memory.peak - memory.baseline;
		console.log(
			`Peak RSS ingesting ${BIG_REQUESTS} requests of ${mib(memory.requestBytes)} MiB (${memory.spans} spans each): ` +
				`${mib(memory.peak)} MiB, ${mib(growth)} MiB over the ${mib(memory.baseline)} MiB before = ` +
				`${(growth / memory.requestBytes).toFixed(2)}× the request size (failures: ${memory.failures})`,
		);
		for (const [name, e2e, raw] of rows) {
			const ratio = e2e.rowsPerSecond / raw;
			console.log(
				`- goal ${name}: end to end ≥ 0.5× raw insert: ${ratio.toFixed(2)}× → ${ratio >= 0.5 ? "met" : "not met"}`,
			);
		}
		console.log();
		printSmall();
		console.log();
		console.log(
			`Ingest with rollups — decode + write in process (the server's path without HTTP), ${BATCH} per request, ${SECONDS} s per case, median of ${ROLLUP_ROUNDS} rounds (off and on alternately)`,
		);
		console.log();
		console.log("| signal | rollups off rows/s | rollups on rows/s | on/off |");
		console.log("|---|---:|---:|---:|");
		for (const r of withRollups) {
			console.log(
				`| ${r.signal} | ${Math.round(r.off)} | ${Math.round(r.on)} | ${(r.on / r.off).toFixed(2)} |`,
			);
		}
		for (const r of withRollups) {
			const ratio = r.on / r.off;
			console.log(
				`- goal ingest with rollups ≥ 0.8× without (${r.signal}): ${ratio.toFixed(2)}× → ${ratio >= 0.8 ? "met" : "not met"}`,
			);
		}
		const factor = growth / memory.requestBytes;
		console.log(
			`- goal memory: peak growth ≤ 4× request size: ${factor.toFixed(2)}× → ${factor <= 4 ? "met" : "not met"}`,
		);
	} finally {
		if (server) await stopServer(server);
		rmSync(dir, { recursive: true, force: true });
	}
}

if (import.meta.url === `file://${process.argv[1]}`) await benchOtlp();
