import type { Client, InStatement, InValue, Row } from "@libsql/client";
import type { Clock } from "../clock.js";
import { isStorageFailure } from "../db/errors.js";
import {
	ATTRIBUTE_NAMESPACES,
	type AttributeNamespace,
	METRIC_KINDS,
	type MetricKind,
	TELEMETRY_SOURCES,
	type TelemetrySource,
} from "../db/schema-telemetry.js";
import { errorFields, type Log } from "../log.js";
import type { TelemetryStore } from "../telemetry/store.js";
import { type IngestBatch, insertSql, LOG_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS } from "./batch.js";
import { DiscoveryCollector, type DiscoveryMemory } from "./discovery.js";
import { RollupCollector, writeGroupRollups } from "./rollups.js";
import { writeStatements } from "./writer.js";

/**
 * Cloudflare Queues between edge ingest and storage (docs/scale-out.md "Cloudflare Queues").
 *
 * Producer (the Worker's OTLP routes, when it has a TELEMETRY_QUEUE binding): an export is decoded
 * and validated as on the direct path, and its accepted rows are written into queue messages of at
 * most MESSAGE_BODY_BYTES of JSON each (a large export becomes several), sent with `sendBatch` in
 * calls of at most SEND_BATCH_MESSAGES messages and SEND_BATCH_BYTES; the export is answered once
 * every call has resolved — the queue holds the rows durably from then on. A row too large for a
 * message alone is, with a TELEMETRY_SPILL (R2) binding, put in R2 first and a pointer enqueued.
 *
 * Consumer (the Worker's `queue()` handler): a delivered batch is stored in one transaction — the
 * rows, their rollups (merged per org over the whole batch) and schema discovery, exactly as the
 * direct path writes them, plus one receipt per message in `queue_receipts`. A message whose receipt
 * exists is acknowledged without being stored again, so redelivery never stores twice. A storage
 * failure retries the messages with backoff; a message the store refuses for itself (or that does
 * not parse) is retried until the queue's max_retries move it to the dead-letter queue, whose
 * consumer parks it in `queue_dead_letters` for `hexcovery queue dead-letters` / `queue replay`.
 */

/** Cloudflare's limit per message is 128 KB; the JSON body stays below it with room for metadata. */
export const MESSAGE_LIMIT_BYTES = 128_000;
export const MESSAGE_BODY_BYTES = 120_000;
/** `sendBatch` takes at most 100 messages and 256 KB per call. */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_BYTES = 256_000;
/** sendBatch calls of one export in flight at once. */
const SEND_CONCURRENCY = 4;
/** Retry backoff of a message the store could not take: 5 s doubling per attempt, at most 5 min. */
export const RETRY_BASE_SECONDS = 5;
export const RETRY_MAX_SECONDS = 300;
/** Receipts outlive every possible redelivery: Queues retain a message at most 14 days. */
export const QUEUE_RECEIPT_TTL_MS = 15 * 86_400_000;
/** The dead-letter queue's name when TELEMETRY_DEAD_LETTER_QUEUE does not say (wrangler.toml). */
export const DEFAULT_DEAD_LETTER_QUEUE = "hexcovery-telemetry-dlq";
/** Rows per INSERT the consumer builds (as the direct path's collected statements). */
const ROWS_PER_STATEMENT = 500;

/** What the producer needs of a Cloudflare Queue binding (`Queue` in @cloudflare/workers-types). */
export interface TelemetryQueue {
	sendBatch(
		messages: Iterable<{ body: unknown; contentType?: "text" | "json" | "bytes" | "v8" }>,
	): Promise<unknown>;
}

/**
 * The producer's queues: one, or N shards (TELEMETRY_QUEUE_0 … _N-1) among which each org's exports
 * always go to the same one (shardOf), to stay under a queue's 5,000 messages per second.
 */
export type TelemetryQueues = TelemetryQueue | readonly TelemetryQueue[];

