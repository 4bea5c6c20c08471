/**
 * Heavy reads on Node: the reader processes (src/db/reader-pool.ts) and the door in front of them
 * (src/db/reads.ts) — same answers as the main connection, the event loop free while a statement
 * runs, a deadline that stops the statement, round-robin between orgs, limits in flight (429).
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, databaseTimeoutFrom, readLimitsFrom, readPoolSizeFrom } from "../../src/config.js";
import { isStorageFailure } from "../../src/db/errors.js";
import { openReaderPool, type ReaderPool } from "../../src/db/reader-pool.js";
import { HeavyReads, ReadDeadlinePassed } from "../../src/db/reads.js";
import { ApiError } from "../../src/errors.js";
import { tokenFor } from "../support/heartbeats.js";
import { type Answer, send } from "../support/management.js";
import { createTestApp, openTestDatabase, type TestApp, type TestDatabase } from "../support/node-app.js";

/** A statement that keeps a reader busy for seconds (a recursive count), whatever the data. */
const SLOW = {
	sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) AS n FROM c",
	args: [],
};
const pending = (promise: Promise<unknown>) => promise.catch((error: unknown) => error);

describe("the reader pool", () => {
	let database: TestDatabase;
	let pool: ReaderPool;
	beforeAll(async () => {
		database = await openTestDatabase();
		await database.client.execute("CREATE TABLE sample (id INTEGER PRIMARY KEY, name TEXT, big INTEGER)");
		await database.client.execute(
			"INSERT INTO sample (name, big) VALUES ('a', 9007199254740991), ('b', 2), (NULL, -1)",
		);
		pool = openReaderPool(`${database.dir}/test.db`, { size: 1 });
	});
	afterAll(async () => {
		await pool.close();
		database.close();
	});

	it("reads what the main connection committed, rows by index and by column name", async () => {
		const [result] = await pool.read([{ sql: "SELECT id, name, big FROM sample ORDER BY id", args: [] }], {
			orgId: "o",
			timeoutMs: 10_000,
		});
		expect(result?.columns).toEqual(["id", "name", "big"]);
		expect(result?.rows.map((row) => [row[0], row.name, row.big])).toEqual([
			[1, "a", 9007199254740991],
			[2, "b", 2],
			[3, null, -1],
		]);
		await database.client.execute("INSERT INTO sample (name, big) VALUES ('later', 4)");
		const [after] = await pool.read([{ sql: "SELECT count(*) FROM sample", args: [] }], {
			orgId: "o",
			timeoutMs: 10_000,
		});
		expect(after?.rows[0]?.[0]).toBe(4);
	});

	it("reads rows as the client does: a repeated name is its first column's, `length` is the row's", async () => {
		const [result] = await pool.read(
			[{ sql: "SELECT name, big AS name, 7 AS length, 'x' AS \"0\", id FROM sample WHERE id = 1", args: [] }],
			{ orgId: "o", timeoutMs: 10_000 },
		);
		const row = result?.rows[0];
		expect(row?.length).toBe(5);
		expect(row?.name).toBe("a");
		expect([row?.[0], row?.[1], row?.[2], row?.[3], row?.[4]]).toEqual(["a", 9007199254740991, 7, "x", 1]);
		expect(row?.id).toBe(1);
		// The same reading from the client itself.
		const direct = await database.client.execute(
			"SELECT name, big AS name, 7 AS length, 'x' AS \"0\", id FROM sample WHERE id = 1",
		);
		const client = direct.rows[0];
		expect([client?.length, client?.name, client?.[0], client?.[3], client?.id]).toEqual([
			row?.length,
			row?.name,
			row?.[0],
			row?.[3],
			row?.id,
		]);
	});

	it("takes arguments and gives values as the client does: ?N and named, booleans, blobs, unsafe integers", async () => {
		const statements = [
			{ sql: "SELECT ?2 AS two, ?1 AS one", args: ["first", 2n] },
			{ sql: "SELECT :flag AS flag, x'00ff' AS blob", args: { flag: true } },
		];
		const pooled = await pool.read(statements, { orgId: "o", timeoutMs: 10_000 });
		const direct = await database.client.batch(statements, "read");
		for (const [i, result] of pooled.entries()) {
			expect(Array.from(result.rows[0] ?? [])).toEqual(Array.from(direct[i]?.rows[0] ?? []));
		}
		expect(Array.from(pooled[0]?.rows[0] ?? [])).toEqual([2, "first"]);
		expect(pooled[1]?.rows[0]?.flag).toBe(1);
		expect(new Uint8Array(pooled[1]?.rows[0]?.blob as ArrayBuffer)).toEqual(new Uint8Array([0, 255]));
		// Past 2^53 the client refuses to round; so does the pool (exact values are read as text).
		const unsafe = "SELECT 9007199254740993 AS n";
		expect(await pending(database.client.execute(unsafe))).toBeInstanceOf(RangeError);
		const error = await pending(pool.read([{ sql: unsafe, args: [] }], { orgId: "o", timeoutMs: 10_000 }));
		expect((error as Error).name).toBe("RangeError");
		expect((error as Error).message).toMatch(/safely represented/);
	});

	it("runs several statements as one batch, and refuses to write", async () => {
		const results = await pool.read(
			[
				{ sql: "SELECT count(*) AS n FROM sample WHERE big > ?", args: [1] },
				{ sql: "SELECT name FROM sample WHERE id = ?", args: [2] },
			],
			{ orgId: "o", timeoutMs: 10_000 },
		);
		expect(results.map((r) => r.rows[0]?.[0])).toEqual([3, "b"]);
		const write = await pending(
			pool.read([{ sql: "DELETE FROM sample", args: [] }], { orgId: "o", timeoutMs: 10_000 }),
		);
		expect(write).toBeInstanceOf(Error);
		expect((await database.client.execute("SELECT count(*) FROM sample")).rows[0]?.[0]).toBe(4);
	});

	it("passes the engine's error code through (an invalid statement is not a storage failure)", async () => {
		const error = await pending(
			pool.read([{ sql: "SELECT nope FROM sample", args: [] }], { orgId: "o", timeoutMs: 10_000 }),
		);
		expect(error).toMatchObject({ code: "SQLITE_ERROR" });
		expect(String((error as Error).message)).toMatch(/no such column/);
	});

	it("keeps the event loop free while a statement runs, and stops it at the deadline", async () => {
		const before = pool.started;
		let ticks = 0;
		const ticker = setInterval(() => ticks++, 5);
		const error = await pending(pool.read([SLOW], { orgId: "o", timeoutMs: 400 }));
		clearInterval(ticker);
		expect(error).toBeInstanceOf(ReadDeadlinePassed);
		// Timers ran while the statement did: an in-process read would have allowed none.
		expect(ticks).toBeGreaterThan(0);
		// The reader running it was killed and replaced; the replacement answers.
		expect(pool.started).toBe(before + 1);
		const [result] = await pool.read([{ sql: "SELECT count(*) FROM sample", args: [] }], {
			orgId: "o",
			timeoutMs: 10_000,
		});
		expect(result?.rows[0]?.[0]).toBe(4);
	});

	it("serves waiting orgs in turn: one org's queue does not starve another", async () => {
		const finished: string[] = [];
		const quick = (label: string, orgId: string) =>
			pool
				.read([{ sql: "SELECT ?", args: [label] }], { orgId, timeoutMs: 10_000 })
				.then(() => finished.push(label));
		// The only reader is busy; then A queues three reads before B queues one.
		const busy = pending(pool.read([SLOW], { orgId: "A", timeoutMs: 1_500 }));
		const reads = [quick("a1", "A"), quick("a2", "A"), quick("a3", "A"), quick("b1", "B")];
		expect(await busy).toBeInstanceOf(ReadDeadlinePassed);
		await Promise.all(reads);
		expect(finished.indexOf("b1")).toBeLessThan(finished.indexOf("a3"));
	});
});

