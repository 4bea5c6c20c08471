import type { InValue } from "@libsql/client";
import type { AppDeps } from "../app-env.js";
import { oqlClickHouseSettings, runOqlOnClickHouse } from "../clickhouse/oql.js";
import {
	type AttributeMaps,
	clickHouseColumns,
	clickHouseRowOf,
	insertColumns,
	type TelemetryTable,
} from "../clickhouse/rows.js";
import { DEFAULT_OQL_SETTINGS } from "../config.js";
import type { Database } from "../db/client.js";
import { StorageUnreachable } from "../db/errors.js";
import { queryTimeout } from "../db/reads.js";
import { ApiError } from "../errors.js";
import type { IngestBatch, TableRows } from "../ingest/batch.js";
import type { DiscoveryMemory } from "../ingest/discovery.js";
import { QUEUE_TABLES, type TelemetryMessage, unreceivedMessages } from "../ingest/queue.js";
import { orgRetentions, sweepDiscoveryRetention } from "../ingest/retention.js";
import { libsqlClientOf, writeStatements } from "../ingest/writer.js";
import type { ClickHouseSettings } from "./config.js";
import type { TelemetryClickHouseClient, TelemetryStore } from "./store.js";

/**
 * Telemetry in ClickHouse (TELEMETRY_URL; docs/scale-out.md): rows go to the MergeTree tables of
 * clickhouse/migrations through the official client — one JSONCompactEachRow INSERT per table and export
 * (on Node, the exports that arrive while one runs go together in the next: InsertCoalescer), or
 * per table and queue batch, acknowledged once ClickHouse has accepted it; OQL runs there
 * (src/clickhouse/oql.ts, rollups or raw rows); retention is the tables' TTL plus the sweep's deletes.
 * Schema discovery, orgs and queue receipts stay in libSQL (`db`).
 */

const DAY_MS = 86_400_000;
/**
 * The queue consumer's inserts deduplicate by message id themselves (heldMessages). ClickHouse's
 * own block deduplication — on by default for Replicated tables and on ClickHouse Cloud — would
 * silently drop the re-insert of a message repaired after a partial insert (the same rows in the
 * same block as the first attempt): it is turned off for these inserts.
 */
const QUEUE_INSERT_SETTINGS = { insert_deduplicate: 0 };
const TABLES: readonly TelemetryTable[] = ["spans", "logs", "metric_points"];
/**
 * Each table's INSERT columns, as clickHouseRowOf fills them from the stored columns (the ingest
 * batches' and the queue messages' QUEUE_TABLES); the queue's rows add their message id.
 */
const INSERT_COLUMNS = Object.fromEntries(
	TABLES.map((t) => [t, insertColumns(clickHouseColumns(t, QUEUE_TABLES[t]))]),
) as Record<TelemetryTable, [string, ...string[]]>;
const QUEUE_INSERT_COLUMNS = Object.fromEntries(
	TABLES.map((t) => [t, insertColumns([...INSERT_COLUMNS[t], "queue_message_id"])]),
) as Record<TelemetryTable, [string, ...string[]]>;
/** The rollups (clickhouse/migrations/0004_rollups.sql) with their bucket width, as libSQL's sweep. */
const ROLLUP_TABLES = (["span_rollups", "span_latency", "log_rollups", "metric_rollups"] as const).flatMap(
	(t) => [
		{ table: `${t}_1m`, widthMs: 60_000 },
		{ table: `${t}_1h`, widthMs: 3_600_000 },
	],
);

/** Rows of one table of an export as ClickHouse takes them (from its INSERT statements' values). */
function clickHouseRows(table: TableRows, name: TelemetryTable, retentionDays: number): unknown[][] {
	const rows: unknown[][] = [];
	const columns = QUEUE_TABLES[name];
	if (table.columns !== columns) throw new Error(`${name}: the batch's columns are not the queue's`);
	const maps: AttributeMaps = new Map();
	for (const statement of table.statements()) {
		const args = (statement as { args: InValue[] }).args;
		for (let offset = 0; offset < args.length; offset += columns.length)
			rows.push(clickHouseRowOf(name, columns, args, offset, retentionDays, maps));
	}
	return rows;
}

/** Rows one coalesced INSERT carries at most (more wait for the next). */
export const COALESCED_INSERT_MAX_ROWS = 100_000;