/** An org's shard among `shards` queues: FNV-1a (32 bit) of its id, modulo `shards`; stable. */
export function shardOf(orgId: string, shards: number): number {
	let hash = 0x811c9dc5;
	for (const byte of encoder.encode(orgId)) {
		hash ^= byte;
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return hash % shards;
}

/** The queue an org's export is sent to. */
export function queueFor(queues: TelemetryQueues, orgId: string): TelemetryQueue {
	if (!Array.isArray(queues)) return queues as TelemetryQueue;
	return queues[shardOf(orgId, queues.length)] as TelemetryQueue;
}

/**
 * Whether a queue's batches are dead letters (parked, not stored): the names listed in
 * TELEMETRY_DEAD_LETTER_QUEUE (comma-separated), or by default `hexcovery-telemetry-dlq` and the
 * shards' `hexcovery-telemetry-<n>-dlq`.
 */
export function isDeadLetterQueue(queue: string, setting?: string): boolean {
	if (setting?.trim())
		return setting
			.split(",")
			.map((name) => name.trim())
			.includes(queue);
	return queue === DEFAULT_DEAD_LETTER_QUEUE || /^hexcovery-telemetry-\d+-dlq$/.test(queue);
}

/**
 * What the spill needs of an R2 bucket (the Worker's TELEMETRY_SPILL binding, `R2Bucket`): a row
 * too large for a queue message is parked there as a message body of its own, and the queue
 * carries a small pointer to it (docs/scale-out.md, "Limits and sharding").
 */
export interface SpillBucket {
	put(key: string, value: string): Promise<unknown>;
	get(key: string): Promise<{ text(): Promise<string> } | null>;
	delete(keys: string | string[]): Promise<unknown>;
}

/** The producer's spill: the bucket, and the largest row it takes (as stored; the export limit). */
export interface TelemetrySpill {
	bucket: SpillBucket;
	maxRowBytes: number;
}

/** Where a message's spilled body is kept: derived from its id, so a pointer names only its own. */
export const spillKey = (messageId: string) => `telemetry-spill/${messageId}`;

/** What the consumer needs of a delivered message and batch (`Message`, `MessageBatch`). */
export interface QueueMessage {
	readonly id: string;
	readonly body: unknown;
	readonly attempts: number;
	ack(): void;
	retry(options?: { delaySeconds?: number }): void;
}
export interface QueueBatch {
	readonly queue: string;
	readonly messages: readonly QueueMessage[];
}

export const QUEUE_TABLES = {
	spans: SPAN_COLUMNS,
	logs: LOG_COLUMNS,
	metric_points: METRIC_POINT_COLUMNS,
} as const;
type TableName = keyof typeof QUEUE_TABLES;

/** A message as sent: JSON text, bigints as {"b":"…"} and non-finite numbers as {"f":"NaN"}. */
interface WireMessage {
	/** 1; 2 for a pointer to a spilled body (`spill`). */
	v: 1 | 2;
	/** `<export id>:<part>`: unique per message, the receipt's key. */
	id: string;
	org: string;
	source: TelemetrySource;
	part: number;
	parts: number;
	/** Schema discovery of the export (carried by its first messages). */
	keys?: [AttributeNamespace, string, number, string[]][];
	metrics?: [string, MetricKind, string | null, string | null][];
	now?: number;
	table?: TableName;
	rows?: InValue[][];
	/** A pointer: the message's body is in the spill bucket under this key (spillKey(id)). */
	spill?: string;
	bytes?: number;
}

/** A message validated for storing. */
export interface TelemetryMessage {
	id: string;
	org: string;
	source: TelemetrySource;
	table: TableName | null;
	rows: InValue[][];
	discovery: DiscoveryCollector | null;
	bytes: number;
	/** A pointer to a spilled body (spillKey(id)): resolved by the consumer before storing. */
	spill?: string;
}

/** A message that can never be stored as it is: malformed, or refused by the store. */
export class PoisonMessage extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = "PoisonMessage";
	}
}

function replacer(_key: string, value: unknown): unknown {
	if (typeof value === "bigint") return { b: value.toString() };
	if (typeof value === "number" && !Number.isFinite(value)) return { f: String(value) };
	return value;
}

/**
 * A row value as `replacer` wrote it, back: a bigint from {"b":"…"}, a non-finite number from
 * {"f":"…"}; undefined for anything else that is not null, a string or a number. Applied by
 * parseMessage to row values only (where replacer's objects are): a JSON.parse reviver, called on
 * every value of the body, made parsing ~6× slower.
 */
function rowValue(value: unknown): InValue | undefined {
	if (value === null || typeof value === "string" || typeof value === "number") return value;
	if (typeof value === "object" && !Array.isArray(value)) {
		const o = value as Record<string, unknown>;
		if (typeof o.b === "string" && /^-?\d+$/.test(o.b)) return BigInt(o.b);
		if (o.f === "NaN" || o.f === "Infinity" || o.f === "-Infinity") return Number(o.f);
	}
	return undefined;
}

const encoder = new TextEncoder();
const utf8Bytes = (text: string) => encoder.encode(text).byteLength;

/**
 * The queue messages (JSON text) of one decoded export. Rows are taken in order and split so that no
 * message exceeds MESSAGE_BODY_BYTES; discovery goes first. A single row that cannot fit in a
 * message alone is, with `spillRowBytes` (a Worker with TELEMETRY_SPILL: the export limit), made a
 * message of its own whose body goes to R2 (`spilled`, to put before sending) and whose place in
 * `bodies` is a small pointer; a row larger than that, or any such row without a spill, is rejected
 * (counted in the batch's rejections: partial success).
 */
