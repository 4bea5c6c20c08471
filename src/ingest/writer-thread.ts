import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { PingInput, PingOutcome } from "../heartbeats/store.js";
import type { Log } from "../log.js";
import type { AttributeLimits, TimeWindow } from "./batch.js";
import type { EmbeddedWriterOptions } from "./embedded-writer.js";
import type { ExportResult } from "./ingest.js";
import type { OtlpFormat, Signal } from "./messages.js";
import { reviveError, type SerializedError } from "./thread-errors.js";

/**
 * The Node server's writer in a thread of its own (`worker_threads`), so that the database work of
 * a write — decoding an OTLP export into rows, the row INSERTs, the rollups, COMMIT and checkpoints —
 * runs on the second core while the event loop parses, authenticates and answers the next requests.
 *
 * The thread owns the one writing connection (src/ingest/embedded-writer.ts: group commit, the WAL's
 * fsync off its loop, acknowledgement after the fsync), exactly as the event loop owned it before;
 * only the place changes. A write crosses as data, never as a function: an export's body, its org and
 * time window (the retention is read on the main thread, from its cache), or a ping's input and the
 * time. The thread answers with the outcome or the error, rebuilt here with its class (a DecodeError
 * still answers 400, a storage failure 503 — src/ingest/thread-errors.ts).
 *
 * If the thread dies, every waiting and later write fails as a storage failure (503
 * `storage_unavailable`): nothing is acknowledged that the thread did not commit.
 */
export interface WriterThread {
	/** Settles once the thread has opened its connection (rejects if it could not). */
	readonly ready: Promise<void>;
	/** Decodes and stores one export in the thread's next group commit (what OtlpIngest.store does). */
	exportOtlp(input: ThreadExport): Promise<ExportResult>;
	/** One attempt at a ping under the write lock: null when a concurrent write won (try again). */
	ping(input: PingInput, nowMs: number): Promise<PingOutcome | null>;
	/** The writer's counters (groups, writes, fsyncs), read from the thread. */
	stats(): Promise<{ groups: number; writes: number; syncs: number }>;
	/** Settles every queued write (committed and synced) and ends the thread. */
	close(): Promise<void>;
}

export interface ThreadExport {
	orgId: string;
	signal: Signal;
	format: OtlpFormat;
	body: Uint8Array;
	nowMs: number;
	window: TimeWindow;
}

export interface WriterThreadOptions extends Omit<EmbeddedWriterOptions, "fsyncWal"> {
	attributeLimits: AttributeLimits;
	/** The most an export's rows may take as stored (`maxStoredCharsOf`; by default the default body limit's). */
	maxStoredChars?: number;
	log?: Log;
	/**
	 * The thread's module (a URL): by default writer-thread-main.ts, loaded through tsx (~1 s to
	 * start on two cores, once per server). An ESM bundle of that same module (.mjs; the test suite
	 * builds one, test/support/writer-thread-bundle.ts) loads without tsx, in a fraction of that.
	 */
	entry?: string;
}

/** What the thread starts with (`workerData`). */
export interface WriterThreadData {
	entry: string;
	path: string;
	options: Omit<WriterThreadOptions, "log">;
}

export type ThreadRequest =
	| { id: number; op: "otlp"; input: ThreadExport }
	| { id: number; op: "ping"; input: PingInput; nowMs: number }
	| { id: number; op: "stats" }
	| { id: number; op: "close" };

export type ThreadReply =
	| { id: number; ok: true; value: unknown }
	| { id: number; ok: false; error: SerializedError }
	| { ready: true }
	| { ready: false; error: SerializedError };

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

const BOOT = fileURLToPath(new URL("./writer-thread-boot.mjs", import.meta.url));
const ENTRY = new URL("./writer-thread-main.ts", import.meta.url).href;

