import type { Client, InStatement, ResultSet } from "@libsql/client";
import { ApiError } from "../errors.js";

/**
 * Heavy reads — the built-in pages, OQL (`/api/v1/dsl`, dashboard panels, saved queries) and schema
 * discovery — go through one seam, so the app stays runtime-agnostic:
 *
 * - `ReadExecutor` runs read-only statements as one snapshot, within a deadline. The Node runtime's
 *   executor is a pool of reader processes over the same embedded file (src/db/reader-pool.ts): the
 *   event loop never runs a heavy statement, and a statement past its deadline is stopped by
 *   killing its process. Workers (and tests, and in-memory databases) use `directReadExecutor` over
 *   the libSQL client the app already has.
 * - `HeavyReads` bounds how many heavy reads are in flight per org and in total (429 beyond) and
 *   turns a passed deadline into the contract's 503 `query_timeout`.
 *
 * Writes and light reads (a key lookup, a monitor by slug) stay on the drizzle database.
 */
export interface ReadExecutor {
	/** Runs `statements` in one read transaction; rejects with ReadDeadlinePassed after `timeoutMs`. */
	read(statements: InStatement[], options: { orgId: string; timeoutMs: number }): Promise<ResultSet[]>;
	close(): Promise<void>;
}

/** The deadline of a heavy read passed: the statement was abandoned (remote) or stopped (Node pool). */
export class ReadDeadlinePassed extends Error {
	constructor(readonly timeoutMs: number) {
		super(`read past its deadline of ${timeoutMs} ms`);
		this.name = "ReadDeadlinePassed";
	}
}

/**
 * Statements on the app's own libSQL client. A remote client (Workers → Turso/sqld over HTTP) is
 * raced against a timer: at the deadline the read is abandoned (the server finishes it and the
 * result is dropped). An embedded client runs synchronously on the event loop, so no timer can
 * fire first: the deadline is checked when it returns — the Node runtime therefore uses the reader
 * pool instead, and this path serves only tests and in-memory databases there.
 */
export function directReadExecutor(client: Client): ReadExecutor {
	return {
		async read(statements, { timeoutMs }) {
			const started = performance.now();
			const work = client.batch(statements, "read");
			let timer: ReturnType<typeof setTimeout> | undefined;
			try {
				const deadline = new Promise<never>((_, reject) => {
					timer = setTimeout(() => reject(new ReadDeadlinePassed(timeoutMs)), timeoutMs);
				});
				const results = await Promise.race([work, deadline]);
				if (performance.now() - started > timeoutMs) throw new ReadDeadlinePassed(timeoutMs);
				return results;
			} catch (error) {
				if (error instanceof ReadDeadlinePassed) work.catch(() => {}); // abandoned: its late failure is nobody's
				throw error;
			} finally {
				clearTimeout(timer);
			}
		},
		async close() {},
	};
}

/** HEAVY_READS_PER_ORG, HEAVY_READS_TOTAL (docs/performance.md, "Heavy reads"). */
export interface ReadLimits {
	/** Heavy reads one org may have in flight (running or waiting for a reader); 429 beyond. */
	perOrg: number;
	/** Heavy reads of all orgs together; 429 beyond. */
	total: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { perOrg: 8, total: 32 };

/** Seconds a client should wait after a 429 (too many heavy reads) or a 503 `query_timeout`. */
export const READ_RETRY_AFTER_SECONDS = { rateLimited: 1, timeout: 5 };

/** The one door of heavy reads: limits in flight, then the executor, with the contract's errors. */
export class HeavyReads {
	readonly #inFlight = new Map<string, number>();
	#total = 0;

	constructor(
		readonly executor: ReadExecutor,
		readonly limits: ReadLimits = DEFAULT_READ_LIMITS,
	) {}

	/**
	 * Runs an org's read statements as one snapshot. Throws ApiError 429 `rate_limited` when the org
	 * or the process already has its limit of heavy reads in flight, and 503 `query_timeout` (both
	 * with Retry-After) when the read outlives `timeoutMs`.
	 */
	async read(orgId: string, statements: InStatement[], timeoutMs: number): Promise<ResultSet[]> {
		if (statements.length === 0) return [];
		return this.slot(orgId, async () => {
			try {
				return await this.executor.read(statements, { orgId, timeoutMs });
			} catch (error) {
				if (error instanceof ReadDeadlinePassed) throw queryTimeout(timeoutMs);
				throw error;
			}
		});
	}

	/**
	 * Runs one heavy read of an org's that goes elsewhere than the executor (ClickHouse telemetry,
	 * src/telemetry/clickhouse.ts) under the same limits: 429 `rate_limited` beyond them.
	 */
	async slot<T>(orgId: string, run: () => Promise<T>): Promise<T> {
		const own = this.#inFlight.get(orgId) ?? 0;
		if (own >= this.limits.perOrg || this.#total >= this.limits.total) {
			const whose = own >= this.limits.perOrg ? "this organization" : "the server";
			throw new ApiError(
				429,
				"rate_limited",
				`Too many queries of ${whose} are running; retry in a moment.`,
				{ headers: { "Retry-After": String(READ_RETRY_AFTER_SECONDS.rateLimited) } },
			);
		}
		this.#inFlight.set(orgId, own + 1);
		this.#total++;
		try {
			return await run();
		} finally {
			const left = (this.#inFlight.get(orgId) ?? 1) - 1;
			if (left === 0) this.#inFlight.delete(orgId);
			else this.#inFlight.set(orgId, left);
			this.#total--;
		}
	}
}

/** 503 `query_timeout` with Retry-After: a heavy read outlived its deadline. */
export function queryTimeout(timeoutMs: number): ApiError {
	return new ApiError(
		503,
		"query_timeout",
		`The query did not finish within ${timeoutMs} ms. Narrow the time range, add conditions or group by fewer keys.`,
		{ headers: { "Retry-After": String(READ_RETRY_AFTER_SECONDS.timeout) } },
	);
}