export function encodeExport(
	batch: IngestBatch,
	exportId: string,
	spillRowBytes = 0,
): { bodies: string[]; spilled: { key: string; body: string }[] } {
	const parts: { head: Record<string, unknown>; items: string[]; spill?: boolean }[] = [];
	const envelope = (extra: Record<string, unknown>) => ({ org: batch.orgId, source: batch.source, ...extra });
	const budget = MESSAGE_BODY_BYTES - 400 - utf8Bytes(batch.orgId) - exportId.length;

	// Discovery: keys and metric names, as many per message as fit.
	const discovery = batch.discovery;
	const keyItems = [...discovery.keys.values()].map((k) =>
		JSON.stringify([k.namespace, k.key, k.types, k.examples]),
	);
	const metricItems = [...discovery.metrics.values()].map((m) =>
		JSON.stringify([m.name, m.kind, m.unit, m.description]),
	);
	const pack = (items: string[], field: "keys" | "metrics" | "rows", extra: Record<string, unknown>) => {
		let current: string[] = [];
		let size = 0;
		const flush = () => {
			if (current.length === 0) return;
			parts.push({ head: { ...extra, field }, items: current });
			current = [];
			size = 0;
		};
		for (const item of items) {
			const bytes = utf8Bytes(item) + 1;
			if (size + bytes > budget) flush();
			current.push(item);
			size += bytes;
		}
		flush();
	};
	for (const table of [batch.spans, batch.logs, batch.metricPoints]) {
		const width = table.columns.length;
		const rows: string[] = [];
		for (const statement of table.statements()) {
			const args = (statement as { args: InValue[] }).args;
			for (let i = 0; i < args.length; i += width) {
				const row = JSON.stringify(args.slice(i, i + width), replacer);
				const bytes = utf8Bytes(row) + 1;
				if (bytes > budget) {
					if (bytes <= spillRowBytes) {
						parts.push({ head: { table: table.table, field: "rows" }, items: [row], spill: true });
						continue;
					}
					batch.rejections.add(
						spillRowBytes > 0
							? `larger than the export limit (${spillRowBytes} bytes) as stored`
							: `larger than a queue message (${MESSAGE_LIMIT_BYTES / 1000} KB) as stored`,
					);
					table.rows--;
					continue;
				}
				rows.push(row);
			}
		}
		pack(rows, "rows", { table: table.table });
	}
	// Nothing to store (every row rejected): nothing to send, discovery included (as the direct path).
	if (parts.length === 0) return { bodies: [], spilled: [] };
	const rowParts = parts.splice(0);
	pack(keyItems, "keys", { now: discovery.nowMs });
	pack(metricItems, "metrics", { now: discovery.nowMs });
	parts.push(...rowParts);

	const spilled: { key: string; body: string }[] = [];
	const bodies = parts.map(({ head, items, spill }, part) => {
		const { field, ...rest } = head as { field: string } & Record<string, unknown>;
		const id = `${exportId}:${part}`;
		const start = JSON.stringify({ v: 1, id, ...envelope(rest), part, parts: parts.length });
		const body = `${start.slice(0, -1)},"${field}":[${items.join(",")}]}`;
		if (!spill) return body;
		const key = spillKey(id);
		spilled.push({ key, body });
		// Version 2: a consumer of an older version refuses it (retried, then parked) instead of
		// taking it for a message without rows.
		return JSON.stringify({
			v: 2,
			id,
			...envelope({}),
			part,
			parts: parts.length,
			spill: key,
			bytes: utf8Bytes(body),
		});
	});
	return { bodies, spilled };
}

/** Puts an export's spilled bodies in R2 (before its messages are sent), a few at a time. */
export async function putSpilled(bucket: SpillBucket, spilled: { key: string; body: string }[]) {
	let next = 0;
	const worker = async () => {
		while (next < spilled.length) {
			const item = spilled[next++] as (typeof spilled)[number];
			await bucket.put(item.key, item.body);
		}
	};
	await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, spilled.length) }, worker));
}

/**
 * Sends an export's messages; resolves once the queue has accepted all of them. Calls stay within
 * sendBatch's limits (SEND_BATCH_MESSAGES, SEND_BATCH_BYTES), a few in flight at once.
 */
export async function enqueueMessages(queue: TelemetryQueue, bodies: string[]): Promise<void> {
	const calls: string[][] = [];
	let current: string[] = [];
	let size = 0;
	for (const body of bodies) {
		const bytes = utf8Bytes(body) + 100;
		if (current.length > 0 && (current.length >= SEND_BATCH_MESSAGES || size + bytes > SEND_BATCH_BYTES)) {
			calls.push(current);
			current = [];
			size = 0;
		}
		current.push(body);
		size += bytes;
	}
	if (current.length > 0) calls.push(current);
	let next = 0;
	const worker = async () => {
		while (next < calls.length) {
			const call = calls[next++] as string[];
			await queue.sendBatch(call.map((body) => ({ body, contentType: "text" as const })));
		}
	};
	await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, calls.length) }, worker));
}