/** One table's coalescing: whether an INSERT runs, and the exports waiting for the next. */
interface CoalescedTable<Row> {
	running: boolean;
	waiting: { rows: Row[]; done: (error: unknown) => void }[];
}

/**
 * Direct writes' INSERTs, coalesced per table (docs/scale-out.md, "Writes"): ClickHouse makes a part
 * of every INSERT and wants few, large ones, while agents send many small exports at once. While an
 * INSERT into a table runs, the rows of the exports that arrive wait, and go together in the next
 * one (at most `maxRows`, whole exports): one INSERT per table at a time, an export alone on an idle
 * table at once. Each export settles with the INSERT that carried its rows. When ClickHouse refuses an
 * INSERT of several exports (it answered with an error about the INSERT), each export is sent again
 * alone, so one it cannot take — another org's, say — fails by itself; any other failure
 * (unreachable, a timeout, ClickHouse overloaded: too many parts, out of memory) fails every export
 * in it. A failed export answers 503 and its agent retries; none was acknowledged.
 */
export class InsertCoalescer<Row = unknown[]> {
	readonly #tables = new Map<TelemetryTable, CoalescedTable<Row>>();

	constructor(
		readonly insert: (table: TelemetryTable, rows: Row[]) => Promise<void>,
		readonly maxRows = COALESCED_INSERT_MAX_ROWS,
	) {}

	write(table: TelemetryTable, rows: Row[]): Promise<void> {
		if (rows.length === 0) return Promise.resolve();
		let state = this.#tables.get(table);
		if (!state) {
			state = { running: false, waiting: [] };
			this.#tables.set(table, state);
		}
		const waiting = state.waiting;
		const settled = new Promise<void>((resolve, reject) => {
			waiting.push({
				rows,
				done: (error) => (error === undefined ? resolve() : reject(error)),
			});
		});
		if (!state.running) void this.#drain(table, state);
		return settled;
	}

	async #drain(table: TelemetryTable, state: CoalescedTable<Row>): Promise<void> {
		state.running = true;
		try {
			while (state.waiting.length > 0) {
				const group: CoalescedTable<Row>["waiting"] = [];
				let count = 0;
				for (const next of state.waiting) {
					if (group.length > 0 && count + next.rows.length > this.maxRows) break;
					group.push(next);
					count += next.rows.length;
				}
				state.waiting.splice(0, group.length);
				const rows = group.length === 1 ? (group[0]?.rows ?? []) : group.flatMap((w) => w.rows);
				let failure: unknown;
				try {
					await this.insert(table, rows);
				} catch (error) {
					failure = error ?? new Error("the INSERT failed");
				}
				if (failure !== undefined && group.length > 1 && refusedByClickHouse(failure)) {
					for (const waiter of group) {
						try {
							await this.insert(table, waiter.rows);
							waiter.done(undefined);
						} catch (error) {
							waiter.done(error ?? new Error("the INSERT failed"));
						}
					}
					continue;
				}
				for (const waiter of group) waiter.done(failure);
			}
		} finally {
			state.running = false;
		}
	}
}

/**
 * ClickHouse's refusals that say it is overloaded or out of time, not that it cannot take these
 * rows: sending each export again alone would only add INSERTs (and parts) at a bad moment.
 */
const OVERLOADED = new Set([
	"TOO_MANY_PARTS",
	"MEMORY_LIMIT_EXCEEDED",
	"TOO_MANY_SIMULTANEOUS_QUERIES",
	"TIMEOUT_EXCEEDED",
	"QUERY_WAS_CANCELLED",
	"ABORTED",
	"NETWORK_ERROR",
	"SOCKET_TIMEOUT",
	"READONLY",
	"TABLE_IS_READ_ONLY",
]);

/**
 * ClickHouse answered an INSERT with an exception about the INSERT itself (the clients'
 * ClickHouseError has its type) — not a network failure, and not one of the OVERLOADED refusals.
 */
function refusedByClickHouse(error: unknown): boolean {
	const type = error instanceof Error ? (error as { type?: unknown }).type : undefined;
	return typeof type === "string" && !OVERLOADED.has(type);
}

/** A ClickHouse failure that is not the query's fault: the store is unavailable (503 with Retry-After). */
function unavailable(error: unknown): unknown {
	if (error instanceof ApiError || error instanceof StorageUnreachable) return error;
	return new StorageUnreachable(`ClickHouse: ${error instanceof Error ? error.message : String(error)}`, {
		cause: error,
	});
}

