/**
 * The Cloudflare Queues part of `npm run bench` (docs/scale-out.md; also runnable alone with
 * `npx tsx bench/queue.ts`): the Worker in workerd (Miniflare, as bench/run.ts runs it) over libSQL
 * through the Hrana stand-in in its own process, OTLP/JSON log exports of BENCH_QUEUE_RECORDS
 * records sent BENCH_QUEUE_CONNECTIONS at a time, BENCH_QUEUE_EXPORTS in all — once written
 * directly (no binding), once through Miniflare's local queue and the Worker's own consumer.
 *
 * Reported side by side, from one run: the export's answer time (p50/p99), records per second
 * answered, and records per second stored end to end (until the last row is in the database).
 * Miniflare's queue is a local stand-in for Cloudflare's: the answer time here lacks the real
 * queue's write latency (a few ms in Cloudflare's docs), and the consumer's batch wait
 * (max_batch_timeout 1 s here) is part of the end-to-end time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@libsql/client";
import { Miniflare } from "miniflare";
import { generateSigningKey } from "../src/auth/jwt.js";
import { systemClock } from "../src/clock.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { createApiKey, createOrg } from "../src/services/api-keys.js";
import { startChild, type Track } from "./heartbeats.js";
import { smallOtlpLogs } from "./load-support.js";
import { percentile } from "./proc.js";
import { bundleForWorkerd } from "./workerd-bundle.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const positive = (name: string, fallback: number) => {
	const value = Number(process.env[name] ?? fallback);
	if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
	return value;
};
const RECORDS = positive("BENCH_QUEUE_RECORDS", 500);
const EXPORTS = positive("BENCH_QUEUE_EXPORTS", 200);
const CONNECTIONS = positive("BENCH_QUEUE_CONNECTIONS", 8);

interface Result {
	mode: string;
	p50: number;
	p99: number;
	answeredPerSecond: number;
	storedPerSecond: number;
	failures: number;
}

async function run(
	mode: string,
	scriptPath: string,
	dir: string,
	bindings: Record<string, string>,
	key: string,
	countRows: () => Promise<number>,
	queued: boolean,
): Promise<Result> {
	const mf = new Miniflare({
		modules: true,
		scriptPath,
		modulesRoot: dir,
		compatibilityDate: "2026-04-20",
		compatibilityFlags: ["nodejs_compat"],
		kvNamespaces: ["KEY_CACHE"],
		bindings: { ...bindings, LOG_LEVEL: "silent" },
		...(queued && {
			queueProducers: { TELEMETRY_QUEUE: "bench-telemetry" },
			queueConsumers: {
				"bench-telemetry": {
					maxBatchSize: 100,
					maxBatchTimeout: 1,
					maxRetries: 10,
					deadLetterQueue: "bench-telemetry-dlq",
				},
				"bench-telemetry-dlq": { maxBatchSize: 100, maxBatchTimeout: 1 },
			},
		}),
		host: "127.0.0.1",
		port: 0,
	});
	try {
		const url = await mf.ready;
		const before = await countRows();
		const bodies = Array.from({ length: 16 }, (_, i) => smallOtlpLogs(RECORDS, `${mode} ${i}`));
		const send = (i: number) =>
			fetch(new URL("/v1/logs", url), {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: bodies[i % bodies.length] as string,
			});
		// Warm-up: one export (isolate, key cache, first statements).
		const warm = await send(0);
		if (warm.status !== 200)
			throw new Error(`${mode}: warm-up export answered ${warm.status}: ${await warm.text()}`);
		const latencies: number[] = [];
		let failures = 0;
		let next = 0;
		const started = performance.now();
		await Promise.all(
			Array.from({ length: CONNECTIONS }, async () => {
				while (next < EXPORTS) {
					const i = next++;
					const t = performance.now();
					const response = await send(i);
					await response.arrayBuffer();
					latencies.push(performance.now() - t);
					if (response.status !== 200) failures++;
				}
			}),
		);
		const answered = performance.now() - started;
		const expected = before + (EXPORTS + 1 - failures) * RECORDS;
		// Stored: until every acknowledged record is in the database (the queue drained).
		for (let waited = 0; ; waited++) {
			const now = await countRows();
			if (now >= expected) break;
			if (waited > 1_200)
				throw new Error(`${mode}: ${now - before} of ${expected - before} records stored after 2 minutes`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		const stored = performance.now() - started;
		const records = EXPORTS * RECORDS;
		return {
			mode,
			p50: percentile(latencies, 50),
			p99: percentile(latencies, 99),
			answeredPerSecond: records / (answered / 1000),
			storedPerSecond: records / (stored / 1000),
			failures,
		};
	} finally {
		await mf.dispose();
	}
}

export async function benchQueue(): Promise<void> {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-bench-queue-"));
	const track: Track = { cleanups: [], pids: new Set() };
	try {
		const dbUrl = `file:${join(dir, "edge.db")}`;
		const setup = await openMigratedDatabase(dbUrl);
		const org = await createOrg(setup.db, systemClock, "Bench queue");
		const { key } = await createApiKey(setup.db, systemClock, { orgId: org.id, name: "q", createdBy: "cli" });
		setup.client.close();
		const { info: started } = await startChild<{ url: string }>(
			"bench/hrana-server.ts",
			{ BENCH_DATABASE_URL: dbUrl },
			track,
		);
		const reader = createClient({ url: dbUrl });
		const countRows = async () =>
			Number(
				(await reader.execute({ sql: "SELECT count(*) AS n FROM logs WHERE org_id = ?", args: [org.id] }))
					.rows[0]?.n,
			);
		const scriptPath = join(dir, "worker.mjs");
		// The Worker itself (fetch and queue handlers).
		await bundleForWorkerd(join(ROOT, "src/runtime/worker.ts"), scriptPath);
		const bindings = {
			DATABASE_URL: started.url,
			JWT_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey()] }),
			TOTP_ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
		};
		const load = loadavg()[0] as number;
		process.stderr.write("bench: queue — direct … ");
		const direct = await run("direct (no queue)", scriptPath, dir, bindings, key, countRows, false);
		process.stderr.write("through the queue … ");
		const queued = await run("through the queue", scriptPath, dir, bindings, key, countRows, true);
		process.stderr.write("done\n");
		reader.close();

		console.log();
		console.log(
			`Cloudflare Queues path (workerd via Miniflare, libSQL through the Hrana stand-in): ${EXPORTS} OTLP/JSON log exports of ${RECORDS} records, ${CONNECTIONS} at a time — ${cpus().length} CPU(s), load average ${load.toFixed(2)} before / ${(loadavg()[0] as number).toFixed(2)} after`,
		);
		console.log();
		console.log(
			"| path | answer p50 ms | answer p99 ms | records/s answered | records/s stored end to end | failed |",
		);
		console.log("|---|---:|---:|---:|---:|---:|");
		for (const r of [direct, queued]) {
			console.log(
				`| ${r.mode} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${Math.round(r.answeredPerSecond)} | ${Math.round(r.storedPerSecond)} | ${r.failures} |`,
			);
		}
		const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "—");
		console.log(
			`| queue ÷ direct | ${ratio(queued.p50, direct.p50)}× | ${ratio(queued.p99, direct.p99)}× | ${ratio(queued.answeredPerSecond, direct.answeredPerSecond)}× | ${ratio(queued.storedPerSecond, direct.storedPerSecond)}× | |`,
		);
		console.log();
	} finally {
		for (const cleanup of track.cleanups.reverse()) await cleanup();
		rmSync(dir, { recursive: true, force: true });
	}
}

if (import.meta.url === `file://${process.argv[1]}`) {
	benchQueue().catch((error: unknown) => {
		console.error("bench failed:", error);
		process.exitCode = 1;
	});
}
