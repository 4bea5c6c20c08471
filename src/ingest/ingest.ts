import { eq } from "drizzle-orm";
import { LruCache } from "../auth/lru.js";
import type { Clock } from "../clock.js";
import type { Database } from "../db/client.js";
import { orgs } from "../db/schema.js";
import { ApiError } from "../errors.js";
import { libsqlTelemetryStore, type TelemetryStore } from "../telemetry/store.js";
import { type AttributeLimits, DEFAULT_ATTRIBUTE_LIMITS, IngestBatch, type TimeWindow } from "./batch.js";
import { DecodeError, StorageUnavailable } from "./decode-error.js";
import { DiscoveryMemory } from "./discovery.js";
import { parseJson } from "./json.js";
import { decodeLogsJson, decodeLogsProtobuf } from "./logs.js";
import { type OtlpFormat, type PartialSuccess, SIGNALS, type Signal } from "./messages.js";
import { decodeMetricsJson, decodeMetricsProtobuf } from "./metrics.js";
import {
	JSON_AS_PROTOBUF_MESSAGE,
	looksLikeJson,
	type Misrouted,
	misroutedJson,
	misroutedProtobufMessage,
} from "./misrouted.js";
import { decodeProtobuf } from "./protobuf.js";
import {
	encodeExport,
	enqueueMessages,
	putSpilled,
	queueFor,
	type TelemetryQueue,
	type TelemetryQueues,
	type TelemetrySpill,
} from "./queue.js";
import { writeGroupRollups } from "./rollups.js";
import { decodeTracesJson, decodeTracesProtobuf } from "./traces.js";
import type { GroupCommitWriter, RunStatement } from "./writer.js";
import type { WriterThread } from "./writer-thread.js";

export { StorageUnavailable };

/** An export's answer when it is not a plain success: what was rejected or dropped, and why. */
export interface ExportOutcome extends PartialSuccess {
	/** Set when nothing was stored because the body belongs to another endpoint (a warning). */
	misrouted?: Misrouted;
}

/** An export taken: its answer, and what its rows take as stored (charged to the org's byte budget). */
export interface ExportResult {
	/** null: a plain success. */
	partial: ExportOutcome | null;
	/** The rows' size as stored (src/ingest/batch.ts `StoredSize`). */
	storedChars: number;
}

/** Records stamped further ahead than this are refused: clock skew does not explain them. */
export const MAX_FUTURE_SKEW_MS = 60 * 60 * 1000;
const RETENTION_CACHE_TTL_MS = 60_000;
const MS = 1_000_000n;

const DECODERS = {
	traces: { protobuf: decodeTracesProtobuf, json: decodeTracesJson, source: "spans", noun: "spans" },
	logs: { protobuf: decodeLogsProtobuf, json: decodeLogsJson, source: "logs", noun: "log records" },
	metrics: {
		protobuf: decodeMetricsProtobuf,
		json: decodeMetricsJson,
		source: "metrics",
		noun: "data points",
	},
} as const;

/**
 * Decodes one OTLP export into rows and commits them; transport-independent (HTTP and gRPC both end
 * here). Holds the per-isolate state: org retention (cached briefly), the schema-discovery memory
 * and the per-org count of requests in flight.
 */
export class OtlpIngest {
	readonly #retention: LruCache<number>;
	readonly #discovery: DiscoveryMemory;
	readonly #inFlight = new Map<string, number>();
	#telemetry: TelemetryStore | undefined;

	constructor(
		readonly deps: {
			/** Absent inside the writer thread, which is handed the window (`store`) and writes through `writer`. */
			db?: Database | undefined;
			clock: Clock;
			/** Where rows go (src/telemetry/store.ts); the libSQL database `db` when absent. */
			telemetry?: TelemetryStore | undefined;
			writer?: GroupCommitWriter | undefined;
			/** Node: the writer in its own thread (src/ingest/writer-thread.ts); `store` runs there. */
			writerThread?: WriterThread | undefined;
			/** The Worker's TELEMETRY_QUEUE binding: rows are enqueued instead of written (src/ingest/queue.ts). */
			/** One queue, or shards chosen by org (queueFor). */
			telemetryQueue?: TelemetryQueues | undefined;
			/** The Worker's TELEMETRY_SPILL bucket: rows too large for a message are parked in R2. */
			telemetrySpill?: TelemetrySpill | undefined;
		},
		readonly maxConcurrentPerOrg: number,
		readonly attributeLimits: AttributeLimits = DEFAULT_ATTRIBUTE_LIMITS,
		/** The most an export's rows may take as stored (`maxStoredCharsOf`); more is 413. */
		readonly maxStoredChars: number = Number.POSITIVE_INFINITY,
	) {
		this.#retention = new LruCache(10_000, deps.clock);
		this.#discovery = new DiscoveryMemory(deps.clock);
		this.#telemetry = deps.telemetry;
	}

