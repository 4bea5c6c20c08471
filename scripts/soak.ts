/**
 * `npm run soak`: the Node server under mixed load for a bounded time, then a check that nothing
 * acknowledged was lost. Not part of `npm test` (it takes a minute and saturates the machine).
 *
 * A real server (bench/load-server.ts, `startNodeServer` with its defaults: reader processes for
 * heavy reads) over a temporary database seeded with the OQL data set, and the mixed workload of
 * bench/load-support.ts: OTLP exports, heartbeat pings, /health and dashboard reads (the 24 h
 * overview and an OQL TIMESERIES), all from 127.0.0.1. It prints p50/p99 per kind of request and
 * exits non-zero when an acknowledged item is missing or a request answered 500.
 *
 * Env: SOAK_SECONDS (30), SOAK_ROWS (100000 seeded logs + spans; 0 = empty), SOAK_INGEST (4 clients),
 * SOAK_PINGERS (8), SOAK_READERS (2), READ_POOL_SIZE and the other server settings pass through.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
	createServerFixtures,
	startServerChild,
	startWorkload,
	verifyAcknowledged,
	type WorkloadKind,
	type WorkloadTally,
} from "../bench/load-support.js";
import { percentile } from "../bench/proc.js";
import { openMigratedDatabase } from "../src/db/node.js";

function wholeNumber(name: string, fallback: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${raw}`);
	return value;
}

/** The table of figures and the list of failures of a workload run. */
export function formatTally(tally: WorkloadTally, seconds: number): string {
	const lines = [
		"| requests | answered 2xx | per s | p50 ms | p99 ms | max ms |",
		"|---|---:|---:|---:|---:|---:|",
	];
	for (const kind of Object.keys(tally.latencies) as WorkloadKind[]) {
		const ms = tally.latencies[kind];
		lines.push(
			`| ${kind} | ${ms.length} | ${(ms.length / seconds).toFixed(0)} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 99).toFixed(1)} | ${percentile(ms, 100).toFixed(1)} |`,
		);
	}
	const failures = [...tally.failures.entries()].map(([what, n]) => `${what}: ${n}`).join(", ");
	lines.push("", `not 2xx: ${failures || "none"}`);
	return lines.join("\n");
}

async function main(): Promise<number> {
	const seconds = Math.max(1, wholeNumber("SOAK_SECONDS", 30));
	const rows = wholeNumber("SOAK_ROWS", 100_000);
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-soak-"));
	const dbPath = join(dir, "oql.db"); // the name bench/oql.ts seeds
	try {
		let orgId: string | undefined;
		if (rows > 0) {
			process.stderr.write(`soak: seeding ${rows} logs + ${rows} spans …\n`);
			const { createOqlBenchDatabase } = await import("../bench/oql.js");
			const seeded = await createOqlBenchDatabase(rows, dir);
			orgId = seeded.orgId;
			seeded.close();
		}
		const opened = await openMigratedDatabase(`file:${dbPath}`);
		const fixtures = await createServerFixtures(opened.db, orgId);
		opened.client.close();
		const server = await startServerChild({
			DATABASE_URL: `file:${dbPath}`,
			DATA_DIR: join(dir, "data"),
			JWT_SIGNING_KEYS: fixtures.signingKeys,
		});
		process.stderr.write(`soak: ${seconds} s of mixed load on ${server.url} …\n`);
		let tally: WorkloadTally;
		try {
			const workload = startWorkload(server.url, fixtures, {
				ingest: wholeNumber("SOAK_INGEST", 4),
				pingers: wholeNumber("SOAK_PINGERS", 8),
				readers: wholeNumber("SOAK_READERS", 2),
				run: `soak${Date.now().toString(36)}`,
			});
			await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
			tally = await workload.stop();
		} finally {
			await server.stop();
		}
		console.log(`Soak: ${seconds} s, Node server with reader processes, ${rows} seeded logs + spans`);
		console.log();
		console.log(formatTally(tally, seconds));
		const problems = await verifyAcknowledged(dbPath, fixtures.orgId, tally);
		const serverErrors = [...tally.failures.keys()].filter(
			(what) => / 5\d\d$/.test(what) && !/ 503$/.test(what),
		);
		if (serverErrors.length > 0) problems.push(`answers with a server error: ${serverErrors.join(", ")}`);
		console.log(
			`acknowledged: ${tally.ackedRecords.size} log records, ${[...tally.ackedPings.values()].reduce((a, b) => a + b, 0)} pings → ${problems.length === 0 ? "all present" : problems.join("; ")}`,
		);
		return problems.length === 0 ? 0 : 1;
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

process.exitCode = await main().catch((error: unknown) => {
	console.error("soak failed:", error);
	return 1;
});
