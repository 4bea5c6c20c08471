/**
 * Group commit (src/ingest/embedded-writer.ts): writes submitted together share one transaction and
 * one COMMIT, each settles only after it and after an fsync of the WAL that started after it, and one
 * failing write loses nothing of the others; a failed fsync acknowledges nothing.
 */
import { fdatasync, fstatSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config.js";
import { isStorageFailure } from "../../src/db/errors.js";
import { openEmbeddedWriter, WAL_AUTOCHECKPOINT_PAGES } from "../../src/ingest/embedded-writer.js";
import type { GroupCommitWriter } from "../../src/ingest/writer.js";
import { writeSyncFrom } from "../../src/runtime/node-deps.js";
import { FakeClock } from "../support/clock.js";
import { request } from "../support/heartbeats.js";
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
		expect(writer.stats).toMatchObject({ groups: 1, writes: 50 });
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

/** An fsync of the WAL that the test completes or fails by hand; records each call's descriptor. */
function manualFsync() {
	const calls: { fd: number; resolve: () => void; reject: (error: Error) => void }[] = [];
	const fsyncWal = (fd: number) =>
		new Promise<void>((resolve, reject) => {
			calls.push({ fd, resolve, reject });
		});
	return { calls, fsyncWal };
}

/** Lets the event loop turn until `done()` (flushes run on setImmediate); fails after many turns. */
async function turnsUntil(done: () => boolean): Promise<void> {
	for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
	expect(done()).toBe(true);
}

/** A promise's state without waiting for it. */
function tracked<T>(promise: Promise<T>) {
	const state = { settled: false as boolean, value: undefined as T | undefined, error: undefined as unknown };
	promise.then(
		(value) => {
			state.settled = true;
			state.value = value;
		},
		(error) => {
			state.settled = true;
			state.error = error;
		},
	);
	return state;
}

describe("durability: the WAL's fsync off the event loop", () => {
	let own: GroupCommitWriter | undefined;
	afterEach(() => {
		own?.close();
		own = undefined;
	});

	it("runs with synchronous = NORMAL (checkpointing every 4,000 pages) and settles no write before an fsync that started after its COMMIT succeeded", async () => {
		const { calls, fsyncWal } = manualFsync();
		own = openEmbeddedWriter(path, { fsyncWal });
		const synchronous = tracked(
			own.submit((tx) => [
				tx.values("PRAGMA synchronous", [])?.[0],
				tx.values("PRAGMA wal_autocheckpoint", [])?.[0],
			]),
		);
		await turnsUntil(() => calls.length === 1);
		for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
		expect(synchronous.settled).toBe(false);
		calls[0]?.resolve();
		await turnsUntil(() => synchronous.settled);
		expect(synchronous.value).toEqual([1, WAL_AUTOCHECKPOINT_PAGES]); // NORMAL
	});

	it("coalesces: groups that commit while an fsync runs wait for the next one, started after it", async () => {
		const { calls, fsyncWal } = manualFsync();
		own = openEmbeddedWriter(path, { fsyncWal });
		const first = tracked(own.submit(insert(1)));
		await turnsUntil(() => calls.length === 1);
		// Committed (another connection sees it), not acknowledged: its fsync has not completed.
		expect(committed()).toEqual([1]);
		// The descriptor is the WAL file's.
		expect(fstatSync(calls[0]?.fd as number).ino).toBe(statSync(`${path}-wal`).ino);
		const second = tracked(own.submit(insert(2)));
		const third = tracked(own.submit(insert(3)));
		await turnsUntil(() => committed().length === 3);
		// Committed while the first fsync ran: no second fsync yet, nothing settled.
		expect(calls).toHaveLength(1);
		expect([first.settled, second.settled, third.settled]).toEqual([false, false, false]);
		calls[0]?.resolve();
		await turnsUntil(() => first.settled);
		expect(first.value).toBe(1);
		// The first fsync may have started before their COMMIT: they wait for the next one.
		expect([second.settled, third.settled]).toEqual([false, false]);
		expect(calls).toHaveLength(2);
		calls[1]?.resolve();
		await turnsUntil(() => second.settled && third.settled);
		expect([second.value, third.value]).toEqual([2, 3]);
		expect(own.stats).toMatchObject({ writes: 3, syncs: 2 });
	});

	it("a failed fsync rejects every write waiting for it or the next one, and every later write, as a storage failure", async () => {
		const { calls, fsyncWal } = manualFsync();
		own = openEmbeddedWriter(path, { fsyncWal });
		const first = own.submit(insert(1));
		await turnsUntil(() => calls.length === 1);
		const second = own.submit(insert(2));
		await turnsUntil(() => committed().length === 2);
		calls[0]?.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
		for (const write of [first, second, own.submit(insert(3))]) {
			const error = await write.then(
				() => null,
				(e: unknown) => e,
			);
			expect(error).toMatchObject({ code: "SQLITE_IOERR_FSYNC" });
			expect(isStorageFailure(error)).toBe(true);
		}
		expect(calls).toHaveLength(1);
		expect(own.stats.writes).toBe(0);
	});

	it("keeps fsyncing the file SQLite writes while other connections come and go and checkpoints truncate it", async () => {
		const fds = new Set<number>();
		own = openEmbeddedWriter(path, {
			fsyncWal: (fd) => {
				fds.add(fd);
				return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
			},
		});
		await own.submit(insert(1));
		for (let round = 0; round < 3; round++) {
			const other = new Database(path);
			other.prepare("INSERT INTO t (id, v) VALUES (?, ?)").run([100 + round, "other"]);
			other.exec("PRAGMA wal_checkpoint(TRUNCATE)");
			other.close();
			await own.submit(insert(2 + round));
		}
		expect(fds.size).toBe(1);
		const fd = [...fds][0] as number;
		expect(fstatSync(fd).ino).toBe(statSync(`${path}-wal`).ino);
		expect(fstatSync(fd).size).toBe(statSync(`${path}-wal`).size);
		expect(committed()).toEqual([1, 2, 3, 4, 100, 101, 102]);
	});

	it('"commit" keeps synchronous = FULL and the fsync inside the COMMIT', async () => {
		const { calls, fsyncWal } = manualFsync();
		own = openEmbeddedWriter(path, { fsyncWal, sync: "commit" });
		expect(await own.submit((tx) => tx.values("PRAGMA synchronous", [])?.[0])).toBe(2); // FULL
		expect(await own.submit(insert(1))).toBe(1);
		expect(calls).toHaveLength(0);
		expect(own.stats.syncs).toBe(0);
	});

	it("WRITE_SYNC: wal-fsync by default, commit on request, anything else a configuration error", () => {
		expect(writeSyncFrom({})).toBe("wal-fsync");
		expect(writeSyncFrom({ WRITE_SYNC: "commit" })).toBe("commit");
		expect(() => writeSyncFrom({ WRITE_SYNC: "off" })).toThrow(ConfigError);
	});

	it("close() makes what waits for an fsync durable itself and settles it", async () => {
		const { calls, fsyncWal } = manualFsync();
		own = openEmbeddedWriter(path, { fsyncWal });
		const first = tracked(own.submit(insert(1)));
		await turnsUntil(() => calls.length === 1);
		const second = tracked(own.submit(insert(2)));
		await turnsUntil(() => committed().length === 2);
		own.close();
		own = undefined;
		await turnsUntil(() => first.settled && second.settled);
		expect([first.value, second.value]).toEqual([1, 2]);
		calls[0]?.resolve(); // late: ignored
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
	it("a failed fsync answers 503 storage_unavailable to pings and exports, never 200", async () => {
		const fsync = manualFsync();
		t = await createTestApp({ writer: { fsyncWal: fsync.fsyncWal } });
		const { key } = await t.createOrgWithKey();
		const exportLogs = () =>
			t.app.request("/v1/logs", {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: JSON.stringify({
					resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: "x" } }] }] }],
				}),
			});
		const ping = request(t, "POST", "/api/v1/heartbeat/nightly", { key });
		const otlp = exportLogs();
		await turnsUntil(() => fsync.calls.length === 1);
		fsync.calls[0]?.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
		const pinged = await ping;
		expect(pinged.status).toBe(503);
		expect(pinged.headers.get("Retry-After")).toBe("5");
		expect((pinged.json as { error: { code: string } }).error.code).toBe("storage_unavailable");
		const exported = await otlp;
		expect(exported.status).toBe(503);
		expect(exported.headers.get("Retry-After")).toBe("5");
		expect(await exported.text()).toMatch(/STORAGE_UNAVAILABLE/);
		// And every later write, until the process restarts.
		expect((await exportLogs()).status).toBe(503);
		expect(fsync.calls).toHaveLength(1);
	});
});
