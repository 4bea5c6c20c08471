/**
 * The crash test (run by `npm run soak` after the soak): `kill -9` the Node server under load,
 * restart it on the same database file, and check that every acknowledged item is there and no
 * export is torn. An acknowledgement means durable (an fsync of the WAL after the COMMIT, see
 * docs/design.md), so nothing may be missing. (kill -9 leaves the page cache to the kernel: this
 * checks recovery and that nothing is acknowledged before its COMMIT, not the fsync itself.)
 *
 * Each round: a server (bench/load-server.ts) over one temporary database, OTLP exports and
 * heartbeat pings (and one dashboard reader) from 127.0.0.1 for 2–4 s, then SIGKILL; the answers
 * that came back before the kill are the acknowledged ones. After the last round a fresh server
 * starts on the file and answers a ping, so recovery after the crash is checked too.
 *
 * Env: CRASH_ROUNDS (3), CRASH_INGEST (4 clients), CRASH_PINGERS (8).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
	createServerFixtures,
	startServerChild,
	startWorkload,
	verifyAcknowledged,
} from "../bench/load-support.js";
import { openMigratedDatabase } from "../src/db/node.js";

function wholeNumber(name: string, fallback: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${raw}`);
	return value;
}

async function main(): Promise<number> {
	const rounds = Math.max(1, wholeNumber("CRASH_ROUNDS", 3));
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-crash-"));
	const dbPath = join(dir, "crash.db");
	const env = () => ({
		DATABASE_URL: `file:${dbPath}`,
		DATA_DIR: join(dir, "data"),
		JWT_SIGNING_KEYS: fixtures.signingKeys,
	});
	const opened = await openMigratedDatabase(`file:${dbPath}`);
	const fixtures = await createServerFixtures(opened.db);
	opened.client.close();
	let failed = false;
	try {
		for (let round = 1; round <= rounds; round++) {
			const server = await startServerChild(env());
			const workload = startWorkload(server.url, fixtures, {
				ingest: wholeNumber("CRASH_INGEST", 4),
				pingers: wholeNumber("CRASH_PINGERS", 8),
				readers: 1,
				run: `crash${round}x${Date.now().toString(36)}`,
			});
			await new Promise((resolve) => setTimeout(resolve, 2_000 + Math.random() * 2_000));
			const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()));
			server.child.kill("SIGKILL");
			await exited;
			const tally = await workload.stop();
			const pings = [...tally.ackedPings.values()].reduce((a, b) => a + b, 0);
			const problems = await verifyAcknowledged(dbPath, fixtures.orgId, tally);
			console.log(
				`crash round ${round}: kill -9 after ${tally.ackedRecords.size} acknowledged log records and ${pings} pings → ${problems.length === 0 ? "all present, no torn export" : problems.join("; ")}`,
			);
			if (problems.length > 0 || tally.ackedRecords.size === 0) failed = true;
		}
		const restarted = await startServerChild(env());
		try {
			const answer = await fetch(`${restarted.url}/api/v1/heartbeat/after-crash`, {
				method: "POST",
				headers: { "X-API-Key": fixtures.key },
			});
			console.log(`restart after the last crash: ping answered ${answer.status}`);
			if (answer.status !== 201) failed = true;
		} finally {
			await restarted.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
	return failed ? 1 : 0;
}

process.exitCode = await main().catch((error: unknown) => {
	console.error("crash test failed:", error);
	return 1;
});