/**
 * Which of a queue batch's messages ClickHouse already holds, whole (clickhouse/migrations/
 * 0003_queue_message_ids.sql; docs/scale-out.md "Delivery guarantees"). One statement for the
 * batch: per table, the rows of the batch's message ids counted within the orgs and time range of
 * the batch's rows (the sort key, then the ids' bloom filter). A message with exactly its number of
 * rows there was inserted before: it is not inserted again. One with some but not all (an INSERT
 * spanning several daily partitions writes one part per partition, and a failure can leave some) or
 * more (two consumers at once) has its rows deleted, and is inserted whole with the others.
 */
export async function heldMessages(
	client: TelemetryClickHouseClient,
	messages: readonly TelemetryMessage[],
): Promise<Set<string>> {
	const held = new Set<string>();
	const byTable = new Map<TelemetryTable, TelemetryMessage[]>();
	for (const message of messages) {
		if (!message.table || message.rows.length === 0) continue;
		const list = byTable.get(message.table) ?? [];
		list.push(message);
		byTable.set(message.table, list);
	}
	if (byTable.size === 0) return held;
	const selects: string[] = [];
	const query_params: Record<string, unknown> = {};
	for (const [table, list] of byTable) {
		const at = QUEUE_TABLES[table].indexOf("timestamp" as never);
		let lo: bigint | null = null;
		let hi: bigint | null = null;
		for (const message of list) {
			for (const row of message.rows) {
				const t = BigInt(row[at] as bigint | number);
				if (lo === null || t < lo) lo = t;
				if (hi === null || t > hi) hi = t;
			}
		}
		query_params[`${table}_orgs`] = [...new Set(list.map((m) => m.org))];
		query_params[`${table}_ids`] = list.map((m) => m.id);
		query_params[`${table}_lo`] = String(lo);
		query_params[`${table}_hi`] = String(hi);
		const scope = `org_id IN {${table}_orgs:Array(String)} AND queue_message_id IN {${table}_ids:Array(String)}`;
		selects.push(
			`SELECT '${table}' AS t, queue_message_id AS id, count() AS n FROM ${table} WHERE ${scope} AND timestamp >= {${table}_lo:Int64} AND timestamp <= {${table}_hi:Int64} GROUP BY queue_message_id`,
		);
	}
	const result = await client.query({
		query: selects.join(" UNION ALL "),
		format: "JSONEachRow",
		query_params,
	});
	const counts = new Map<string, number>();
	for (const row of await result.json<{ t: string; id: string; n: number | string }>())
		counts.set(`${row.t}\u0000${row.id}`, Number(row.n));
	for (const [table, list] of byTable) {
		const partial: string[] = [];
		for (const message of list) {
			const n = counts.get(`${table}\u0000${message.id}`) ?? 0;
			if (n === message.rows.length) held.add(message.id);
			else if (n > 0) partial.push(message.id);
		}
		if (partial.length === 0) continue;
		await client.command({
			query: `DELETE FROM ${table} WHERE org_id IN {orgs:Array(String)} AND queue_message_id IN {ids:Array(String)}`,
			query_params: { orgs: [...new Set(list.map((m) => m.org))], ids: partial },
		});
	}
	return held;
}

