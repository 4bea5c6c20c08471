/**
 * The heartbeat section of `npm run bench` (called at the end of bench/run.ts; also runnable alone:
 * `npx tsx bench/heartbeats.ts`). It prints its own tables:
 *
 * 1. Ping throughput for an existing monitor: `POST /api/v1/heartbeat/:slug` with a warm API key,
 *    through the real app — on Node (bench/heartbeat-server.ts, a child process, embedded libSQL) and
 *    on workerd (the real src/runtime/worker.ts bundled by esbuild and run by Miniflare, libSQL over
 *    HTTP through the Hrana stand-in, as bench/run.ts does). Load from autocannon in this process.
 * 2. Database statements per ping, counted at the libSQL client (execute and batch wrapped), in process.
 * 3. The sweep over 100,000 monitors of which 1% are overdue: wall time and statements, on the
 *    embedded database and over HTTP (the Worker's client, `@libsql/client/web`, against Hrana).
 *
 * Figures are reported, never asserted. Env as bench/run.ts (BENCH_SECONDS, BENCH_WARMUP_SECONDS,
 * BENCH_CONNECTIONS, BENCH_RUNTIMES) plus BENCH_SWEEP_MONITORS (100000).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Client, InStatement } from "@libsql/client";
import { createClient as createHttpClient } from "@libsql/client/web";
import autocannon from "autocannon";
import type { ExecutionContext } from "hono";
import { Miniflare } from "miniflare";
import { createApp } from "../src/app.js";
import { generateSigningKey } from "../src/auth/jwt.js";
import { createKeyMemoryCache } from "../src/auth/key-resolver.js";
import { type Clock, systemClock } from "../src/clock.js";
import { authSettingsFrom, jwtSettingsFrom } from "../src/config.js";
import { createDatabase } from "../src/db/client.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { notificationChannels } from "../src/db/schema.js";
import { assembleDeps } from "../src/deps.js";
import { sweepHeartbeats } from "../src/heartbeats/sweep.js";
import { newId } from "../src/ids.js";
import { consoleLog } from "../src/log.js";
import { createApiKey, createOrg } from "../src/services/api-keys.js";
import { findWorkerdPid, percentile, processCpuSeconds, tsxChildArgs } from "./proc.js";
import { bundleForWorkerd } from "./workerd-bundle.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SLUG = "bench-monitor";
/** The goal is stated at 50 connections. */
const GOAL_CONNECTIONS = 50;

export interface HeartbeatBenchOptions {
	dir: string;
	seconds: number;
	warmupSeconds: number;
	connections: number;
	runtimes: string[];
	/** Where bench/run.ts collects its closers and child pids, so Ctrl-C cleans up here too. */
	cleanups?: Array<() => unknown>;
	pids?: Set<number>;
}

interface Fixture {
	nodeDbUrl: string;
	edgeDbPath: string;
	signingKeysJson: string;
	totpKey: string;
	key: string;
}

// ---------------------------------------------------------------------------------------------
// Counting the statements a request costs, at the libSQL client.

interface Counts {
	reads: number;
	writes: number;
	batches: number;
	batchStatements: number;
}

function countingClient(client: Client): { client: Client; counts: Counts; reset(): void } {
	const counts: Counts = { reads: 0, writes: 0, batches: 0, batchStatements: 0 };
	const proxy = new Proxy(client, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (typeof value !== "function") return value;
			if (prop === "execute") {
				return (statement: InStatement, ...rest: unknown[]) => {
					const text = typeof statement === "string" ? statement : statement.sql;
					if (/^\s*(SELECT|WITH)\b/i.test(text)) counts.reads++;
					else counts.writes++;
					return value.call(target, statement, ...rest);
				};
			}
			if (prop === "batch") {
				return (statements: InStatement[], ...rest: unknown[]) => {
					counts.batches++;
					counts.batchStatements += statements.length;
					return value.call(target, statements, ...rest);
				};
			}
			return value.bind(target);
		},
	});
	return {
		client: proxy,
		counts,
		reset() {
			Object.assign(counts, { reads: 0, writes: 0, batches: 0, batchStatements: 0 });
		},
	};
}