const isText = (v: unknown): v is string => typeof v === "string";

/** Validates a delivered body; PoisonMessage when it is not a message this version can store. */
export function parseMessage(body: unknown): TelemetryMessage {
	let text: string;
	if (typeof body === "string") text = body;
	else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body))
		text = new TextDecoder().decode(body as ArrayBuffer);
	else throw new PoisonMessage("the body is not JSON text");
	let wire: WireMessage;
	try {
		wire = JSON.parse(text) as WireMessage;
	} catch (error) {
		throw new PoisonMessage("the body is not JSON", { cause: error });
	}
	if (wire === null || typeof wire !== "object") throw new PoisonMessage("the body is not a JSON object");
	if (!(wire.v === 1 || (wire.v === 2 && wire.spill !== undefined)))
		throw new PoisonMessage(`unknown message version ${JSON.stringify(wire.v)}`);
	if (!isText(wire.id) || wire.id.length === 0 || wire.id.length > 200)
		throw new PoisonMessage("no message id");
	if (!isText(wire.org) || wire.org.length === 0) throw new PoisonMessage("no org");
	if (!TELEMETRY_SOURCES.includes(wire.source)) throw new PoisonMessage("unknown source");
	const message: TelemetryMessage = {
		id: wire.id,
		org: wire.org,
		source: wire.source,
		table: null,
		rows: [],
		discovery: null,
		bytes: utf8Bytes(text),
	};
	if (wire.spill !== undefined) {
		if (wire.v !== 2) throw new PoisonMessage("a spill pointer of version 1");
		if (wire.spill !== spillKey(wire.id))
			throw new PoisonMessage("a spill key that is not the message's own");
		if (wire.rows !== undefined || wire.keys !== undefined || wire.metrics !== undefined)
			throw new PoisonMessage("a spill pointer with rows");
		message.spill = wire.spill;
		return message;
	}
	if (wire.keys !== undefined || wire.metrics !== undefined) {
		if (typeof wire.now !== "number") throw new PoisonMessage("discovery without a time");
		const discovery = new DiscoveryCollector(wire.org, wire.source, wire.now);
		for (const k of wire.keys ?? []) {
			const [namespace, key, types, examples] = Array.isArray(k) ? k : [];
			if (
				!ATTRIBUTE_NAMESPACES.includes(namespace as AttributeNamespace) ||
				!isText(key) ||
				typeof types !== "number" ||
				!Array.isArray(examples) ||
				!examples.every(isText)
			)
				throw new PoisonMessage("malformed discovery key");
			discovery.keys.set(`${namespace}\u0000${key}`, {
				namespace: namespace as AttributeNamespace,
				key,
				types,
				examples,
			});
		}
		for (const m of wire.metrics ?? []) {
			const [name, kind, unit, description] = Array.isArray(m) ? m : [];
			if (
				!isText(name) ||
				!METRIC_KINDS.includes(kind as MetricKind) ||
				!(unit === null || isText(unit)) ||
				!(description === null || isText(description))
			)
				throw new PoisonMessage("malformed metric name");
			discovery.metrics.set(name, { name, kind: kind as MetricKind, unit, description });
		}
		message.discovery = discovery;
	}
	if (wire.rows !== undefined) {
		if (!wire.table || !Object.hasOwn(QUEUE_TABLES, wire.table)) throw new PoisonMessage("unknown table");
		if (!Array.isArray(wire.rows)) throw new PoisonMessage("rows is not an array");
		const width = QUEUE_TABLES[wire.table].length;
		for (const row of wire.rows) {
			if (!Array.isArray(row) || row.length !== width)
				throw new PoisonMessage(`a row is not ${width} values`);
			// The org is the first column of every table: a message stores into its own org only.
			if (row[0] !== wire.org) throw new PoisonMessage("a row of another org");
			for (let i = 0; i < width; i++) {
				const value = rowValue(row[i]);
				if (value === undefined) throw new PoisonMessage("a value that is not a string, number or null");
				row[i] = value;
			}
		}
		message.table = wire.table;
		message.rows = wire.rows;
	}
	return message;
}

/**
 * The retry delay after `attempts` deliveries: base, 2·base, 4·base, … at most 5 minutes
 * (TELEMETRY_RETRY_BASE_SECONDS, default 5: 5 s, 10 s, 20 s, …).
 */
export function retryDelaySeconds(attempts: number, baseSeconds = RETRY_BASE_SECONDS): number {
	return Math.min(RETRY_MAX_SECONDS, baseSeconds * 2 ** Math.max(0, Math.min(attempts - 1, 16)));
}