export function clickHouseTelemetryStore(parts: {
	/** The app's libSQL database: orgs (retention), schema discovery, queue receipts. */
	db: Database;
	client: TelemetryClickHouseClient;
	settings: ClickHouseSettings;
	/**
	 * Coalesce concurrent exports' INSERTs (InsertCoalescer): the Node runtime. Not on Workers, where
	 * one request must not wait on another's I/O (a cancelled request would take the others' rows
	 * with it); there the queue batches.
	 */
	coalesceInserts?: boolean;
}): TelemetryStore {
	const { db, client } = parts;
	const libsql = () => libsqlClientOf(db);
	/** Org → retention days (a queue batch's orgs). */
	async function retentionOf(orgIds: string[]): Promise<Map<string, number>> {
		const ids = [...new Set(orgIds)];
		const result = await libsql().execute({
			sql: `SELECT id, retention_days FROM orgs WHERE id IN (${ids.map(() => "?").join(",")})`,
			args: ids,
		});
		return new Map(result.rows.map((row) => [String(row.id), Number(row.retention_days)]));
	}
	async function insert(
		table: TelemetryTable,
		values: unknown[][],
		columns: [string, ...string[]],
		clickhouse_settings?: Record<string, string | number>,
	): Promise<void> {
		if (values.length === 0) return;
		await client.insert({
			table,
			values,
			columns,
			format: "JSONCompactEachRow",
			...(clickhouse_settings && { clickhouse_settings }),
		});
	}
	const direct = (table: TelemetryTable, rows: unknown[][]) => insert(table, rows, INSERT_COLUMNS[table]);
	const coalescer = parts.coalesceInserts ? new InsertCoalescer(direct) : null;

	return {
		kind: "clickhouse",
		rollups: false,
		clickhouse: { client, settings: parts.settings },

		async writeExport(batch: IngestBatch, discovery: DiscoveryMemory, _sourceBytes: number) {
			const tables = { spans: batch.spans, logs: batch.logs, metric_points: batch.metricPoints };
			// The org's retention, as ingest read it: the window's lower bound is that many days back.
			const days = Number((batch.window.nowNs - batch.window.minNs) / 86_400_000_000_000n);
			const rows = Object.fromEntries(TABLES.map((t) => [t, clickHouseRows(tables[t], t, days)])) as Record<
				TelemetryTable,
				unknown[][]
			>;
			if (TABLES.every((t) => rows[t].length === 0)) return;
			// Discovery first (libSQL, an idempotent upsert): if ClickHouse then fails, the agent's
			// retry stores the rows once; the other order could store them twice.
			const plan = discovery.plan(batch.discovery);
			await writeStatements(libsql(), plan.statements, 0);
			try {
				for (const table of TABLES)
					await (coalescer ? coalescer.write(table, rows[table]) : direct(table, rows[table]));
			} catch (error) {
				throw unavailable(error);
			}
			plan.commit();
		},

		async storeMessages(messages: TelemetryMessage[], memory: DiscoveryMemory, nowMs: number) {
			if (messages.length === 0) return { stored: [], duplicates: [] };
			const { unique, duplicates } = await unreceivedMessages(libsql(), messages);
			if (unique.length === 0) return { stored: [], duplicates: [...duplicates] };
			// Messages whose rows ClickHouse already holds (inserted before, their receipts not
			// written) are not inserted again; partly held ones are cleared first (heldMessages).
			let held: Set<string>;
			try {
				held = await heldMessages(client, unique);
			} catch (error) {
				throw unavailable(error);
			}
			const insertNow = unique.filter((m) => !held.has(m.id));
			const days =
				insertNow.length > 0 ? await retentionOf(insertNow.map((m) => m.org)) : new Map<string, number>();
			const values: Record<TelemetryTable, unknown[][]> = {
				spans: [],
				logs: [],
				metric_points: [],
			};
			const maps: AttributeMaps = new Map();
			for (const message of insertNow) {
				if (!message.table) continue;
				const columns = QUEUE_TABLES[message.table];
				const retention = days.get(message.org) ?? 30;
				for (const row of message.rows) {
					const out = clickHouseRowOf(message.table, columns, row, 0, retention, maps);
					out.push(message.id);
					values[message.table].push(out);
				}
			}
			// One INSERT per table for the whole batch; then discovery and receipts in one libSQL
			// transaction. A failure between the two leaves the rows stored without receipts: the
			// redelivered messages are then found by their rows' queue_message_id (heldMessages).
			try {
				for (const table of TABLES)
					await insert(table, values[table], QUEUE_INSERT_COLUMNS[table], QUEUE_INSERT_SETTINGS);
			} catch (error) {
				throw unavailable(error);
			}
			const statements: { sql: string; args: InValue[] }[] = [];
			const commits: (() => void)[] = [];
			for (const message of unique) {
				if (!message.discovery) continue;
				const plan = memory.plan(message.discovery);
				statements.push(...plan.statements);
				commits.push(plan.commit);
			}
			statements.push({
				sql: `INSERT OR IGNORE INTO queue_receipts (message_id, stored_at) VALUES ${unique.map(() => "(?,?)").join(",")}`,
				args: unique.flatMap((m) => [m.id, nowMs]),
			});
			await writeStatements(libsql(), statements, 0);
			for (const commit of commits) commit();
			return {
				stored: insertNow.map((m) => m.id),
				duplicates: [...duplicates, ...unique.filter((m) => held.has(m.id)).map((m) => m.id)],
			};
		},

		async runOql(deps, orgId, query, options) {
			return deps.reads.slot(orgId, async () => {
				try {
					return await runOqlOnClickHouse(deps, client, orgId, query, options);
				} catch (error) {
					throw unavailable(error);
				}
			});
		},

		/**
		 * Rows expire by the tables' TTL (the org's retention written with each row) as ClickHouse
		 * merges parts. The sweep makes that exact and follows a shortened retention: per org and
		 * table, a count of the rows before the cutoff (a range of the sort key), and if any, a
		 * lightweight DELETE of them; then the rollup buckets that end before the cutoff (libSQL's
		 * rule; not counted). Returns the raw rows deleted.
		 */
		async sweepRetention(nowMs: number) {
			let deleted = 0;
			try {
				for (const org of await orgRetentions(db)) {
					const cutoffNs = (BigInt(nowMs - org.retentionDays * DAY_MS) * 1_000_000n).toString();
					const query_params = { org: org.id, cutoff: cutoffNs };
					const where = "org_id = {org:String} AND timestamp < {cutoff:Int64}";
					for (const table of TABLES) {
						const result = await client.query({
							query: `SELECT count() AS n FROM ${table} WHERE ${where}`,
							format: "JSONEachRow",
							query_params,
						});
						const n = Number((await result.json<{ n: number | string }>())[0]?.n ?? 0);
						if (n === 0) continue;
						await client.command({ query: `DELETE FROM ${table} WHERE ${where}`, query_params });
						deleted += n;
					}
					for (const { table, widthMs } of ROLLUP_TABLES) {
						const params = { org: org.id, last: nowMs - org.retentionDays * DAY_MS - widthMs };
						const due = "org_id = {org:String} AND bucket <= {last:Int64}";
						const result = await client.query({
							query: `SELECT count() AS n FROM ${table} WHERE ${due}`,
							format: "JSONEachRow",
							query_params: params,
						});
						if (Number((await result.json<{ n: number | string }>())[0]?.n ?? 0) === 0) continue;
						await client.command({ query: `DELETE FROM ${table} WHERE ${due}`, query_params: params });
					}
				}
			} catch (error) {
				throw unavailable(error);
			}
			await sweepDiscoveryRetention(db, nowMs);
			return deleted;
		},

		close: () => client.close(),
	};
}