	/** Where rows go: the configured store, or the libSQL database (the writer thread has neither: it writes through `writer`). */
	#store(): TelemetryStore {
		this.#telemetry ??= libsqlTelemetryStore(this.#db());
		return this.#telemetry;
	}

	/** The embedded writer streams rows into libSQL; with telemetry elsewhere it is not used for them. */
	#libsql(): boolean {
		return (this.deps.telemetry?.kind ?? "libsql") === "libsql";
	}

	/** A slot for one request of `orgId`, or null when the org already has its maximum in flight. */
	acquire(orgId: string): (() => void) | null {
		const current = this.#inFlight.get(orgId) ?? 0;
		if (current >= this.maxConcurrentPerOrg) return null;
		this.#inFlight.set(orgId, current + 1);
		let released = false;
		return () => {
			if (released) return;
			released = true;
			const left = (this.#inFlight.get(orgId) ?? 1) - 1;
			if (left === 0) this.#inFlight.delete(orgId);
			else this.#inFlight.set(orgId, left);
		};
	}

	#db(): Database {
		if (!this.deps.db) throw new Error("OtlpIngest: no database handle (the writer thread has none)");
		return this.deps.db;
	}

	async #retentionDays(orgId: string): Promise<number> {
		const cached = this.#retention.get(orgId);
		if (cached !== undefined) return cached;
		let days: number;
		try {
			const rows = await this.#db()
				.select({ days: orgs.retentionDays })
				.from(orgs)
				.where(eq(orgs.id, orgId))
				.limit(1);
			days = rows[0]?.days ?? 30;
		} catch (error) {
			throw new StorageUnavailable(error);
		}
		this.#retention.set(orgId, days, RETENTION_CACHE_TTL_MS);
		return days;
	}

	/**
	 * Decodes (DecodeError → 400), then writes everything in one transaction (StorageUnavailable → 503).
	 * A body that stored nothing because it belongs elsewhere says so (src/ingest/misrouted.ts).
	 */
	async export(orgId: string, signal: Signal, format: OtlpFormat, body: Uint8Array): Promise<ExportResult> {
		if (format === "protobuf" && looksLikeJson(body, false)) {
			throw new DecodeError("Content-Type", "the body is JSON", JSON_AS_PROTOBUF_MESSAGE);
		}
		const nowMs = this.deps.clock.now();
		const retentionDays = await this.#retentionDays(orgId);
		const nowNs = BigInt(nowMs) * MS;
		const window: TimeWindow = {
			nowNs,
			minNs: BigInt(nowMs - retentionDays * 86_400_000) * MS,
			maxNs: BigInt(nowMs + MAX_FUTURE_SKEW_MS) * MS,
		};
		// The writer thread is libSQL's own (Node's embedded file); ClickHouse is written from here.
		const thread = this.#libsql() ? this.deps.writerThread : undefined;
		if (thread) return thread.exportOtlp({ orgId, signal, format, body, nowMs, window });
		return this.store(orgId, signal, format, body, nowMs, window);
	}

	/**
	 * Decodes and writes an export whose time window is known: the part of `export` after the
	 * retention read, which the writer thread runs (src/ingest/writer-thread-main.ts).
	 */
	async store(
		orgId: string,
		signal: Signal,
		format: OtlpFormat,
		body: Uint8Array,
		nowMs: number,
		window: TimeWindow,
	): Promise<ExportResult> {
		const decoder = DECODERS[signal];
		const root = format === "json" ? parseJson(body) : null;
		const decode = (batch: IngestBatch) => {
			if (format === "protobuf") decodeProtobuf(body, (reader) => decoder.protobuf(reader, batch));
			else decoder.json(root, batch);
			batch.finish();
		};
		const queue = this.deps.telemetryQueue && queueFor(this.deps.telemetryQueue, orgId);
		const libsql = this.#libsql();
		const newBatch = (run?: RunStatement) =>
			new IngestBatch(orgId, decoder.source, window, nowMs, run, {
				limits: this.attributeLimits,
				maxStoredChars: this.maxStoredChars,
				// Queued, the consumer computes the rollups over its whole batch; a store without
				// rollups (ClickHouse) gets none.
				...((queue || !(this.deps.telemetry?.rollups ?? true)) && { rollups: false }),
			});
		// The embedded group-commit writer is libSQL's own streaming path (Node's default).
		const writer = libsql ? this.deps.writer : undefined;
		let batch: IngestBatch;
		try {
			batch = queue
				? await this.#decodeThenEnqueue(queue, newBatch(), decode)
				: writer
					? await this.#writeWhileDecoding(writer, newBatch, decode)
					: await this.#decodeThenWrite(newBatch(), decode, body.byteLength);
		} catch (error) {
			if (error instanceof DecodeError && format === "protobuf") {
				throw this.#explainProtobufFailure(error, signal, body, window, nowMs);
			}
			throw error;
		}
		const rejected = batch.rejections.count;
		const misrouted = batch.items === 0 && format === "json" ? misroutedJson(root, signal) : null;
		// Dropped attributes alone make a warning: partial_success with 0 rejected and a message (OTLP).
		const message = [
			rejected > 0 ? batch.rejections.message(batch.items, decoder.noun) : "",
			batch.dropped.message(this.attributeLimits),
			misrouted?.message ?? "",
		]
			.filter((part) => part !== "")
			.join(" ");
		const storedChars = batch.size.chars;
		if (!message) return { partial: null, storedChars };
		return { partial: { rejected, message, ...(misrouted && { misrouted }) }, storedChars };
	}

	/**
	 * A protobuf body that does not decode as the path's message: another signal's export, JSON sent
	 * as protobuf, or neither. The other two messages are tried, into batches that write nowhere;
	 * the one that keeps the most items is named (a record of one signal can decode, rejected, as a
	 * record of another: a metric's name lands in a span's trace id), several on a tie.
	 */
	#explainProtobufFailure(
		error: DecodeError,
		signal: Signal,
		body: Uint8Array,
		window: TimeWindow,
		nowMs: number,
	): DecodeError {
		const candidates: { signal: Signal; kept: number }[] = [];
		for (const other of SIGNALS) {
			if (other === signal) continue;
			const decoder = DECODERS[other];
			const probe = new IngestBatch("probe", decoder.source, window, nowMs, () => {}, {
				rollups: false,
				limits: this.attributeLimits,
			});
			try {
				decodeProtobuf(body, (reader) => decoder.protobuf(reader, probe));
			} catch {
				continue;
			}
			if (probe.items > 0) candidates.push({ signal: other, kept: probe.items - probe.rejections.count });
		}
		if (candidates.length === 0) {
			return looksLikeJson(body, true)
				? new DecodeError("Content-Type", "the body is JSON", JSON_AS_PROTOBUF_MESSAGE)
				: error;
		}
		const best = Math.max(...candidates.map((c) => c.kept));
		const named = candidates.filter((c) => c.kept === best).map((c) => c.signal);
		return new DecodeError(
			error.field,
			error.description,
			misroutedProtobufMessage(signal, named, error.message),
		);
	}

	/**
	 * Embedded: decoded and written synchronously inside the writer's next group commit, statement by
	 * statement, under its own savepoint; settled once the group has committed.
	 */
	async #writeWhileDecoding(
		writer: GroupCommitWriter,
		newBatch: (run: RunStatement) => IngestBatch,
		decode: (batch: IngestBatch) => void,
	): Promise<IngestBatch> {
		let commitDiscovery: (() => void) | undefined;
		let batch: IngestBatch;
		try {
			// Repeatable: the work decodes `body` and writes the database, nothing else (the discovery
			// memory is updated by `commitDiscovery` after the commit), so exports share savepoints.
			batch = await writer.submit(
				(tx) => {
					// A failed write surfaces through the decoder: marked, so it is not taken for bad input.
					const written = newBatch((sql, args, cacheable) => {
						try {
							tx.run(sql, args, cacheable);
						} catch (error) {
							throw new StorageUnavailable(error);
						}
					});
					decode(written);
					if (written.rows === 0) return written;
					// The rollups are upserted once per group, merged with the other exports' (few distinct
					// texts, per table and row count: prepared once, like the row INSERTs).
					if (written.rollups) tx.atGroupEnd(writeGroupRollups, written.rollups);
					const discovery = this.#discovery.plan(written.discovery);
					for (const statement of discovery.statements) tx.run(statement.sql, statement.args, false);
					commitDiscovery = discovery.commit;
					return written;
				},
				{ repeatable: true },
			);
		} catch (error) {
			// The API's own answers (an export too large as stored: 413) pass as they are, as in decodeProtobuf.
			if (error instanceof DecodeError || error instanceof StorageUnavailable || error instanceof ApiError)
				throw error;
			throw new StorageUnavailable(error);
		}
		commitDiscovery?.();
		return batch;
	}

	/**
	 * Queued (a Worker with TELEMETRY_QUEUE): decoded, then the accepted rows sent to the queue as
	 * messages of at most 128 KB; settled once the queue has accepted every one (src/ingest/queue.ts).
	 */
	async #decodeThenEnqueue(queue: TelemetryQueue, batch: IngestBatch, decode: (batch: IngestBatch) => void) {
		decode(batch);
		const spill = this.deps.telemetrySpill;
		const { bodies, spilled } = encodeExport(batch, crypto.randomUUID(), spill?.maxRowBytes ?? 0);
		try {
			// Spilled bodies first: a pointer is sent only once its body is in R2.
			if (spill && spilled.length > 0) await putSpilled(spill.bucket, spilled);
			await enqueueMessages(queue, bodies);
		} catch (error) {
			throw new StorageUnavailable(error);
		}
		return batch;
	}

	/**
	 * Remote libSQL (or any libSQL client), or ClickHouse: decoded into rows, then written by the
	 * telemetry store (src/telemetry/store.ts) — one transaction on libSQL, batched inserts on ClickHouse.
	 */
	async #decodeThenWrite(batch: IngestBatch, decode: (batch: IngestBatch) => void, sourceBytes: number) {
		decode(batch);
		try {
			await this.#store().writeExport(batch, this.#discovery, sourceBytes);
		} catch (error) {
			throw new StorageUnavailable(error);
		}
		return batch;
	}
}