/** A body's bytes in a buffer of their own, which can be moved to the thread without a copy. */
function transferable(body: Uint8Array): Uint8Array<ArrayBuffer> {
	const own =
		body.byteOffset === 0 &&
		body.byteLength === body.buffer.byteLength &&
		body.buffer instanceof ArrayBuffer &&
		// Node's small Buffers share a pooled slab: never move that.
		!Buffer.isBuffer(body);
	return own ? (body as Uint8Array<ArrayBuffer>) : new Uint8Array(body);
}

export function openWriterThread(path: string, options: WriterThreadOptions): WriterThread {
	const { log, entry = ENTRY, ...threadOptions } = options;
	const data: WriterThreadData = { entry, path, options: threadOptions };
	const worker = new Worker(BOOT, { workerData: data });
	const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
	let nextId = 1;
	let stopped: Error | undefined;
	let closing: Promise<void> | undefined;
	let settleReady: { resolve: () => void; reject: (error: unknown) => void } | undefined;
	const ready = new Promise<void>((resolve, reject) => {
		settleReady = { resolve, reject };
	});
	// Awaited by the server's start; a failure here also fails every write.
	ready.catch(() => {});

	const stop = (error: Error) => {
		if (stopped) return;
		stopped = error;
		settleReady?.reject(error);
		for (const { reject } of pending.values())
			reject(reviveError({ kind: "storage", cause: describe(error) }));
		pending.clear();
	};
	const settle = (reply: ThreadReply) => {
		if ("ready" in reply) {
			if (reply.ready) settleReady?.resolve();
			else {
				const error = reviveError(reply.error);
				settleReady?.reject(error);
				stop(error);
			}
			return;
		}
		const waiting = pending.get(reply.id);
		if (!waiting) return;
		pending.delete(reply.id);
		if (reply.ok) waiting.resolve(reply.value);
		else waiting.reject(reviveError(reply.error));
	};
	// Replies come in batches (one message per group the thread committed).
	worker.on("message", (replies: ThreadReply[]) => {
		for (const reply of replies) settle(reply);
	});
	worker.on("error", (error) => {
		log?.({ level: "error", msg: "the writer thread failed", error: String(error?.stack ?? error) });
		stop(error);
	});
	worker.on("exit", (code) => {
		if (!closing) log?.({ level: "error", msg: "the writer thread exited", code });
		stop(new Error(`the writer thread exited (${code})`));
	});

	function call<T>(request: WithoutId<ThreadRequest>, transfer: ArrayBuffer[] = []): Promise<T> {
		if (stopped) return Promise.reject(reviveError({ kind: "storage", cause: describe(stopped) }));
		const id = nextId++;
		return new Promise<T>((resolve, reject) => {
			pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
			outbox.push({ ...request, id } as ThreadRequest);
			outboxTransfer.push(...transfer);
			if (!flushing) {
				flushing = true;
				setImmediate(flushOutbox);
			}
		});
	}

	// Requests of one turn of the event loop go as one message: one wake-up of the thread for many
	// writes, as the writes of one turn share one group commit there.
	let outbox: ThreadRequest[] = [];
	let outboxTransfer: ArrayBuffer[] = [];
	let flushing = false;
	function flushOutbox(): void {
		flushing = false;
		const batch = outbox;
		const transfer = outboxTransfer;
		outbox = [];
		outboxTransfer = [];
		if (batch.length > 0) worker.postMessage(batch, transfer);
	}

	return {
		ready,
		exportOtlp(input) {
			const body = transferable(input.body);
			return call({ op: "otlp", input: { ...input, body } }, [body.buffer]);
		},
		ping(input, nowMs) {
			return call({ op: "ping", input, nowMs });
		},
		stats() {
			return call({ op: "stats" });
		},
		close() {
			closing ??= (async () => {
				if (stopped) return;
				const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
				try {
					await call({ op: "close" });
				} catch {
					// Already stopped: nothing left to settle.
				}
				await exited;
			})();
			return closing;
		},
	};
}

function describe(error: Error): SerializedError {
	return { kind: "error", name: error.name, message: error.message };
}