async function testDeps(client: Client, clock: Clock, signingKeysJson: string, totpKey: string) {
	return assembleDeps({
		db: createDatabase(client),
		clock,
		config: {
			jwt: jwtSettingsFrom({}, signingKeysJson),
			auth: authSettingsFrom({}, totpKey),
			heartbeats: { allowPrivateWebhookTargets: false },
		},
		keyMemory: createKeyMemoryCache(clock),
		log: consoleLog("warn"),
	});
}

interface StatementRow {
	label: string;
	n: number;
	reads: number;
	writes: number;
	batches: number;
	batchStatements: number;
}

/** Pings in process, each one counted on its own (deferred work awaited and counted with it). */
async function countStatements(f: Fixture, dir: string): Promise<StatementRow[]> {
	const { client: raw } = await openMigratedDatabase(`file:${join(dir, "hb-count.db")}`);
	const counter = countingClient(raw);
	try {
		const deps = await testDeps(counter.client, systemClock, f.signingKeysJson, f.totpKey);
		const org = await createOrg(deps.db, systemClock, "Count");
		const { key } = await createApiKey(deps.db, systemClock, {
			orgId: org.id,
			name: "count",
			createdBy: "cli",
		});
		const now = systemClock.now();
		await deps.db.insert(notificationChannels).values({
			id: newId("nch"),
			orgId: org.id,
			name: "disabled",
			type: "webhook",
			url: "https://hooks.example.com/x",
			secretEncrypted: null,
			enabled: false,
			createdAt: now,
			updatedAt: now,
		});
		const app = createApp(deps);
		const pending: Promise<unknown>[] = [];
		const ctx: ExecutionContext = {
			waitUntil: (p) => pending.push(p),
			passThroughOnException() {},
			props: {},
		};
		const ping = async (path: string) => {
			const res = await app.request(
				`/api/v1/heartbeat/${path}`,
				{ method: "POST", headers: { "X-API-Key": key } },
				undefined,
				ctx,
			);
			if (res.status >= 300) throw new Error(`ping ${path} answered ${res.status}: ${await res.text()}`);
			await Promise.all(pending.splice(0));
		};
		const rows: StatementRow[] = [];
		const measure = async (label: string, paths: string[]) => {
			counter.reset();
			for (const path of paths) await ping(path);
			const c = counter.counts;
			rows.push({ label, n: paths.length, ...c });
		};
		await measure("first ping of a slug (creates it; cold key)", ["created?period=1h"]);
		await ping(`${SLUG}?period=1h`);
		const times = (n: number, path: (i: number) => string) => Array.from({ length: n }, (_, i) => path(i));
		await measure(
			"success, existing monitor (the bench's case)",
			times(200, () => SLUG),
		);
		await measure(
			"start with rid",
			times(100, (i) => `${SLUG}/start?rid=r${i}`),
		);
		await measure(
			"end with rid (paired: duration)",
			times(100, (i) => `${SLUG}?rid=r${i}`),
		);
		await measure(
			"exit code, with a flip (up↔down, outbox insert)",
			times(100, (i) => `${SLUG}/${i % 2 === 0 ? 1 : 0}`),
		);
		await measure(
			"log (body only)",
			times(100, () => `${SLUG}/log`),
		);
		return rows;
	} finally {
		raw.close();
	}
}

// ---------------------------------------------------------------------------------------------
// The sweep over many monitors

interface SweepRow {
	label: string;
	monitors: number;
	overdue: number;
	flipped: number;
	ms: number;
	reads: number;
	batches: number;
	batchStatements: number;
}

