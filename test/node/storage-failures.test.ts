/**
 * Storage failures on Node answer 503 `storage_unavailable` with Retry-After on every route, never
 * 500 (contract §2): a full disk (SQLITE_FULL, on a small tmpfs) and a write lock held past the
 * busy timeout (SQLITE_BUSY). Warm API keys keep authenticating; nothing of a failed request is kept.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageFailure, StorageUnreachable } from "../../src/db/errors.js";
import { request } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const PING = "/api/v1/heartbeat";

function expectStorageUnavailable(answer: { status: number; headers: Headers; json: unknown }) {
	expect(answer.status).toBe(503);
	expect(answer.headers.get("Retry-After")).toBe("5");
	expect((answer.json as { error: { code: string } }).error.code).toBe("storage_unavailable");
}

const isRoot = process.getuid?.() === 0;
if (!isRoot) {
	console.warn(
		"storage-failures.test.ts: the full-disk case needs root to mount a tmpfs; it is skipped here (CI runs as root).",
	);
}

describe.skipIf(!isRoot)("a full disk (SQLITE_FULL on a 4 MiB tmpfs)", () => {
	let mountPoint: string;
	let t: TestApp;
	let key: string;
	let orgId: string;
	const filler = () => join(mountPoint, "filler");

	beforeAll(async () => {
		mountPoint = mkdtempSync(join(tmpdir(), "hexcovery-full-"));
		execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
		t = await createTestApp({ dir: mountPoint });
		({ key, orgId } = await t.createOrgWithKey());
		// The key is warm (in memory) before the disk fills.
		expect((await request(t, "POST", `${PING}/warm`, { key })).status).toBe(201);
		// After a checkpoint the log is empty: the next write must grow a file, and cannot.
		await t.database.client.execute("PRAGMA wal_checkpoint(TRUNCATE)");
		const chunk = Buffer.alloc(64 * 1024);
		try {
			for (let i = 0; i < 1024; i++) writeFileSync(filler(), chunk, { flag: "a" });
		} catch (error) {
			expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
		}
	});
	afterAll(async () => {
		await t?.close();
		if (mountPoint) {
			execFileSync("umount", ["-l", mountPoint]);
			rmSync(mountPoint, { recursive: true, force: true });
		}
	});

	it("answers 503 storage_unavailable to pings, annotations and OTLP; the warm key still authenticates", async () => {
		expectStorageUnavailable(await request(t, "POST", `${PING}/nightly`, { key }));
		expectStorageUnavailable(await request(t, "POST", `${PING}/warm/fail`, { key }));
		expectStorageUnavailable(
			await request(t, "POST", "/api/v1/annotations", { key, json: { title: "deploy 42" } }),
		);
		const otlp = await t.app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify({
				resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: "x".repeat(200_000) } }] }] }],
			}),
		});
		expect(otlp.status).toBe(503);
		expect(otlp.headers.get("Retry-After")).toBe("5");
		expect(await otlp.text()).toMatch(/STORAGE_UNAVAILABLE/);
		// Reads still work on a full disk.
		expect((await request(t, "GET", "/api/v1/annotations", { key })).status).toBe(200);
	});

	it("keeps nothing of the failed requests, and recovers once space is freed", async () => {
		rmSync(filler());
		expect((await request(t, "POST", `${PING}/nightly`, { key })).status).toBe(201);
		const warm = await request(t, "POST", `${PING}/warm`, { key });
		expect(warm.status).toBe(200);
		expect((warm.json as { monitor: { status: string } }).monitor.status).toBe("up");
		const kept = await t.database.client.execute({
			sql: "SELECT count(*) FROM annotations WHERE org_id = ?",
			args: [orgId],
		});
		expect(kept.rows[0]?.[0]).toBe(0);
	});
});

describe("a write lock held past the busy timeout (SQLITE_BUSY)", () => {
	let t: TestApp;
	let key: string;
	beforeAll(async () => {
		t = await createTestApp();
		({ key } = await t.createOrgWithKey());
		expect((await request(t, "POST", `${PING}/warm`, { key })).status).toBe(201);
	});
	afterAll(() => t.close());

	it("answers 503 storage_unavailable, then 200 once the lock is gone (the client's connection is healed)", async () => {
		const other = new Database(join(t.database.dir, "test.db"));
		other.exec("BEGIN IMMEDIATE");
		try {
			expectStorageUnavailable(await request(t, "POST", `${PING}/warm`, { key }));
		} finally {
			other.exec("ROLLBACK");
			other.close();
		}
		expect((await request(t, "POST", `${PING}/warm`, { key })).status).toBe(200);
	});
});

describe("what counts as a storage failure", () => {
	it("reads the cause chain: SQLite codes, remote client codes, deadlines, network errors", () => {
		const wrapped = (cause: unknown) => new Error("Failed query: INSERT …", { cause });
		const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
		for (const failure of [
			wrapped(coded("SQLITE_FULL")),
			wrapped(coded("SQLITE_BUSY")),
			coded("SQLITE_IOERR_WRITE"),
			wrapped(coded("SERVER_ERROR", "Server returned HTTP status 502")),
			wrapped(new StorageUnreachable("the database did not answer within 300 ms")),
			Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" }),
			new TypeError("fetch failed"),
		]) {
			expect(isStorageFailure(failure)).toBe(true);
		}
		for (const mistake of [
			wrapped(coded("SQLITE_CONSTRAINT_UNIQUE")),
			coded("SQLITE_ERROR", "SQLITE_ERROR: no such column: nope"),
			new TypeError("Cannot read properties of undefined"),
			"SQLITE_FULL",
		]) {
			expect(isStorageFailure(mistake)).toBe(false);
		}
	});
});