/**
 * A pointer's rows are in R2: storing the pointer itself would write its receipt and no rows. The
 * consumer resolves pointers first (consumeSpilled); anything else handing one over (a replay of a
 * parked pointer, whose body was missing) is refused.
 */
function refuseSpillPointers(messages: readonly TelemetryMessage[]): void {
	const pointer = messages.find((m) => m.spill);
	if (pointer)
		throw new PoisonMessage(`its body is not in the message but in R2 (${pointer.spill}), and was not read`);
}

/** Which of `ids` have a receipt: stored before (receipts are in libSQL with either store). */
async function receivedIds(client: Client, ids: readonly string[]): Promise<Set<string>> {
	const seen = await client.execute({
		sql: `SELECT message_id FROM queue_receipts WHERE message_id IN (${ids.map(() => "?").join(",")})`,
		args: [...ids],
	});
	return new Set(seen.rows.map((row) => String(row.message_id)));
}

/**
 * What a store does first with a delivered batch (both stores): pointers refused (resolved by the
 * consumer before), messages with a receipt set aside as `duplicates`, and a message delivered twice
 * in the same batch kept once.
 */
export async function unreceivedMessages(
	client: Client,
	messages: readonly TelemetryMessage[],
): Promise<{ unique: TelemetryMessage[]; duplicates: Set<string> }> {
	refuseSpillPointers(messages);
	const duplicates = await receivedIds(
		client,
		messages.map((m) => m.id),
	);
	const unique = [...new Map(messages.filter((m) => !duplicates.has(m.id)).map((m) => [m.id, m])).values()];
	return { unique, duplicates };
}

/**
 * Stores messages in one transaction: rows, rollups, discovery and receipts. Messages already
 * received are skipped (their ids are returned in `duplicates`). A receipt inserted by a concurrent
 * consumer first makes the transaction fail (primary key): nothing is stored twice, and the retry
 * then finds the receipt.
 */
export async function storeMessages(
	client: Client,
	memory: DiscoveryMemory,
	messages: TelemetryMessage[],
	nowMs: number,
): Promise<{ stored: string[]; duplicates: string[] }> {
	if (messages.length === 0) return { stored: [], duplicates: [] };
	const { unique, duplicates } = await unreceivedMessages(client, messages);
	if (unique.length === 0) return { stored: [], duplicates: [...duplicates] };

	const statements: InStatement[] = [];
	const collectors: RollupCollector[] = [];
	const commits: (() => void)[] = [];
	let bytes = 0;
	for (const message of unique) {
		bytes += message.bytes;
		if (message.table && message.rows.length > 0) {
			const columns = QUEUE_TABLES[message.table];
			const rollups = new RollupCollector(message.org);
			const add =
				message.table === "spans"
					? rollups.addSpan.bind(rollups)
					: message.table === "logs"
						? rollups.addLog.bind(rollups)
						: rollups.addMetricPoint.bind(rollups);
			for (let i = 0; i < message.rows.length; i += ROWS_PER_STATEMENT) {
				const chunk = message.rows.slice(i, i + ROWS_PER_STATEMENT);
				for (const row of chunk) add(row, 0);
				statements.push({ sql: insertSql(message.table, columns, chunk.length), args: chunk.flat() });
			}
			collectors.push(rollups);
		}
		if (message.discovery) {
			const plan = memory.plan(message.discovery);
			statements.push(...plan.statements);
			commits.push(plan.commit);
		}
	}
	writeGroupRollups({ run: (sql, args) => statements.push({ sql, args }) }, collectors);
	const receipts: InValue[] = [];
	for (const message of unique) receipts.push(message.id, nowMs);
	statements.push({
		sql: `INSERT INTO queue_receipts (message_id, stored_at) VALUES ${unique.map(() => "(?,?)").join(",")}`,
		args: receipts,
	});
	await writeStatements(client, statements, bytes);
	for (const commit of commits) commit();
	return { stored: unique.map((m) => m.id), duplicates: [...duplicates] };
}

export interface ConsumerDeps {
	client: Client;
	/**
	 * Where the rows go (src/telemetry/store.ts): ClickHouse with TELEMETRY_URL; absent, `client`
	 * (libSQL) stores them as below.
	 */
	store?: Pick<TelemetryStore, "storeMessages">;
	clock: Clock;
	discovery: DiscoveryMemory;
	log: Log;
	/** The first retry's delay; each later one doubles (retryDelaySeconds). */
	retryBaseSeconds?: number;
	/** The Worker's TELEMETRY_SPILL bucket: where pointer messages' bodies are (spillKey). */
	spill?: SpillBucket | undefined;
}