describe("reader processes and secrets", () => {
	it("start without the server's environment: no JWT or TOTP key reaches a reader", async () => {
		const database = await openTestDatabase();
		const saved = process.env.JWT_SIGNING_KEYS;
		process.env.JWT_SIGNING_KEYS = "secret-jwks-for-this-test";
		const pool = openReaderPool(`${database.dir}/test.db`, { size: 1 });
		try {
			await pool.read([{ sql: "SELECT 1", args: [] }], { orgId: "o", timeoutMs: 10_000 });
			const readers = readdirSync("/proc")
				.filter((entry) => /^\d+$/.test(entry))
				.filter((pid) => {
					try {
						const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
						const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
						return (
							ppid === process.pid &&
							readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("reader-process.mjs")
						);
					} catch {
						return false;
					}
				});
			expect(readers.length).toBe(1);
			const environ = readFileSync(`/proc/${readers[0]}/environ`, "utf8");
			expect(environ).not.toContain("secret-jwks-for-this-test");
			// PATH, and what Node adds for the IPC channel.
			const names = environ
				.split("\0")
				.filter(Boolean)
				.map((kv) => kv.split("=")[0] as string);
			expect(names.filter((name) => !name.startsWith("NODE_CHANNEL_"))).toEqual(["PATH"]);
		} finally {
			if (saved === undefined) delete process.env.JWT_SIGNING_KEYS;
			else process.env.JWT_SIGNING_KEYS = saved;
			await pool.close();
			database.close();
		}
	});
});

