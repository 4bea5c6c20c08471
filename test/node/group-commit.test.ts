/**
 * Group commit (src/ingest/embedded-writer.ts): writes submitted together share one transaction and
 * one COMMIT, each settles only after it, and one failing write loses nothing of the others.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openEmbeddedWriter } from "../../src/ingest/embedded-writer.js";
import type { GroupCommitWriter } from "../../src/ingest/writer.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

let dir: string;
let path: string;
let writer: GroupCommitWriter;
/** A second connection to the same file: sees only what was committed. */
let observer: Database.Database;

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-group-"));
	path = join(dir, "g.db");
	const setup = new Database(path);
	setup.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
	setup.close();
	writer = openEmbeddedWriter(path);
	observer = new Database(path);
});
afterEach(() => {
	writer.close();
	observer.close();
	rmSync(dir, { recursive: true, force: true });
});

const committed = () =>
	(observer.prepare("SELECT id FROM t ORDER BY id").all() as { id: number }[]).map((r) => r.id);
const insert = (id: number) => (tx: Parameters<Parameters<GroupCommitWriter["submit"]>[0]>[0]) => {
	tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [id, `row ${id}`], true);
	return id;
};

/** Inserts that count how often their work ran (a repeatable write may run again). */
function countingInserts() {
	const runs = new Map<number, number>();
	const counted = (id: number) => (tx: Parameters<Parameters<GroupCommitWriter["submit"]>[0]>[0]) => {
		runs.set(id, (runs.get(id) ?? 0) + 1);
		return insert(id)(tx);
	};
	return { runs, counted };
}

describe("group commit", () => {
	it("writes submitted in one turn share one commit, and each is visible to other connections when it settles", async () => {
		const settledSeeing: number[][] = [];
		const writes = Array.from({ length: 50 }, (_, i) =>
			writer.submit(insert(i + 1)).then((id) => {
				settledSeeing.push(committed());
				return id;
			}),
		);
		expect(committed()).toEqual([]); // nothing runs before the flush
		expect(await Promise.all(writes)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
		expect(writer.stats).toEqual({ groups: 1, writes: 50 });
		// Acknowledged only after COMMIT: the first write to settle already sees all fifty.
		expect(settledSeeing[0]).toHaveLength(50);
	});

	it("a write that throws is rolled back alone; the writes before and after it commit", async () => {
		const results = await Promise.allSettled([
			writer.submit(insert(1)),
			writer.submit((tx) => {
				tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [2, "half done"], true);
				throw new Error("bad input after a statement ran");
			}),
			writer.submit((tx) => {
				tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [1, "duplicate key"], true); // constraint error
			}),
			writer.submit(insert(4)),
		]);
		expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
		expect((results[1] as PromiseRejectedResult).reason.message).toBe("bad input after a statement ran");
		expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE|constraint/i);
		expect(committed()).toEqual([1, 4]);
		expect(writer.stats.groups).toBe(1);
	});

	it("repeatable writes share a savepoint; one that throws after writing is undone alone and the others of its run run again", async () => {
		const { runs, counted } = countingInserts();
		const results = await Promise.allSettled([
			writer.submit(counted(1), { repeatable: true }),
			writer.submit(counted(2), { repeatable: true }),
			writer.submit(
				(tx) => {
					tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [3, "half done"], true);
					throw new Error("failed after a statement ran");
				},
				{ repeatable: true },
			),
			writer.submit(counted(4), { repeatable: true }),
			writer.submit(counted(5)),
			writer.submit(counted(6), { repeatable: true }),
		]);
		expect(results.map((r) => r.status)).toEqual([
			"fulfilled",
			"fulfilled",
			"rejected",
			"fulfilled",
			"fulfilled",
			"fulfilled",
		]);
		expect(committed()).toEqual([1, 2, 4, 5, 6]);
		expect(writer.stats.groups).toBe(1);
		// The run before the failure was undone and run again; nothing after it ran twice.
		expect(Object.fromEntries(runs)).toEqual({ 1: 2, 2: 2, 4: 1, 5: 1, 6: 1 });
	});

	it("a repeatable write that throws having changed nothing fails alone; nothing runs again", async () => {
		const { runs, counted } = countingInserts();
		const results = await Promise.allSettled([
			writer.submit(counted(1), { repeatable: true }),
			writer.submit(
				(tx) => {
					tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [1, "duplicate key"], true); // undone by SQLite
				},
				{ repeatable: true },
			),
			writer.submit(
				() => {
					throw new Error("refused before writing");
				},
				{ repeatable: true },
			),
			writer.submit(counted(4), { repeatable: true }),
		]);
		expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
		expect(committed()).toEqual([1, 4]);
		expect(Object.fromEntries(runs)).toEqual({ 1: 1, 4: 1 });
	});

	it("a non-repeatable write that throws between runs of repeatable ones is undone alone", async () => {
		const results = await Promise.allSettled([
			writer.submit(insert(1), { repeatable: true }),
			writer.submit(insert(2), { repeatable: true }),
			writer.submit((tx) => {
				tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [3, "half done"], true);
				throw new Error("no");
			}),
			writer.submit(insert(4), { repeatable: true }),
		]);
		expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
		expect(committed()).toEqual([1, 2, 4]);
	});

	it("runs what writes hand to atGroupEnd once per group, before the commit, with the items of the writes that succeeded", async () => {
		const calls: number[][] = [];
		const finish = (tx: Parameters<Parameters<GroupCommitWriter["submit"]>[0]>[0], items: number[]) => {
			calls.push(items);
			tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [100, `sum ${items.reduce((a, b) => a + b, 0)}`], true);
		};
		const handing =
			(id: number, fail = false) =>
			(tx: Parameters<Parameters<GroupCommitWriter["submit"]>[0]>[0]) => {
				insert(id)(tx);
				tx.atGroupEnd(finish, id);
				if (fail) throw new Error("failed after handing an item");
				return id;
			};
		const results = await Promise.allSettled([
			writer.submit(handing(1), { repeatable: true }),
			writer.submit(handing(2, true), { repeatable: true }),
			writer.submit(handing(3)),
			writer.submit(handing(4), { repeatable: true }),
		]);
		expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
		// Write 1 ran twice (its run was rolled back with write 2): its item counts once.
		expect(calls).toEqual([[1, 3, 4]]);
		expect(committed()).toEqual([1, 3, 4, 100]);
		expect(observer.prepare("SELECT v FROM t WHERE id = 100").get()).toMatchObject({ v: "sum 8" });
	});

	it("fails the whole group when what runs at its end throws, and keeps nothing of it", async () => {
		const fails = () => {
			throw new Error("group end failed");
		};
		const results = await Promise.allSettled([
			writer.submit((tx) => {
				insert(1)(tx);
				tx.atGroupEnd(fails, null);
			}),
			writer.submit(insert(2), { repeatable: true }),
		]);
		expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
		expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/group end failed/);
		expect(committed()).toEqual([]);
		await writer.submit(insert(3));
		expect(committed()).toEqual([3]);
	});

	it("a lone write that throws leaves nothing behind and the writer usable", async () => {
		await expect(
			writer.submit((tx) => {
				tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [7, "x"], true);
				throw new Error("no");
			}),
		).rejects.toThrow("no");
		expect(committed()).toEqual([]);
		await writer.submit(insert(8));
		expect(committed()).toEqual([8]);
	});

	it.each([{ repeatable: false }, { repeatable: true }])(
		"never acknowledges a write that is not durable: a full database fails writes, acknowledged rows are all there (repeatable: $repeatable)",
		async ({ repeatable }) => {
			const full = new Database(path);
			full.exec("INSERT INTO t (id, v) VALUES (1000, 'seed')");
			full.close();
			// The writer's own connection may grow the file by only a few pages.
			await writer.submit((tx) => {
				const pages = tx.all("PRAGMA page_count", [])[0] as { page_count: number };
				tx.all(`PRAGMA max_page_count = ${pages.page_count + 2}`, []);
			});
			const big = "x".repeat(3000);
			const writes = Array.from({ length: 20 }, (_, i) =>
				writer.submit(
					(tx) => {
						tx.run("INSERT INTO t (id, v) VALUES (?, ?)", [i + 1, big], true);
						return i + 1;
					},
					{ repeatable },
				),
			);
			const results = await Promise.allSettled(writes);
			const acknowledged = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
			const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
			expect(failed.length).toBeGreaterThan(0);
			expect(String(failed[0]?.reason)).toMatch(/full/i);
			expect(committed().filter((id) => id < 1000)).toEqual(acknowledged);
		},
	);

	it("settles writes still queued when it is closed", async () => {
		const pending = writer.submit(insert(5));
		writer.close();
		expect(await pending).toBe(5);
		expect(committed()).toEqual([5]);
		await expect(writer.submit(insert(6))).rejects.toThrow("closed");
	});
});

