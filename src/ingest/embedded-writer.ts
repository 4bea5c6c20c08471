import { closeSync, fdatasync, fdatasyncSync, openSync } from "node:fs";
import { resolve } from "node:path";
import type { InValue } from "@libsql/client";
import Database from "libsql";
import type { GroupCommitWriter, WriteTransaction } from "./writer.js";

/**
 * The Node runtime's writer: a dedicated connection of the `libsql` driver (the one @libsql/client
 * runs on) to the same database file, with its statements prepared once and reused, and group commit.
 *
 * Why not the client: @libsql/client prepares every statement it runs afresh, and the prepared
 * statements (large for multi-row INSERTs) live in native memory until V8 happens to collect them —
 * measured, over 100 MiB per 10 MiB request, and half the speed.
 *
 * Group commit: a write is queued, and the first write of a turn of the event loop schedules a flush
 * (`setImmediate`, so every request that reached its write in this turn joins). The flush runs the
 * queued writes synchronously in one BEGIN IMMEDIATE … COMMIT, each under a SAVEPOINT, so a write
 * that throws is rolled back alone and the others still commit. No lock is held across an await:
 * nothing else in the process runs between BEGIN and COMMIT.
 *
 * Durability — an acknowledgement means durable — comes in two ways (`sync`):
 *
 * - `"wal-fsync"` (the default): the connection runs with `synchronous = NORMAL`, so its COMMIT
 *   writes the transaction's frames to the write-ahead log without an fsync, and the writer then
 *   fsyncs the `-wal` file itself, off the event loop (`fdatasync` on libuv's thread pool). A
 *   group's writes settle only after an fsync that *started after its COMMIT returned* has
 *   succeeded: at that point every frame of the transaction, commit frame included, is on disk, which
 *   is what `synchronous = FULL` gives (SQLite in FULL mode syncs the WAL at each commit, nothing
 *   more). One fsync runs at a time; groups that commit while it runs wait for the next one, which
 *   starts when it ends and covers all of them (leader and followers). Meanwhile the event loop goes
 *   on parsing, decoding and committing the next groups, instead of sitting in the fsync.
 * - `"commit"`: `synchronous = FULL`, the fsync inside the COMMIT, on the event loop (the path
 *   before; `WRITE_SYNC=commit`). Also used when the database is not in WAL mode.
 *
 * Why the `-wal` file descriptor is the file SQLite writes: it is opened once, after the writer's
 * first COMMIT (the file exists then), and SQLite deletes or replaces the WAL only when the last
 * connection to the database closes — this writer's own connection stays open as long as the
 * descriptor (it is closed after the connection). A checkpoint or a WAL restart rewrites the same
 * file in place (a TRUNCATE checkpoint truncates it, same inode); a test checks the inode. Only the
 * `-wal` file is opened outside SQLite, never the database or `-shm` file: closing a descriptor drops
 * the process's POSIX locks on that file, and SQLite's locks live on those two.
 *
 * Checkpoints stay SQLite's, inside the COMMIT that crosses the auto-checkpoint threshold (4,000
 * pages in "wal-fsync", `WAL_AUTOCHECKPOINT_PAGES`; SQLite's 1,000 in "commit"): a checkpoint syncs
 * the WAL before it copies frames into the database and syncs the database after, in both modes. When the WAL is restarted after a checkpoint, SQLite syncs its new header in
 * NORMAL mode too. A crash (process or power) after COMMIT and before the fsync may lose that
 * group's transaction — never an acknowledged one: WAL recovery keeps every transaction whose
 * frames up to the commit frame are intact, and an earlier, synced transaction's frames are never
 * overwritten before a checkpoint has copied them into the (synced) database.
 *
 * A failed fsync: every write waiting for it or for the next one is rejected with
 * `SQLITE_IOERR_FSYNC` (a storage failure: 503 `storage_unavailable`), never acknowledged, and the
 * writer refuses every later write the same way until the process restarts. After a failed fsync
 * Linux may drop the unwritten pages and report success for the next one, and WAL recovery stops at
 * the first damaged frame — acknowledging a later transaction could then acknowledge one that a
 * crash loses. (The rejected writes' rows are committed, visible to reads, and may or may not
 * survive a crash: a client that retries may store an export twice, as after a timeout.)
 */