/**
 * The telemetry queue's consumer: the batch in one transaction; on a storage failure every message
 * is retried with backoff; on any other failure each message is tried alone, so only the ones the
 * store refuses are retried (and dead-lettered after max_retries). Malformed messages are retried
 * at once (delay 0) to reach the dead-letter queue quickly. Pointers to spilled bodies are stored
 * after the rest, one at a time (consumeSpilled: one large body in memory at once).
 */
export async function consumeTelemetry(batch: QueueBatch, deps: ConsumerDeps): Promise<void> {
	const store = (messages: TelemetryMessage[]) =>
		deps.store
			? deps.store.storeMessages(messages, deps.discovery, deps.clock.now())
			: storeMessages(deps.client, deps.discovery, messages, deps.clock.now());
	const parsed: Delivered[] = [];
	const pointers: Delivered[] = [];
	for (const message of batch.messages) {
		try {
			const telemetry = parseMessage(message.body);
			(telemetry.spill ? pointers : parsed).push({ message, telemetry });
		} catch (error) {
			deps.log({
				level: "error",
				msg: "queue message malformed",
				message_id: message.id,
				reason: (error as Error).message,
			});
			message.retry({ delaySeconds: 0 });
		}
	}
	if (parsed.length > 0) await storeTogether(parsed, deps, store);
	for (const item of pointers) await consumeSpilled(item, deps, store);
}

type Delivered = { message: QueueMessage; telemetry: TelemetryMessage };
type StoreFn = (messages: TelemetryMessage[]) => Promise<{ stored: string[]; duplicates: string[] }>;

async function storeTogether(parsed: Delivered[], deps: ConsumerDeps, store: StoreFn): Promise<void> {
	const retry = (items: typeof parsed) => {
		for (const { message } of items) {
			message.retry({ delaySeconds: retryDelaySeconds(message.attempts, deps.retryBaseSeconds) });
		}
	};
	try {
		await store(parsed.map((p) => p.telemetry));
		for (const { message } of parsed) message.ack();
		return;
	} catch (error) {
		if (isStorageFailure(error) || parsed.length === 1) {
			deps.log({
				level: "error",
				msg: "queue batch not stored",
				messages: parsed.length,
				...errorFields(error),
			});
			retry(parsed);
			return;
		}
	}
	// Something in the batch is refused by the store: each message alone finds which.
	for (let i = 0; i < parsed.length; i++) {
		const item = parsed[i] as (typeof parsed)[number];
		try {
			await store([item.telemetry]);
			item.message.ack();
		} catch (error) {
			deps.log({
				level: "error",
				msg: "queue message not stored",
				message_id: item.message.id,
				...errorFields(error),
			});
			if (isStorageFailure(error)) {
				retry(parsed.slice(i));
				return;
			}
			retry([item]);
		}
	}
}

/** Deletes stored messages' spilled bodies; one left behind is logged (an R2 lifecycle rule ends it). */
async function deleteSpilled(deps: Pick<ConsumerDeps, "spill" | "log">, keys: string[]): Promise<void> {
	if (!deps.spill || keys.length === 0) return;
	try {
		await deps.spill.delete(keys);
	} catch (error) {
		deps.log({ level: "warn", msg: "spilled bodies not deleted", keys: keys.length, ...errorFields(error) });
	}
}

/**
 * A pointer message: one stored before (its receipt exists) is acknowledged and its body deleted
 * from the bucket if still there; otherwise its body is fetched, checked to be the pointer's own
 * message, stored as any other, and deleted once stored. A body missing from the bucket is poison
 * (retried at once until the dead-letter queue, where it is parked with that reason). A database,
 * bucket or store failure is retried with backoff.
 */
async function consumeSpilled(item: Delivered, deps: ConsumerDeps, store: StoreFn): Promise<void> {
	const { message, telemetry } = item;
	const key = telemetry.spill as string;
	const backoff = () =>
		message.retry({ delaySeconds: retryDelaySeconds(message.attempts, deps.retryBaseSeconds) });
	let full: TelemetryMessage;
	try {
		// Stored before (a redelivery): acknowledged without reading the body, which is deleted.
		if ((await receivedIds(deps.client, [telemetry.id])).size > 0) {
			message.ack();
			await deleteSpilled(deps, [key]);
			return;
		}
		if (!deps.spill) throw new PoisonMessage("a spilled body, but no TELEMETRY_SPILL binding");
		const object = await deps.spill.get(key);
		if (object === null) throw new PoisonMessage(`the spilled body ${key} is missing from R2`);
		full = parseMessage(await object.text());
		if (full.id !== telemetry.id || full.org !== telemetry.org || full.spill)
			throw new PoisonMessage("the spilled body is not the pointer's message");
	} catch (error) {
		deps.log({
			level: "error",
			msg: "spilled queue message not read",
			message_id: message.id,
			...errorFields(error),
		});
		if (error instanceof PoisonMessage) message.retry({ delaySeconds: 0 });
		else backoff();
		return;
	}
	try {
		await store([full]);
	} catch (error) {
		deps.log({
			level: "error",
			msg: "queue message not stored",
			message_id: message.id,
			...errorFields(error),
		});
		backoff();
		return;
	}
	message.ack();
	await deleteSpilled(deps, [key]);
}