describe("pings and OTLP exports through one writer", () => {
	let t: TestApp;
	afterEach(() => t.close());

	it("concurrent pings and exports commit together; a malformed export is refused alone", async () => {
		t = await createTestApp({ clock: new FakeClock(Date.UTC(2026, 10, 28, 12)), writer: true });
		const { key } = await t.createOrgWithKey();
		const ping = (slug: string) =>
			t.app.request(`/api/v1/heartbeat/${slug}`, { method: "POST", headers: { "X-API-Key": key } });
		const exportLogs = (body: string) =>
			t.app.request("/v1/logs", {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body,
			});
		const ns = `${BigInt(Date.UTC(2026, 10, 28, 11, 59)) * 1_000_000n}`;
		const logs = (text: string) =>
			JSON.stringify({
				resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: ns, body: { stringValue: text } }] }] }],
			});
		expect((await ping("warm")).status).toBe(201); // warms the key cache
		const stats = t.deps.writer?.stats as { groups: number; writes: number };
		const before = { ...stats };
		const answers = await Promise.all([
			...Array.from({ length: 10 }, (_, i) => ping(`job-${i}`)),
			...Array.from({ length: 10 }, (_, i) => exportLogs(logs(`line ${i}`))),
			exportLogs('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "not a number"}]}]}]}'),
		]);
		expect(answers.slice(0, 10).map((a) => a.status)).toEqual(Array(10).fill(201));
		expect(answers.slice(10, 20).map((a) => a.status)).toEqual(Array(10).fill(200));
		expect(answers[20]?.status).toBe(400);
		expect(stats.writes - before.writes).toBe(20);
		expect(stats.groups - before.groups).toBeLessThan(10);
		const stored = (await t.database.client.execute("SELECT body FROM logs ORDER BY body")).rows;
		expect(stored.map((r) => r.body)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
	});
});