describe("a reader that cannot open the database", () => {
	it("fails reads as a storage failure (503 storage_unavailable), not at the deadline", async () => {
		const pool = openReaderPool("/nonexistent-folder/hexcovery/missing.db", { size: 1, log: () => {} });
		try {
			const first = await pending(
				pool.read([{ sql: "SELECT 1", args: [] }], { orgId: "o", timeoutMs: 20_000 }),
			);
			expect(isStorageFailure(first)).toBe(true);
			expect(first).not.toBeInstanceOf(ReadDeadlinePassed);
			const next = await pending(
				pool.read([{ sql: "SELECT 1", args: [] }], { orgId: "o", timeoutMs: 20_000 }),
			);
			expect(isStorageFailure(next)).toBe(true);
		} finally {
			await pool.close();
		}
	});
});

describe("the heavy-read door", () => {
	let database: TestDatabase;
	let reads: HeavyReads;
	beforeAll(async () => {
		database = await openTestDatabase();
		reads = new HeavyReads(openReaderPool(`${database.dir}/test.db`, { size: 2 }), { perOrg: 1, total: 2 });
	});
	afterAll(async () => {
		await reads.executor.close();
		database.close();
	});

	it("answers 429 rate_limited beyond the org's limit and beyond the total, 503 query_timeout at the deadline", async () => {
		const one = { sql: "SELECT 1", args: [] };
		const a = pending(reads.read("A", [SLOW], 1_500));
		const ownLimit = await pending(reads.read("A", [one], 10_000));
		expect(ownLimit).toBeInstanceOf(ApiError);
		expect(ownLimit).toMatchObject({ status: 429, code: "rate_limited" });
		expect((ownLimit as ApiError).options.headers?.["Retry-After"]).toBe("1");
		expect((ownLimit as ApiError).message).toMatch(/this organization/);

		const b = pending(reads.read("B", [SLOW], 1_500));
		const total = await pending(reads.read("C", [one], 10_000));
		expect(total).toMatchObject({ status: 429, code: "rate_limited" });
		expect((total as ApiError).message).toMatch(/the server/);

		for (const timedOut of await Promise.all([a, b])) {
			expect(timedOut).toMatchObject({ status: 503, code: "query_timeout" });
			expect((timedOut as ApiError).options.headers?.["Retry-After"]).toBe("5");
		}
		// Slots are released: every org reads again.
		const [result] = await reads.read("C", [one], 10_000);
		expect(result?.rows[0]?.[0]).toBe(1);
	});
});