/** A heavy read's work: the client, and the settings and abort signal to pass to each query. */
export type ClickHouseRead<T> = (
	client: TelemetryClickHouseClient,
	options: { clickhouse_settings: Record<string, string | number>; abort_signal: AbortSignal },
) => Promise<T>;

/**
 * One heavy read of an org's on ClickHouse beyond OQL (the pages, src/pages/**, when telemetry is
 * there): under the heavy-read limits (429 `rate_limited`), with the OQL deadline as the engine's
 * `max_execution_time` and an abort of the request (503 `query_timeout`), and any other failure
 * of ClickHouse as a storage failure (503 `storage_unavailable`). `run` gets the client and the
 * `clickhouse_settings` and `abort_signal` to pass to each of its queries; it must scope every
 * statement to `orgId` itself. Throws when telemetry is not in ClickHouse.
 */
export async function readClickHouse<T>(
	deps: Pick<AppDeps, "reads" | "config" | "telemetry">,
	orgId: string,
	run: ClickHouseRead<T>,
): Promise<T> {
	const clickhouse = deps.telemetry.clickhouse;
	if (!clickhouse) throw new Error("telemetry is not in ClickHouse (TELEMETRY_URL is not set)");
	return readClickHouseWith(clickhouse.client, deps, orgId, run);
}

/** `readClickHouse` over a given client (the pages' backend holds its own). */
export async function readClickHouseWith<T>(
	client: TelemetryClickHouseClient,
	deps: Pick<AppDeps, "reads" | "config">,
	orgId: string,
	run: ClickHouseRead<T>,
): Promise<T> {
	const timeoutMs = (deps.config.oql ?? DEFAULT_OQL_SETTINGS).timeoutMs;
	return deps.reads.slot(orgId, async () => {
		const deadline = AbortSignal.timeout(timeoutMs);
		try {
			return await run(client, {
				clickhouse_settings: oqlClickHouseSettings(timeoutMs),
				abort_signal: deadline,
			});
		} catch (error) {
			if (deadline.aborted || (error as { type?: unknown }).type === "TIMEOUT_EXCEEDED")
				throw queryTimeout(timeoutMs);
			throw unavailable(error);
		}
	});
}
