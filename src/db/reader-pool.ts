import { type ChildProcess, fork } from "node:child_process";
import { setPriority } from "node:os";
import { fileURLToPath } from "node:url";
import type { InStatement, ResultSet, Row } from "@libsql/client";
import { consoleLog, type Log } from "../log.js";
import { StorageUnreachable } from "./errors.js";
import { ReadDeadlinePassed, type ReadExecutor } from "./reads.js";

/**
 * The Node runtime's heavy reads: a small pool of reader processes, each with its own read-only
 * connection to the embedded database file (src/db/reader-process.mjs). WAL lets them read beside
 * the writer, which stays on the main thread. The event loop only sends statements and receives
 * rows, so a 3 s dashboard query no longer stalls pings, OTLP exports or /health.
 *
 * Why processes and not worker threads: libsql cannot interrupt a statement from another thread
 * (its connection lives in the thread that opened it), and terminating a worker thread while a
 * libsql call runs aborts the whole process (a Neon assertion, measured with libsql 0.5). A process
 * can be killed mid-statement: at the deadline the reader is killed — the statement really stops,
 * its read snapshot is released by the OS — and a fresh reader replaces it.
 *
 * Waiting reads are served round-robin by org, so one org's queued dashboards cannot starve
 * another's. How many may wait at all is bounded by HeavyReads (src/db/reads.ts).
 */

const READER_SCRIPT = fileURLToPath(new URL("./reader-process.mjs", import.meta.url));
/**
 * Readers run at a lower CPU priority (nice 10) than the server: when heavy reads saturate the
 * cores, the event loop — pings, ingest, /health — still gets the CPU first.
 */
const READER_NICENESS = 10;
/** A reader that failed to start is retried after this long (a missing file, a full disk). */
const RESTART_DELAY_MS = 1_000;

interface WireResult {
	columns: string[];
	columnTypes: string[];
	rows: unknown[][];
}

interface WireError {
	name?: string;
	message?: string;
	code?: string;
	rawCode?: number;
}

type ReaderMessage =
	| { ready: true }
	| { ready: false; error: WireError }
	| { id: number; results: WireResult[] }
	| { id: number; error: WireError };

interface Job {
	id: number;
	orgId: string;
	statements: InStatement[];
	timeoutMs: number;
	resolve(results: ResultSet[]): void;
	reject(error: unknown): void;
	timer?: ReturnType<typeof setTimeout>;
	reader?: Reader;
}

interface Reader {
	child: ChildProcess;
	ready: boolean;
	job: Job | null;
}

export interface ReaderPool extends ReadExecutor {
	/** Readers started since the pool opened, the first ones included (replacements show kills). */
	readonly started: number;
}