describe("heavy reads through the routes (reader processes)", () => {
	let t: TestApp;
	let key: string;
	let orgId: string;
	beforeAll(async () => {
		t = await createTestApp({ readPool: 2, oql: { maxRangeDays: 31, timeoutMs: 10_000 } });
		({ key, orgId } = await t.createOrgWithKey());
		const body = {
			resourceLogs: [
				{
					resource: { attributes: [{ key: "service.name", value: { stringValue: "api" } }] },
					scopeLogs: [
						{
							logRecords: [1, 2, 3].map((i) => ({
								timeUnixNano: String(BigInt(t.clock.now() - i * 1000) * 1_000_000n),
								severityText: i === 1 ? "ERROR" : "INFO",
								body: { stringValue: `line ${i}` },
							})),
						},
					],
				},
			],
		};
		const ingest = await t.app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		});
		expect(ingest.status).toBe(200);
	});
	afterAll(() => t.close());

	const dsl = (query: string): Promise<Answer> =>
		send(t, "POST", "/api/v1/dsl", { auth: { key }, body: { query } });

	it("answers OQL and the pages from a reader process", async () => {
		const count = await dsl("SELECT count(*) FROM logs WHERE level = 'error' LAST 1h");
		expect(count.status).toBe(200);
		expect(count.json.rows).toEqual([[1]]);
		const own = await send(t, "GET", "/api/v1/pages/overview", {
			auth: { token: await tokenFor(t, orgId, "viewer") },
		});
		expect(own.status).toBe(200);
		expect(own.json.logs).toEqual({ count: 3, errors: 1, error_rate: 1 / 3 });
		const otherOrg = (await t.createOrgWithKey("Other")).orgId;
		const other = await send(t, "GET", "/api/v1/pages/overview", {
			auth: { token: await tokenFor(t, otherOrg, "viewer") },
		});
		expect(other.status).toBe(200);
		expect(other.json.logs).toEqual({ count: 0, errors: 0, error_rate: null });
	});

	it("a query past OQL_TIMEOUT_MS answers 503 query_timeout, and the next query is answered", async () => {
		const strict = await createTestApp({ readPool: 1, oql: { maxRangeDays: 31, timeoutMs: 1 } });
		try {
			const org = await strict.createOrgWithKey();
			const answer = await send(strict, "POST", "/api/v1/dsl", {
				auth: { key: org.key },
				body: { query: "SELECT count(*) FROM logs LAST 1h" },
			});
			expect(answer.status).toBe(503);
			expect(answer.json.error.code).toBe("query_timeout");
			expect(answer.headers.get("Retry-After")).toBe("5");
		} finally {
			await strict.close();
		}
		expect((await dsl("SELECT count(*) FROM logs LAST 1h")).json.rows).toEqual([[3]]);
	});
});

describe("settings", () => {
	it("reads the limits and the pool size, and refuses nonsense", () => {
		expect(readLimitsFrom({})).toEqual({ perOrg: 8, total: 32 });
		expect(readLimitsFrom({ HEAVY_READS_PER_ORG: "2", HEAVY_READS_TOTAL: "5" })).toEqual({
			perOrg: 2,
			total: 5,
		});
		expect(readPoolSizeFrom({})).toBe(2);
		expect(readPoolSizeFrom({ READ_POOL_SIZE: "0" })).toBe(0);
		for (const bad of ["0", "-1", "2.5", "lots"]) {
			expect(() => readLimitsFrom({ HEAVY_READS_PER_ORG: bad })).toThrow(ConfigError);
		}
		expect(() => readPoolSizeFrom({ READ_POOL_SIZE: "65" })).toThrow(/READ_POOL_SIZE is invalid/);
		expect(databaseTimeoutFrom({})).toBe(10_000);
		expect(databaseTimeoutFrom({ DATABASE_TIMEOUT_MS: "2500" })).toBe(2_500);
		expect(() => databaseTimeoutFrom({ DATABASE_TIMEOUT_MS: "50" })).toThrow(
			/DATABASE_TIMEOUT_MS is invalid/,
		);
	});
});