const BUSY_TIMEOUT_MS = 5_000;
const MAX_CACHED_STATEMENTS = 128;
/** Writes per group at most: bounds how long the first write of a large group waits for the last. */
export const MAX_WRITES_PER_GROUP = 256;

/** The path of a `file:` URL, or null for URLs this writer cannot share (memory, remote). */
export function embeddedPathOf(url: string): string | null {
	if (!url.startsWith("file:")) return null;
	const path = decodeURIComponent(url.slice("file:".length).split("?")[0] ?? "");
	if (path === "" || path.includes(":memory:")) return null;
	return resolve(path);
}

interface Pending {
	work: (tx: WriteTransaction) => unknown;
	/** The work may run again (it has no effect outside the transaction): see `runGroup`. */
	repeatable: boolean;
	resolve: (value: unknown) => void;
	reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * "wal-fsync": the writer's COMMIT checkpoints once the WAL holds this many pages (SQLite's default
 * is 1,000). A checkpoint copies each page once however many frames of it the WAL holds, and a
 * group rewrites the same pages (the tables' and time indexes' last leaves, the rollups): measured
 * on the bench's small exports, 4,000 gave 20–35 % more exports per second than 1,000, and 16,000
 * less than 4,000 (docs/performance.md). The WAL file then grows to ~16 MiB before it starts over.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 4000;

/** How a group's COMMIT is made durable before its writes settle (see above). */
export type WriteSync = "wal-fsync" | "commit";
export const WRITE_SYNC_MODES: readonly WriteSync[] = ["wal-fsync", "commit"];

export interface EmbeddedWriterOptions {
	maxWritesPerGroup?: number;
	/** Default `"wal-fsync"`. */
	sync?: WriteSync;
	/** The fsync of the `-wal` file (default: `fdatasync` on libuv's thread pool); tests inject one. */
	fsyncWal?: (fd: number) => Promise<void>;
}

/** A failed fsync of the write-ahead log: named as SQLite names its own, a storage failure. */
export class WalSyncFailed extends Error {
	readonly code = "SQLITE_IOERR_FSYNC";
	constructor(cause: unknown) {
		super(`SQLITE_IOERR_FSYNC: the fsync of the write-ahead log failed (${String(cause)})`, { cause });
		this.name = "WalSyncFailed";
	}
}

const fdatasyncAsync = (fd: number) =>
	new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));