export function openReaderPool(path: string, options: { size: number; log?: Log }): ReaderPool {
	const log = options.log ?? consoleLog("info");
	const readers = new Set<Reader>();
	/** Waiting jobs per org, and the orgs in the order they are served. */
	const waiting = new Map<string, Job[]>();
	const turn: string[] = [];
	let nextId = 1;
	let started = 0;
	let closed = false;
	/** Why the last reader could not open the database, until one does: reads fail at once meanwhile. */
	let cannotOpen: string | null = null;

	function spawn(): void {
		if (closed) return;
		started++;
		const child = fork(READER_SCRIPT, [path], {
			serialization: "advanced",
			execArgv: [],
			// A reader needs no settings: the server's secrets (JWT keys, TOTP key) stay out of it.
			env: { PATH: process.env.PATH ?? "" },
			stdio: ["ignore", "inherit", "inherit", "ipc"],
		});
		if (child.pid !== undefined) {
			try {
				setPriority(child.pid, READER_NICENESS);
			} catch {
				// Not permitted here: the reader runs at the server's priority.
			}
		}
		const reader: Reader = { child, ready: false, job: null };
		readers.add(reader);
		child.on("message", (message: ReaderMessage) => onMessage(reader, message));
		child.on("error", () => {}); // 'exit' follows and handles it
		child.on("exit", (code, signal) => {
			if (!readers.delete(reader)) return; // killed at a deadline and already replaced
			const job = reader.job;
			reader.job = null;
			if (job) {
				settle(job);
				job.reject(new StorageUnreachable(`the reader process exited (${signal ?? code})`));
			}
			if (closed) return;
			if (!reader.ready) {
				log({ level: "error", msg: "a reader process could not start", code, signal });
				setTimeout(spawn, RESTART_DELAY_MS).unref();
			} else {
				spawn();
			}
		});
	}

	function onMessage(reader: Reader, message: ReaderMessage): void {
		if ("ready" in message) {
			if (!message.ready) {
				// It exits next; jobs waiting now would wait for nothing.
				cannotOpen = `a reader cannot open the database: ${message.error.message}`;
				failWaiting(new StorageUnreachable(cannotOpen));
				return;
			}
			cannotOpen = null;
			reader.ready = true;
			dispatch();
			return;
		}
		const job = reader.job;
		if (!job || job.id !== message.id) return; // an answer to a job already timed out
		reader.job = null;
		settle(job);
		if ("results" in message) job.resolve(message.results.map(toResultSet));
		else job.reject(toError(message.error));
		dispatch();
	}

	function settle(job: Job): void {
		clearTimeout(job.timer);
		job.reader = undefined;
	}

	function failWaiting(error: Error): void {
		for (const jobs of waiting.values()) {
			for (const job of jobs) {
				settle(job);
				job.reject(error);
			}
		}
		waiting.clear();
		turn.length = 0;
	}

	function nextJob(): Job | undefined {
		while (turn.length > 0) {
			const orgId = turn.shift() as string;
			const jobs = waiting.get(orgId);
			const job = jobs?.shift();
			if (jobs && jobs.length > 0) turn.push(orgId);
			else waiting.delete(orgId);
			if (job) return job;
		}
		return undefined;
	}

	function dispatch(): void {
		for (const reader of readers) {
			if (!reader.ready || reader.job) continue;
			const job = nextJob();
			if (!job) return;
			reader.job = job;
			job.reader = reader;
			reader.child.send({ id: job.id, statements: job.statements });
		}
	}

	function timeOut(job: Job): void {
		const reader = job.reader;
		if (reader) {
			// Running: stop the statement by killing its reader, and start its replacement now.
			reader.job = null;
			readers.delete(reader);
			reader.child.kill("SIGKILL");
			spawn();
		} else {
			const jobs = waiting.get(job.orgId);
			const at = jobs?.indexOf(job) ?? -1;
			if (jobs && at >= 0) jobs.splice(at, 1);
		}
		settle(job);
		job.reject(new ReadDeadlinePassed(job.timeoutMs));
	}

	for (let i = 0; i < options.size; i++) spawn();

	return {
		get started() {
			return started;
		},
		read(statements, { orgId, timeoutMs }) {
			if (closed) return Promise.reject(new StorageUnreachable("the reader pool is closed"));
			if (cannotOpen !== null) return Promise.reject(new StorageUnreachable(cannotOpen));
			return new Promise<ResultSet[]>((resolve, reject) => {
				const job: Job = { id: nextId++, orgId, statements, timeoutMs, resolve, reject };
				job.timer = setTimeout(() => timeOut(job), timeoutMs);
				const jobs = waiting.get(orgId);
				if (jobs) jobs.push(job);
				else {
					waiting.set(orgId, [job]);
					turn.push(orgId);
				}
				dispatch();
			});
		},
		async close() {
			closed = true;
			failWaiting(new StorageUnreachable("the reader pool is closed"));
			const exits = [...readers].map(
				(reader) =>
					new Promise<void>((resolve) => {
						if (reader.child.exitCode !== null || reader.child.signalCode !== null) resolve();
						else reader.child.once("exit", () => resolve());
						reader.child.kill("SIGKILL");
					}),
			);
			await Promise.all(exits);
		},
	};
}

/**
 * A result as the app reads @libsql/client's: each row readable by index, by `length` and by column
 * name (the first column of a name wins). The row is the wire's own array with the names added as
 * plain properties. The client's way, `Object.defineProperty` per value, took ~145 ms for 5,000 rows
 * of 16 columns (a 5,000-span trace) against ~25 ms this way.
 */
function toResultSet(wire: WireResult): ResultSet {
	const { columns } = wire;
	// `length` and index-like names stay the array's own, as the client keeps them.
	const named = columns
		.map((column, i) => [column, i] as const)
		.filter(([column, i]) => columns.indexOf(column) === i && column !== "length" && !/^\d+$/.test(column));
	const rows = wire.rows.map((values) => {
		const row = values as unknown as Record<string, unknown>;
		for (const [column, i] of named) row[column] = values[i];
		return row as unknown as Row;
	});
	return {
		columns: wire.columns,
		columnTypes: wire.columnTypes,
		rows,
		rowsAffected: 0,
		lastInsertRowid: undefined,
		toJSON: () => ({ columns: wire.columns, columnTypes: wire.columnTypes, rows: wire.rows }),
	};
}

/** The reader's error with its libSQL code (`SQLITE_ERROR`, `SQLITE_BUSY`, …), as the client would throw it. */
function toError(wire: WireError): Error {
	const error = new Error(wire.message ?? "the read failed");
	error.name = wire.name ?? "Error";
	return Object.assign(error, { code: wire.code, rawCode: wire.rawCode });
}
