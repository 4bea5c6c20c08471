/**
 * The writer in its own thread (src/ingest/writer-thread.ts), as the Node server runs it: writes
 * cross as data and come back with their outcome or their error's class; a thread that cannot open
 * its database fails every write as a storage failure; close() settles what is queued; a body in a
 * pooled Buffer is copied, never moved. (The OTLP and ping suites also run over the thread:
 * test/node/otlp-http.test.ts, test/node/heartbeats-api.test.ts; the server's own start and kill -9:
 * test/node/crash.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config.js";
import { isStorageFailure } from "../../src/db/errors.js";
import { ApiError } from "../../src/errors.js";
import { DEFAULT_ATTRIBUTE_LIMITS, type TimeWindow } from "../../src/ingest/batch.js";
import { DecodeError, StorageUnavailable } from "../../src/ingest/decode-error.js";
import { reviveError, serializeError } from "../../src/ingest/thread-errors.js";
import { openWriterThread, type WriterThread } from "../../src/ingest/writer-thread.js";
import { writerThreadFrom } from "../../src/runtime/node-deps.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const MS = 1_000_000n;
const WINDOW: TimeWindow = {
	nowNs: BigInt(NOW) * MS,
	minNs: BigInt(NOW - 30 * 86_400_000) * MS,
	maxNs: BigInt(NOW + 3_600_000) * MS,
};

function logsBody(id: string, records = 3): Uint8Array {
	const logRecords = Array.from({ length: records }, (_, i) => ({
		timeUnixNano: `${BigInt(NOW) * MS}`,
		body: { stringValue: `${id}:${i}` },
	}));
	return new TextEncoder().encode(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords }] }] }));
}

let database: TestDatabase;
let thread: WriterThread | undefined;

beforeEach(async () => {
	database = await openTestDatabase();
});
afterEach(async () => {
	await thread?.close();
	thread = undefined;
	database.close();
});

const exportLogs = async (body: Uint8Array) =>
	(
		await (thread as WriterThread).exportOtlp({
			orgId: "org_thread",
			signal: "logs",
			format: "json",
			body,
			nowMs: NOW,
			window: WINDOW,
		})
	).partial;

async function storedBodies(): Promise<string[]> {
	const result = await database.client.execute(
		"SELECT body FROM logs WHERE org_id = 'org_thread' ORDER BY body",
	);
	return result.rows.map((row) => String(row.body));
}

describe("the writer thread", () => {
	it("stores an export and answers with its outcome; a bad body comes back as a DecodeError", async () => {
		thread = openWriterThread(join(database.dir, "test.db"), { attributeLimits: DEFAULT_ATTRIBUTE_LIMITS });
		await thread.ready;
		expect(await exportLogs(logsBody("a"))).toBeNull();
		expect(await storedBodies()).toEqual(["a:0", "a:1", "a:2"]);

		const stale = new TextEncoder().encode(
			JSON.stringify({
				resourceLogs: [
					{ scopeLogs: [{ logRecords: [{ timeUnixNano: "1", body: { stringValue: "old" } }] }] },
				],
			}),
		);
		const partial = await exportLogs(stale);
		expect(partial?.rejected).toBe(1);
		expect(partial?.message).toMatch(/retention/i);

		const error = await exportLogs(new TextEncoder().encode('{"resourceLogs": 7}')).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(DecodeError);
		expect((error as DecodeError).field).toBe("resourceLogs");
		expect(await storedBodies()).toEqual(["a:0", "a:1", "a:2"]);
		expect(await thread.stats()).toMatchObject({ writes: 2 });
	});

	it("close() settles every export still queued, each stored", async () => {
		thread = openWriterThread(join(database.dir, "test.db"), { attributeLimits: DEFAULT_ATTRIBUTE_LIMITS });
		await thread.ready;
		const sent = Array.from({ length: 20 }, (_, i) =>
			exportLogs(logsBody(`q${String(i).padStart(2, "0")}`, 1)),
		);
		await thread.close();
		expect(await Promise.all(sent)).toEqual(Array.from({ length: 20 }, () => null));
		expect(await storedBodies()).toEqual(
			Array.from({ length: 20 }, (_, i) => `q${String(i).padStart(2, "0")}:0`),
		);
		// After close, a write is refused as a storage failure (503), never silently dropped.
		const late = await exportLogs(logsBody("late")).catch((e: unknown) => e);
		expect(late).toBeInstanceOf(StorageUnavailable);
		thread = undefined;
	});

	it("copies a body that lives in Node's shared Buffer pool instead of moving the pool", async () => {
		thread = openWriterThread(join(database.dir, "test.db"), { attributeLimits: DEFAULT_ATTRIBUTE_LIMITS });
		await thread.ready;
		const neighbour = Buffer.from("a neighbour in the same pool slab");
		const body = Buffer.from(logsBody("pooled", 1));
		expect(body.buffer).toBe(neighbour.buffer); // both small: one slab
		await exportLogs(body);
		expect(neighbour.toString()).toBe("a neighbour in the same pool slab");
		expect(body.byteLength).toBeGreaterThan(0);
		expect(await storedBodies()).toEqual(["pooled:0"]);
	});

	it("a thread that cannot open its database fails to start (the server does not start) and fails every write as a storage failure", async () => {
		thread = openWriterThread(join(database.dir, "missing-folder", "x.db"), {
			attributeLimits: DEFAULT_ATTRIBUTE_LIMITS,
		});
		const startup = await thread.ready.catch((e: unknown) => e);
		expect((startup as Error).message).toMatch(/Unable to open connection/);
		const write = await exportLogs(logsBody("nowhere")).catch((e: unknown) => e);
		expect(write).toBeInstanceOf(StorageUnavailable);
		const ping = await thread.ping({} as never, NOW).catch((e: unknown) => e);
		expect(ping).toBeInstanceOf(StorageUnavailable);
	});
});

describe("errors across the thread", () => {
	let dir: string;
	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "hexcovery-thread-errors-"));
	});
	afterEach(() => rmSync(dir, { recursive: true, force: true }));

	it("a real SQLITE_FULL keeps its code and stays a storage failure", () => {
		const db = new Database(join(dir, "full.db"));
		db.exec("CREATE TABLE t (v TEXT)");
		db.exec("PRAGMA max_page_count = 3");
		let full: unknown;
		try {
			for (let i = 0; i < 100; i++) db.prepare("INSERT INTO t VALUES (?)").run(["x".repeat(2000)]);
		} catch (error) {
			full = error;
		}
		db.close();
		expect((full as { code?: string }).code).toMatch(/^SQLITE_FULL/);
		const revived = reviveError(serializeError(new StorageUnavailable(full)));
		expect(revived).toBeInstanceOf(StorageUnavailable);
		expect(((revived as Error).cause as { code?: string }).code).toMatch(/^SQLITE_FULL/);
		expect(isStorageFailure(reviveError(serializeError(full)))).toBe(true);
	});

	it("an ApiError keeps its status, code, message and headers; a DecodeError its field and summary", () => {
		const api = reviveError(
			serializeError(
				new ApiError(409, "monitor_limit_reached", "At most 2 monitors.", {
					headers: { "Retry-After": "1" },
				}),
			),
		);
		expect(api).toBeInstanceOf(ApiError);
		expect(api).toMatchObject({ status: 409, code: "monitor_limit_reached", message: "At most 2 monitors." });
		expect((api as ApiError).options.headers).toEqual({ "Retry-After": "1" });
		const decode = reviveError(serializeError(new DecodeError("spans[0]", "bad id", "The whole message.")));
		expect(decode).toBeInstanceOf(DecodeError);
		expect(decode).toMatchObject({ field: "spans[0]", description: "bad id", summary: "The whole message." });
		const plain = reviveError(serializeError(new TypeError("boom")));
		expect([plain.name, plain.message, isStorageFailure(plain)]).toEqual(["TypeError", "boom", false]);
	});

	it("WRITER_THREAD: on by default, off on request, anything else a configuration error", () => {
		expect(writerThreadFrom({})).toBe(true);
		expect(writerThreadFrom({ WRITER_THREAD: "off" })).toBe(false);
		expect(() => writerThreadFrom({ WRITER_THREAD: "yes" })).toThrow(ConfigError);
	});
});