export function openEmbeddedWriter(path: string, options: EmbeddedWriterOptions = {}): GroupCommitWriter {
	const maxWrites = Math.max(1, options.maxWritesPerGroup ?? MAX_WRITES_PER_GROUP);
	const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
	const journal = db.prepare("PRAGMA journal_mode").raw(true).get([]) as unknown[] | undefined;
	const walMode = String(journal?.[0]).toLowerCase() === "wal";
	const walSync = (options.sync ?? "wal-fsync") === "wal-fsync" && walMode;
	if (walSync) db.exec("PRAGMA synchronous = NORMAL");
	if (walSync) db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
	const fsyncWal = options.fsyncWal ?? fdatasyncAsync;
	const cache = new Map<string, ReturnType<typeof db.prepare>>();
	/** A prepared statement by its text; `raw` ones (rows as arrays) are cached apart. */
	const prepared = (sql: string, raw = false) => {
		const key = raw ? `raw:${sql}` : sql;
		let statement = cache.get(key);
		if (statement) {
			// Least recently used goes first: move a hit to the end.
			cache.delete(key);
		} else {
			statement = db.prepare(sql);
			if (raw) statement.raw(true);
			if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value as string);
		}
		cache.set(key, statement);
		return statement;
	};
	/** Statements run by writes that may have changed something (a shared run's failure needs it). */
	let writing = 0;
	type Finish = (tx: WriteTransaction, items: unknown[]) => void;
	/** What each write of the running group handed to `atGroupEnd`, by its index in the group. */
	let deferred: ([Finish, unknown][] | undefined)[] = [];
	let current = 0;
	const tx: WriteTransaction = {
		run(sql, args, cacheable) {
			const { changes } = (cacheable ? prepared(sql) : db.prepare(sql)).run(args);
			if (changes > 0) writing++;
			return changes;
		},
		all(sql: string, args: InValue[]) {
			writing++; // it may be a write with RETURNING
			return prepared(sql).all(args) as Record<string, unknown>[];
		},
		values(sql: string, args: InValue[]) {
			return prepared(sql, true).get(args) as unknown[] | undefined;
		},
		atGroupEnd(finish, item) {
			const items = deferred[current];
			if (items) items.push([finish as Finish, item]);
			else deferred[current] = [[finish as Finish, item]];
		},
	};

	/** Runs what the group's successful writes handed to `atGroupEnd`, each `finish` once. */
	function finishGroup(outcomes: Outcome[]): void {
		const byFinish = new Map<Finish, unknown[]>();
		for (let j = 0; j < outcomes.length; j++) {
			if (!outcomes[j]?.ok) continue;
			for (const [finish, item] of deferred[j] ?? []) {
				const items = byFinish.get(finish);
				if (items) items.push(item);
				else byFinish.set(finish, [item]);
			}
		}
		for (const [finish, items] of byFinish) finish(tx, items);
	}
	const exec = (sql: string) => prepared(sql).run([]);
	const stats = { groups: 0, writes: 0, syncs: 0 };
	const queue: Pending[] = [];
	let scheduled = false;
	let closed = false;

	/**
	 * Runs one group; returns each write's outcome, all failed if the transaction did not commit.
	 *
	 * Each write runs under a savepoint, so one that throws is undone alone. Consecutive repeatable
	 * writes (pings, OTLP exports) share one savepoint instead of one each. If one of them throws
	 * having changed nothing (a statement that fails is undone by SQLite itself), it just fails;
	 * otherwise the shared savepoint is rolled back, that write fails, and the others of the run are
	 * run again, each under its own savepoint from then on (as is every later write of the group).
	 * A lone write needs none: the transaction is its savepoint.
	 */
	function runGroup(group: Pending[]): Outcome[] {
		const outcomes: Outcome[] = new Array(group.length);
		deferred = new Array(group.length);
		let begun = 0; // index of the first write of the open transaction
		let runStart = -1; // index of the first write under the open shared savepoint; -1: none open
		let share = group.length > 1; // false once a write of a shared run has thrown
		const refused = new Set<number>(); // writes that threw in a shared run: not run again
		try {
			exec("BEGIN IMMEDIATE");
		} catch (error) {
			return group.map(() => ({ ok: false, error }));
		}
		const single = group.length === 1;
		for (let i = 0; i < group.length; i++) {
			if (refused.has(i)) continue;
			const pending = group[i] as Pending;
			if (!db.inTransaction) {
				// SQLite rolled the whole transaction back (e.g. SQLITE_FULL): the writes before lost
				// their work with it and fail too (none was acknowledged); the rest start afresh.
				try {
					exec("BEGIN IMMEDIATE");
				} catch (error) {
					for (let j = i; j < group.length; j++) outcomes[j] = { ok: false, error };
					return outcomes;
				}
				begun = i;
				runStart = -1;
			}
			const shared = share && pending.repeatable;
			const wroteBefore = writing;
			deferred[i] = undefined;
			current = i;
			try {
				if (!shared && runStart >= 0) {
					exec("RELEASE run");
					runStart = -1;
				}
				if (shared) {
					if (runStart < 0) {
						exec("SAVEPOINT run");
						runStart = i;
					}
				} else if (!single) exec("SAVEPOINT write");
				const value = pending.work(tx);
				if (!shared && !single) exec("RELEASE write");
				outcomes[i] = { ok: true, value };
			} catch (error) {
				outcomes[i] = { ok: false, error };
				if (!db.inTransaction) {
					for (let j = begun; j < i; j++) if (!refused.has(j)) outcomes[j] = { ok: false, error };
					runStart = -1;
				} else if (shared && writing === wroteBefore) {
					// It changed nothing: the run goes on.
				} else if (shared) {
					// It may have written part of itself: undo the run, then run its other writes again.
					exec("ROLLBACK TO run");
					exec("RELEASE run");
					refused.add(i);
					share = false;
					i = runStart - 1;
					runStart = -1;
				} else if (!single) {
					exec("ROLLBACK TO write");
					exec("RELEASE write");
				}
			}
		}
		if (!db.inTransaction) return outcomes;
		if (runStart >= 0) exec("RELEASE run");
		if (outcomes.every((o) => !o.ok)) {
			exec("ROLLBACK");
			return outcomes;
		}
		try {
			finishGroup(outcomes);
		} catch (error) {
			if (db.inTransaction) db.exec("ROLLBACK");
			for (let j = begun; j < outcomes.length; j++) outcomes[j] = { ok: false, error };
			return outcomes;
		}
		try {
			exec("COMMIT");
		} catch (error) {
			if (db.inTransaction) db.exec("ROLLBACK");
			for (let j = begun; j < outcomes.length; j++) outcomes[j] = { ok: false, error };
		}
		return outcomes;
	}

	/** Writes of committed groups waiting for an fsync to start; `syncing`: one runs. */
	let awaiting: { pending: Pending; value: unknown }[] = [];
	let syncing: { pending: Pending; value: unknown }[] | undefined;
	let walFd: number | undefined;
	/** The fsync running, if any (the descriptor is closed only after it). */
	let inFlight: Promise<void> | undefined;
	/** Set by a failed fsync: every later write is refused with it. */
	let failure: WalSyncFailed | undefined;

	function acknowledge(done: { pending: Pending; value: unknown }[]): void {
		for (const { pending, value } of done) {
			stats.writes++;
			pending.resolve(value);
		}
	}

	function fail(error: WalSyncFailed): void {
		failure = error;
		const waiting = [...(syncing ?? []), ...awaiting, ...queue.splice(0)];
		syncing = undefined;
		awaiting = [];
		for (const item of waiting) ("pending" in item ? item.pending : item).reject(error);
	}

	/** Starts an fsync for every write waiting; when it succeeds they settle, and the next starts. */
	function startSync(): void {
		const batch = awaiting;
		awaiting = [];
		syncing = batch;
		stats.syncs++;
		let started: Promise<void>;
		try {
			walFd ??= openSync(`${path}-wal`, "r");
			started = fsyncWal(walFd);
		} catch (error) {
			started = Promise.reject(error);
		}
		inFlight = started.then(
			() => {
				if (syncing !== batch) return; // settled by close() or failed meanwhile
				syncing = undefined;
				acknowledge(batch);
				if (awaiting.length > 0) startSync();
			},
			(error) => {
				if (syncing !== batch) return;
				fail(new WalSyncFailed(error));
			},
		);
	}

	function flush(): void {
		scheduled = false;
		const group = queue.splice(0, maxWrites);
		if (queue.length > 0) schedule();
		if (group.length === 0) return;
		if (failure) {
			for (const pending of group) pending.reject(failure);
			return;
		}
		const outcomes = runGroup(group);
		stats.groups++;
		const done: { pending: Pending; value: unknown }[] = [];
		for (let i = 0; i < group.length; i++) {
			const outcome = outcomes[i] as Outcome;
			const pending = group[i] as Pending;
			if (outcome.ok) done.push({ pending, value: outcome.value });
			else pending.reject(outcome.error);
		}
		if (done.length === 0) return;
		if (!walSync) {
			acknowledge(done);
			return;
		}
		// Committed, not yet durable: settled after an fsync that starts from now on.
		for (const item of done) awaiting.push(item);
		if (!syncing) startSync();
	}

	function schedule(): void {
		if (scheduled) return;
		scheduled = true;
		setImmediate(flush);
	}

	return {
		stats,
		submit<T>(work: (tx: WriteTransaction) => T, options?: { repeatable?: boolean }): Promise<T> {
			if (closed) return Promise.reject(new Error("the writer is closed"));
			if (failure) return Promise.reject(failure);
			return new Promise<T>((resolve, reject) => {
				const repeatable = options?.repeatable === true;
				queue.push({ work, repeatable, resolve: resolve as (value: unknown) => void, reject });
				schedule();
			});
		},
		close() {
			if (closed) return;
			while (queue.length > 0) flush();
			closed = true;
			// What committed and waits for an fsync is made durable here, synchronously.
			const waiting = [...(syncing ?? []), ...awaiting];
			syncing = undefined;
			awaiting = [];
			if (waiting.length > 0) {
				try {
					walFd ??= openSync(`${path}-wal`, "r");
					fdatasyncSync(walFd);
					stats.syncs++;
					acknowledge(waiting);
				} catch (error) {
					const failed = new WalSyncFailed(error);
					for (const { pending } of waiting) pending.reject(failed);
				}
			}
			cache.clear();
			db.close();
			// After the connection: the descriptor names the WAL SQLite wrote while it was open. An
			// fsync still running on it (settled above) keeps the number until it returns.
			if (walFd !== undefined) {
				const fd = walFd;
				walFd = undefined;
				if (inFlight) void inFlight.finally(() => closeSync(fd));
				else closeSync(fd);
			}
		},
	};
}