async function seedSweepDatabase(path: string, total: number, overdue: number, now: number): Promise<void> {
	const { client } = await openMigratedDatabase(`file:${path}`);
	try {
		const db = createDatabase(client);
		const org = await createOrg(db, systemClock, "Sweep");
		// Up monitors, hourly, pinged a while ago; `overdue` of them past due + grace (→ down).
		await client.execute({
			sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO monitors (id, org_id, slug, period_s, grace_s, tz, status, open_runs, last_ping_at, last_ping_kind, next_due_at, alert_after, rev, ping_seq, created_at, updated_at)
				SELECT 'mon_' || i, ?, 'm-' || i, 3600, 300, 'UTC', 'up', '[]', ?, 'success',
					CASE WHEN i % ? = 0 THEN ? ELSE ? + (i % 3600) * 1000 END,
					CASE WHEN i % ? = 0 THEN ? ELSE ? + (i % 3600) * 1000 END,
					i, 1, ?, ?
				FROM n`,
			args: [
				total,
				org.id,
				now - 3_600_000,
				Math.round(total / overdue),
				now - 600_000,
				now + 60_000,
				Math.round(total / overdue),
				now - 600_000,
				now + 60_000,
				now,
				now,
			],
		});
		await client.execute("ANALYZE");
	} finally {
		client.close();
	}
}

async function timeSweep(
	label: string,
	client: Client,
	clock: Clock,
	f: Fixture,
	total: number,
	overdue: number,
): Promise<SweepRow> {
	const counter = countingClient(client);
	const deps = await testDeps(counter.client, clock, f.signingKeysJson, f.totpKey);
	const started = performance.now();
	const report = await sweepHeartbeats(deps);
	const ms = performance.now() - started;
	return {
		label,
		monitors: total,
		overdue,
		flipped: report.flipped,
		ms,
		reads: counter.counts.reads,
		batches: counter.counts.batches,
		batchStatements: counter.counts.batchStatements,
	};
}

async function benchSweep(f: Fixture, dir: string, track: Track): Promise<SweepRow[]> {
	const total = Number(process.env.BENCH_SWEEP_MONITORS || 100_000);
	const overdue = Math.max(1, Math.round(total / 100));
	const now = Date.now();
	const clock: Clock = { now: () => now };
	const path = join(dir, "hb-sweep.db");
	process.stderr.write(`bench: heartbeats: seeding ${total} monitors (${overdue} overdue) … `);
	await seedSweepDatabase(path, total, overdue, now);
	process.stderr.write("done\n");
	const rows: SweepRow[] = [];
	const httpPath = join(dir, "hb-sweep-http.db");
	{
		const { client } = await openMigratedDatabase(`file:${path}`);
		try {
			await client.execute({ sql: "VACUUM INTO ?", args: [httpPath] });
			rows.push(await timeSweep("embedded libSQL (Node)", client, clock, f, total, overdue));
			rows.push(await timeSweep("embedded, again: nothing overdue", client, clock, f, total, 0));
		} finally {
			client.close();
		}
	}
	const { child, info } = await startChild<{ url: string }>(
		"bench/hrana-server.ts",
		{ BENCH_DATABASE_URL: `file:${httpPath}` },
		track,
	);
	try {
		const client = createHttpClient({ url: info.url });
		try {
			rows.push(
				await timeSweep(
					"libSQL over HTTP (the Worker's client → Hrana)",
					client as unknown as Client,
					clock,
					f,
					total,
					overdue,
				),
			);
			rows.push(
				await timeSweep("over HTTP, again: nothing overdue", client as unknown as Client, clock, f, total, 0),
			);
		} finally {
			client.close();
		}
	} finally {
		await stopChild(child, track);
	}
	return rows;
}

// ---------------------------------------------------------------------------------------------
// Throughput

export interface Track {
	cleanups: Array<() => unknown>;
	pids: Set<number>;
}

/** A `tsx` child that prints one JSON line when ready; tracked for cleanup. */
export async function startChild<T>(
	script: string,
	env: Record<string, string>,
	track: Track,
): Promise<{ child: ChildProcess; info: T }> {
	const child = spawn(process.execPath, tsxChildArgs(join(ROOT, script)), {
		cwd: ROOT,
		env: { ...process.env, ...env },
		stdio: ["ignore", "pipe", "inherit"],
	});
	if (child.pid !== undefined) track.pids.add(child.pid);
	track.cleanups.push(() => stopChild(child, track));
	const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
	const line = await new Promise<string>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
		lines.once("line", (first) => {
			clearTimeout(timer);
			resolve(first);
		});
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`${script} exited before it was ready (code ${code})`));
		});
	});
	return { child, info: JSON.parse(line) as T };
}

export async function stopChild(child: ChildProcess, track: Track): Promise<void> {
	if (child.exitCode === null && child.signalCode === null) {
		const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
		child.kill("SIGTERM");
		const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
		await exited;
		clearTimeout(timer);
	}
	if (child.pid !== undefined) track.pids.delete(child.pid);
}

interface ThroughputRow {
	runtime: string;
	rps: number;
	p50: number;
	p99: number;
	failures: number;
	/** CPU time of the serving process (and of the database process, for workerd) per ping: steadier than req/s on a busy machine. */
	serverCpuUs: number | null;
	databaseCpuUs: number | null;
}

function cannon(options: autocannon.Options, onLatency?: (ms: number) => void): Promise<autocannon.Result> {
	return new Promise((resolve, reject) => {
		const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
		if (onLatency) {
			instance.on("response", (_client, status, _bytes, ms) => {
				if (status >= 200 && status < 300) onLatency(ms);
			});
		}
	});
}

async function measurePings(
	runtime: string,
	baseUrl: string,
	f: Fixture,
	o: HeartbeatBenchOptions,
	pids: { server?: number | undefined; database?: number | undefined } = {},
): Promise<ThroughputRow> {
	const path = `/api/v1/heartbeat/${SLUG}`;
	const probe = await fetch(baseUrl + path, {
		method: "POST",
		headers: { "X-API-Key": f.key },
		signal: AbortSignal.timeout(15_000),
	});
	if (probe.status !== 200)
		throw new Error(`${runtime} ${path} answered ${probe.status}: ${await probe.text()}`);
	const common = {
		url: baseUrl,
		connections: o.connections,
		requests: [{ method: "POST" as const, path, headers: { "x-api-key": f.key } }],
	};
	process.stderr.write(`bench: heartbeats: ${runtime} ping … `);
	await cannon({ ...common, duration: o.warmupSeconds });
	const latencies: number[] = [];
	const serverBefore = processCpuSeconds(pids.server);
	const databaseBefore = processCpuSeconds(pids.database);
	const result = await cannon({ ...common, duration: o.seconds }, (ms) => latencies.push(ms));
	const serverAfter = processCpuSeconds(pids.server);
	const databaseAfter = processCpuSeconds(pids.database);
	const perPing = (before: number | null, after: number | null) =>
		before === null || after === null || result["2xx"] === 0
			? null
			: ((after - before) * 1e6) / result["2xx"];
	const rps = result["2xx"] / result.duration;
	process.stderr.write(`${Math.round(rps)} req/s\n`);
	return {
		runtime,
		rps,
		p50: percentile(latencies, 50),
		p99: percentile(latencies, 99),
		failures: result.non2xx + result.errors + result.timeouts,
		serverCpuUs: perPing(serverBefore, serverAfter),
		databaseCpuUs: perPing(databaseBefore, databaseAfter),
	};
}

const PATH_LABELS = {
	"per-request": "per-request commit (before)",
	"group-event-loop": "group commit on the event loop (WRITER_THREAD=off)",
	group: "group commit in the writer thread (now)",
} as const;

/**
 * The Node server in one of three write paths: `group` (the runtime as it is: pings inside the
 * embedded writer's group commits, in the writer thread), `group-event-loop` (the same on the event
 * loop, WRITER_THREAD=off) or `per-request` (the path before group commit: each ping reads and
 * writes through the drizzle client and commits alone; bench/heartbeat-server.ts drops the writer).
 */
async function pingsOnNode(
	f: Fixture,
	o: HeartbeatBenchOptions,
	track: Track,
	path: "group" | "group-event-loop" | "per-request",
	connections: number,
): Promise<ThroughputRow> {
	const { child, info } = await startChild<{ port: number }>(
		"bench/heartbeat-server.ts",
		{
			BENCH_DATABASE_URL: f.nodeDbUrl,
			BENCH_DATA_DIR: join(o.dir, "hb-node-data"),
			BENCH_PING_PATH: path === "per-request" ? "per-request" : "group",
			BENCH_WRITER_THREAD: path === "group-event-loop" ? "off" : "on",
			JWT_SIGNING_KEYS: f.signingKeysJson,
			TOTP_ENCRYPTION_KEY: f.totpKey,
		},
		track,
	);
	try {
		const label = `node, ${PATH_LABELS[path]}, ${connections} conn`;
		return await measurePings(
			label,
			`http://127.0.0.1:${info.port}`,
			f,
			{ ...o, connections },
			{ server: child.pid },
		);
	} finally {
		await stopChild(child, track);
	}
}

async function pingsOnWorkerd(f: Fixture, o: HeartbeatBenchOptions, track: Track): Promise<ThroughputRow> {
	const { child: hrana, info } = await startChild<{ url: string }>(
		"bench/hrana-server.ts",
		{ BENCH_DATABASE_URL: `file:${f.edgeDbPath}` },
		track,
	);
	try {
		const scriptPath = join(o.dir, "hb-worker.mjs");
		await bundleForWorkerd(join(ROOT, "src/runtime/worker.ts"), scriptPath);
		const mf = new Miniflare({
			modules: true,
			scriptPath,
			modulesRoot: o.dir,
			compatibilityDate: "2026-04-20",
			compatibilityFlags: ["nodejs_compat"],
			kvNamespaces: ["KEY_CACHE"],
			kvPersist: join(o.dir, "hb-kv"),
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
			await mf.dispose();
		};
		track.cleanups.push(dispose);
		try {
			const url = await mf.ready;
			const pid = findWorkerdPid();
			if (pid !== undefined) track.pids.add(pid);
			return await measurePings("workerd", url.origin, f, o, { server: pid, database: hrana.pid });
		} finally {
			await dispose();
		}
	} finally {
		await stopChild(hrana, track);
	}
}

// ---------------------------------------------------------------------------------------------

async function createFixture(dir: string): Promise<Fixture> {
	const nodePath = join(dir, "hb-node.db");
	const edgePath = join(dir, "hb-edge.db");
	const { client, db } = await openMigratedDatabase(`file:${nodePath}`);
	try {
		const signingKeysJson = JSON.stringify({ keys: [await generateSigningKey()] });
		const totpKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
		const org = await createOrg(db, systemClock, "Heartbeat bench");
		const { key } = await createApiKey(db, systemClock, { orgId: org.id, name: "pinger", createdBy: "cli" });
		const app = createApp(await testDeps(client, systemClock, signingKeysJson, totpKey));
		const res = await app.request(`/api/v1/heartbeat/${SLUG}?period=1h&grace=5m`, {
			method: "POST",
			headers: { "X-API-Key": key },
		});
		if (res.status !== 201) throw new Error(`fixture ping answered ${res.status}: ${await res.text()}`);
		await client.execute({ sql: "VACUUM INTO ?", args: [edgePath] });
		return { nodeDbUrl: `file:${nodePath}`, edgeDbPath: edgePath, signingKeysJson, totpKey, key };
	} finally {
		client.close();
	}
}

const fixed = (v: number, digits: number) => (Number.isNaN(v) ? "–" : v.toFixed(digits));

export async function runHeartbeatBench(o: HeartbeatBenchOptions): Promise<void> {
	const track: Track = { cleanups: o.cleanups ?? [], pids: o.pids ?? new Set() };
	const f = await createFixture(o.dir);
	const throughput: ThroughputRow[] = [];
	const goals: string[] = [];
	for (const runtime of o.runtimes) {
		if (runtime === "node") {
			for (const connections of [o.connections, GOAL_CONNECTIONS]) {
				const before = await pingsOnNode(f, o, track, "per-request", connections);
				if (connections === GOAL_CONNECTIONS) {
					throughput.push(before, await pingsOnNode(f, o, track, "group-event-loop", connections));
				} else throughput.push(before);
				const after = await pingsOnNode(f, o, track, "group", connections);
				throughput.push(after);
				if (connections === GOAL_CONNECTIONS) {
					const ratio = after.rps / before.rps;
					const met = ratio >= 5 && after.rps >= 2500 && after.p99 <= 50;
					goals.push(
						`- goal node pings at ${connections} connections: ≥ 5× per-request commit, ≥ 2,500/s, p99 ≤ 50 ms: ${after.rps.toFixed(0)}/s = ${ratio.toFixed(2)}×, p99 ${after.p99.toFixed(1)} ms → ${met ? "met" : "not met"}`,
					);
				}
			}
		} else if (runtime === "workerd") throughput.push(await pingsOnWorkerd(f, o, track));
	}
	const statements = await countStatements(f, o.dir);
	const sweeps = await benchSweep(f, o.dir, track);

	console.log();
	console.log(
		`Heartbeats — ping an existing monitor (POST /api/v1/heartbeat/${SLUG}, warm API key), ${o.seconds} s per case`,
	);
	console.log();
	console.log(
		"| runtime, write path | req/s | p50 ms | p99 ms | srv CPU µs/ping | db CPU µs/ping | non-2xx/err |",
	);
	console.log("|---|---:|---:|---:|---:|---:|---:|");
	const cpu = (v: number | null) => (v === null ? "–" : v.toFixed(0));
	for (const r of throughput) {
		console.log(
			`| ${r.runtime} | ${r.rps.toFixed(0)} | ${fixed(r.p50, 2)} | ${fixed(r.p99, 2)} | ${cpu(r.serverCpuUs)} | ${cpu(r.databaseCpuUs)} | ${r.failures} |`,
		);
	}
	console.log();
	for (const goal of goals) console.log(goal);
	if (goals.length > 0) console.log();
	console.log(
		"Database statements per ping (counted at the libSQL client, in process; averages; goal ≤ 1 read + 1 write)",
	);
	console.log();
	console.log("| ping | pings | reads | other single writes | write batches | statements per batch |");
	console.log("|---|---:|---:|---:|---:|---:|");
	for (const r of statements) {
		console.log(
			`| ${r.label} | ${r.n} | ${fixed(r.reads / r.n, 2)} | ${fixed(r.writes / r.n, 2)} | ${fixed(r.batches / r.n, 2)} | ${r.batches === 0 ? "–" : fixed(r.batchStatements / r.batches, 1)} |`,
		);
	}
	console.log();
	console.log("The sweep (flip overdue monitors, send due alerts, prune) — one run each");
	console.log();
	console.log(
		"| database | monitors | overdue | flipped | sweep ms | reads | write batches | statements in batches |",
	);
	console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
	for (const r of sweeps) {
		console.log(
			`| ${r.label} | ${r.monitors} | ${r.overdue} | ${r.flipped} | ${r.ms.toFixed(1)} | ${r.reads} | ${r.batches} | ${r.batchStatements} |`,
		);
	}
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-hb-bench-"));
	const cleanups: Array<() => unknown> = [];
	try {
		await runHeartbeatBench({
			dir,
			seconds: Number(process.env.BENCH_SECONDS || 5),
			warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS || 1),
			connections: Number(process.env.BENCH_CONNECTIONS || 10),
			runtimes: (process.env.BENCH_RUNTIMES ?? "node,workerd").split(",").map((r) => r.trim()),
			cleanups,
		});
	} catch (error) {
		console.error("heartbeat bench failed:", error);
		process.exitCode = 1;
	} finally {
		for (const close of cleanups.reverse()) await Promise.resolve(close()).catch(() => {});
		rmSync(dir, { recursive: true, force: true });
	}
}