function looseJson(body: unknown): { id?: unknown; org?: unknown } | null {
	try {
		const value: unknown = JSON.parse(String(body));
		return value !== null && typeof value === "object" ? (value as { id?: unknown; org?: unknown }) : null;
	} catch {
		return null;
	}
}

/** Why a dead-lettered message was not stored, as far as the message itself tells. */
function deadLetterReason(body: unknown): { reason: string; id: string | null; org: string | null } {
	try {
		const message = parseMessage(body);
		return { reason: "not stored within the queue's retries", id: message.id, org: message.org };
	} catch (error) {
		// Whatever id and org a malformed body still names (a parked letter is found by them).
		const raw = looseJson(body);
		const text = (value: unknown) => (typeof value === "string" && value.length <= 200 ? value : null);
		return { reason: `malformed: ${(error as Error).message}`, id: text(raw?.id), org: text(raw?.org) };
	}
}

/**
 * The dead-letter queue's consumer: every message is parked in `queue_dead_letters` (once: a
 * redelivered one is ignored) and acknowledged; if the database cannot take them, retried. A pointer
 * to a spilled body is parked with the body itself (so `queue replay` needs no R2) and the object
 * deleted, one at a time; a body missing from the bucket is parked as the pointer with that reason.
 */
export async function parkDeadLetters(
	batch: QueueBatch,
	deps: Pick<ConsumerDeps, "client" | "clock" | "log" | "retryBaseSeconds" | "spill">,
) {
	if (batch.messages.length === 0) return;
	const now = deps.clock.now();
	const letters: DeadLetterRow[] = [];
	const pointers: { message: QueueMessage; body: string; pointer: TelemetryMessage }[] = [];
	for (const message of batch.messages) {
		const body =
			typeof message.body === "string"
				? message.body
				: message.body instanceof ArrayBuffer || ArrayBuffer.isView(message.body)
					? new TextDecoder().decode(message.body as ArrayBuffer)
					: JSON.stringify(message.body ?? null);
		const pointer = spillPointer(body);
		if (pointer) pointers.push({ message, body, pointer });
		else letters.push({ message, body, ...deadLetterReason(body) });
	}
	await park(batch.queue, letters, now, deps);
	for (const { message, body, pointer } of pointers) {
		const key = pointer.spill as string;
		let letter: DeadLetterRow = {
			message,
			body,
			reason: `the spilled body ${key} is missing from R2`,
			id: pointer.id,
			org: pointer.org,
		};
		let inlined = false;
		try {
			const object = deps.spill ? await deps.spill.get(key) : null;
			if (!deps.spill) letter.reason = "a spilled body, but no TELEMETRY_SPILL binding";
			if (object) {
				const text = await object.text();
				letter = { message, body: text, ...deadLetterReason(text) };
				inlined = true;
			}
		} catch (error) {
			deps.log({ level: "error", msg: "spilled dead letter not read", ...errorFields(error) });
			message.retry({ delaySeconds: retryDelaySeconds(message.attempts, deps.retryBaseSeconds) });
			continue;
		}
		if ((await park(batch.queue, [letter], now, deps)) && inlined) await deleteSpilled(deps, [key]);
	}
}

interface DeadLetterRow {
	message: QueueMessage;
	body: string;
	reason: string;
	id: string | null;
	org: string | null;
}

/** The pointer a body is, if it is one (a valid message with `spill`). */
function spillPointer(body: string): TelemetryMessage | null {
	try {
		const message = parseMessage(body);
		return message.spill ? message : null;
	} catch {
		return null;
	}
}

/** Parks letters in one INSERT and acknowledges them; retried (false) when the database refuses. */
async function park(
	queue: string,
	letters: DeadLetterRow[],
	now: number,
	deps: Pick<ConsumerDeps, "client" | "log" | "retryBaseSeconds">,
): Promise<boolean> {
	if (letters.length === 0) return true;
	const args: InValue[] = [];
	for (const { message, body, reason, id, org } of letters)
		args.push(id ?? `queue:${message.id}`, org, queue, body, message.attempts, reason, now);
	try {
		await deps.client.execute({
			sql: `INSERT OR IGNORE INTO queue_dead_letters (message_id, org_id, queue, body, attempts, reason, parked_at) VALUES ${letters.map(() => "(?,?,?,?,?,?,?)").join(",")}`,
			args,
		});
	} catch (error) {
		deps.log({
			level: "error",
			msg: "dead letters not parked",
			messages: letters.length,
			...errorFields(error),
		});
		for (const { message } of letters)
			message.retry({ delaySeconds: retryDelaySeconds(message.attempts, deps.retryBaseSeconds) });
		return false;
	}
	deps.log({ level: "warn", msg: "queue messages dead-lettered", messages: letters.length });
	for (const { message } of letters) message.ack();
	return true;
}

/** Receipts past QUEUE_RECEIPT_TTL_MS (the sweep). */
export async function pruneQueueReceipts(client: Client, nowMs: number): Promise<number> {
	const result = await client.execute({
		sql: "DELETE FROM queue_receipts WHERE stored_at < ?",
		args: [nowMs - QUEUE_RECEIPT_TTL_MS],
	});
	return result.rowsAffected;
}

export interface DeadLetter {
	messageId: string;
	orgId: string | null;
	queue: string;
	attempts: number;
	reason: string;
	parkedAt: number;
	bytes: number;
}

/** Parked dead letters, oldest first. */
export async function listDeadLetters(client: Client): Promise<DeadLetter[]> {
	const result = await client.execute(
		"SELECT message_id, org_id, queue, attempts, reason, parked_at, length(CAST(body AS BLOB)) AS bytes FROM queue_dead_letters ORDER BY parked_at, message_id",
	);
	return result.rows.map((row) => ({
		messageId: String(row.message_id),
		orgId: row.org_id === null ? null : String(row.org_id),
		queue: String(row.queue),
		attempts: Number(row.attempts),
		reason: String(row.reason),
		parkedAt: Number(row.parked_at),
		bytes: Number(row.bytes),
	}));
}

/** Dead letters read at a time by `replayDeadLetters` (bodies up to 128 KB each). */
const REPLAY_PAGE = 100;

/**
 * The parked letters to replay, a page at a time: those named (in chunks, under SQLite's limit on
 * bound values), or all of them in order, by key (one that fails stays parked and is not read again).
 */
async function* deadLetterPages(client: Client, ids?: string[]): AsyncGenerator<Row[]> {
	if (ids && ids.length > 0) {
		for (let i = 0; i < ids.length; i += REPLAY_PAGE) {
			const chunk = ids.slice(i, i + REPLAY_PAGE);
			const result = await client.execute({
				sql: `SELECT message_id, body FROM queue_dead_letters WHERE message_id IN (${chunk.map(() => "?").join(",")}) ORDER BY parked_at, message_id`,
				args: chunk,
			});
			yield result.rows;
		}
		return;
	}
	let after: InValue[] | null = null;
	for (;;) {
		const result = await client.execute({
			sql: `SELECT message_id, body, parked_at FROM queue_dead_letters ${after ? "WHERE (parked_at, message_id) > (?, ?) " : ""}ORDER BY parked_at, message_id LIMIT ?`,
			args: [...(after ?? []), REPLAY_PAGE],
		});
		if (result.rows.length > 0) yield result.rows;
		if (result.rows.length < REPLAY_PAGE) return;
		const last = result.rows[result.rows.length - 1] as Row;
		after = [last.parked_at as InValue, last.message_id as InValue];
	}
}

/**
 * Replays parked dead letters (all, or those named) straight into the store, each in its own
 * transaction with its receipt, as the consumer would; a stored one (or one stored before: its
 * receipt exists) is removed from the parking table, a failing one stays with the error returned.
 * Read a page at a time: `--all` over a large backlog held every body at once.
 */
export async function replayDeadLetters(
	client: Client,
	memory: DiscoveryMemory,
	nowMs: number,
	ids?: string[],
	/** With TELEMETRY_URL: the ClickHouse store (src/telemetry/store.ts); else `client` stores. */
	store?: Pick<TelemetryStore, "storeMessages">,
): Promise<
	{ messageId: string; outcome: "stored" | "duplicate" | "failed" | "not_found"; error?: string }[]
> {
	const outcomes: {
		messageId: string;
		outcome: "stored" | "duplicate" | "failed" | "not_found";
		error?: string;
	}[] = [];
	const found = new Set<string>();
	for await (const rows of deadLetterPages(client, ids))
		for (const row of rows) {
			const messageId = String(row.message_id);
			found.add(messageId);
			try {
				const message = parseMessage(String(row.body));
				const { stored } = store
					? await store.storeMessages([message], memory, nowMs)
					: await storeMessages(client, memory, [message], nowMs);
				await client.execute({
					sql: "DELETE FROM queue_dead_letters WHERE message_id = ?",
					args: [messageId],
				});
				outcomes.push({ messageId, outcome: stored.length > 0 ? "stored" : "duplicate" });
			} catch (error) {
				outcomes.push({ messageId, outcome: "failed", error: (error as Error).message });
			}
		}
	for (const id of ids ?? []) if (!found.has(id)) outcomes.push({ messageId: id, outcome: "not_found" });
	return outcomes;
}
