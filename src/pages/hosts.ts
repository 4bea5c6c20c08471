import type { InStatement } from "@libsql/client";
import type { PageResult, PageSql } from "./backend.js";
import { type LogJson, logColumns, logJson } from "./logs.js";
import { type RollupDimension, type RollupSource, rollupRows } from "./rollups.js";
import {
	ERROR_RULES,
	type Filter,
	filterSql,
	type Histogram,
	nsTime,
	type PageReader,
	prepareHistogram,
	ratio,
	readBatch,
	Statement,
	scope,
	table,
	text,
} from "./store.js";
import type { PageWindow } from "./window.js";

/** Counts of one source on a host (or one service on a host) over the window. */
export interface SourceCounts {
	count: number;
	errors: number;
	error_rate: number | null;
}

export interface HostJson {
	host: string;
	/** The newest log, span or metric point of the host in the window. */
	last_seen: string;
	last_seen_unix_nano: string;
	services: string[];
	logs: SourceCounts;
	spans: SourceCounts;
	metric_points: { count: number };
	/** (error logs + error spans) / (logs + spans); null without either. */
	error_rate: number | null;
}

export interface HostServiceJson {
	service: string | null;
	logs: SourceCounts;
	spans: SourceCounts;
	metric_points: { count: number };
	last_seen: string;
	last_seen_unix_nano: string;
}

export interface HostDetailJson extends HostJson {
	by_service: HostServiceJson[];
	histogram: { logs: Histogram; spans: Histogram };
	/** The newest error logs of the host in the window (at most 20). */
	recent_errors: LogJson[];
}

const SOURCES: {
	source: RollupSource;
	error: (statement: Statement) => string;
	/** What the per-host statement reads of the source's rows. */
	keys: readonly RollupDimension[];
}[] = [
	{
		source: "logs",
		error: (st) => `level IN ${st.list(ERROR_RULES.logs.values)}`,
		keys: ["host", "service", "level"],
	},
	{
		source: "spans",
		error: (st) => `status_code IN ${st.list(ERROR_RULES.spans.values)}`,
		keys: ["host", "service", "status_code"],
	},
	{ source: "metrics", error: () => "0", keys: ["host", "service"] },
];

/**
 * Hosts after `after` (by name) with a log, span or metric point in the window, from the rollups
 * (src/pages/rollups.ts: whole hours and minutes, raw rows at the edges), so the cost grows with the
 * number of hosts and buckets, not of rows.
 */
function hostNamesStatement(
	sql: PageSql,
	orgId: string,
	window: PageWindow,
	after: string,
	limit: number,
): InStatement {
	const statement = new Statement(sql);
	const after$ = statement.param(after);
	const parts = SOURCES.map(
		({ source }) =>
			`SELECT host FROM ${rollupRows(statement, source, orgId, window, () => `host > ${after$}`, ["host"])}`,
	);
	return statement.done(
		`SELECT host FROM (${parts.join(" UNION ")}) ORDER BY host LIMIT ${statement.param(BigInt(limit + 1))}`,
	);
}

/** Per (source, host, service): rows, errors and the newest time in the window, for the given hosts. */
function statsStatement(sql: PageSql, orgId: string, window: PageWindow, hosts: string[]): InStatement {
	const statement = new Statement(sql);
	const parts = SOURCES.map(({ source, error, keys }) => {
		const inHosts = `host IN ${statement.list(hosts)}`;
		const rows = rollupRows(statement, source, orgId, window, () => inHosts, keys);
		return (
			`SELECT ${statement.param(source)} AS source, host, service, sum(n) AS n,` +
			` sum(CASE WHEN ${error(statement)} THEN n ELSE 0 END) AS errors, ${sql.text("max(last)")} AS last` +
			` FROM ${rows} GROUP BY host, service`
		);
	});
	return statement.done(parts.join(" UNION ALL "));
}

interface Tally {
	logs: { count: number; errors: number };
	spans: { count: number; errors: number };
	metrics: number;
	last: bigint;
}

const emptyTally = (): Tally => ({
	logs: { count: 0, errors: 0 },
	spans: { count: 0, errors: 0 },
	metrics: 0,
	last: -1n,
});

function add(tally: Tally, source: string, n: number, errors: number, last: bigint): void {
	if (source === "logs" || source === "spans") {
		tally[source].count += n;
		tally[source].errors += errors;
	} else tally.metrics += n;
	if (last > tally.last) tally.last = last;
}

const counts = (c: { count: number; errors: number }): SourceCounts => ({
	count: c.count,
	errors: c.errors,
	error_rate: ratio(c.errors, c.count),
});

function lastSeen(last: bigint) {
	const { time, time_unix_nano } = nsTime(last.toString());
	return { last_seen: time, last_seen_unix_nano: time_unix_nano };
}

interface HostTally extends Tally {
	services: Map<string | null, Tally>;
}

function tallyHosts(result: PageResult | undefined): Map<string, HostTally> {
	const hosts = new Map<string, HostTally>();
	for (const row of result?.rows ?? []) {
		const host = String(row.host);
		const service = text(row, "service");
		let hostTally = hosts.get(host);
		if (!hostTally) {
			hostTally = { ...emptyTally(), services: new Map() };
			hosts.set(host, hostTally);
		}
		let serviceTally = hostTally.services.get(service);
		if (!serviceTally) {
			serviceTally = emptyTally();
			hostTally.services.set(service, serviceTally);
		}
		const source = String(row.source);
		const last = BigInt(String(row.last));
		add(hostTally, source, Number(row.n), Number(row.errors), last);
		add(serviceTally, source, Number(row.n), Number(row.errors), last);
	}
	return hosts;
}

function hostJson(host: string, tally: HostTally): HostJson {
	return {
		host,
		...lastSeen(tally.last),
		services: [...tally.services.keys()].filter((s): s is string => s !== null).sort(),
		logs: counts(tally.logs),
		spans: counts(tally.spans),
		metric_points: { count: tally.metrics },
		error_rate: ratio(tally.logs.errors + tally.spans.errors, tally.logs.count + tally.spans.count),
	};
}

/** Hosts by name, keyset on the name: a name does not move while data arrives (last_seen would). */
export async function hostsPage(
	reader: PageReader,
	orgId: string,
	window: PageWindow,
	options: { limit: number; after: string | null },
): Promise<{ rows: HostJson[]; next: string | null }> {
	// "" is below every host name; a host.name of "" counts as no host.
	const [names] = await readBatch(reader, [
		hostNamesStatement(reader.sql, orgId, window, options.after ?? "", options.limit),
	]);
	const all = (names?.rows ?? []).map((row) => String(row.host));
	const page = all.slice(0, options.limit);
	if (page.length === 0) return { rows: [], next: null };
	const [stats] = await readBatch(reader, [statsStatement(reader.sql, orgId, window, page)]);
	const tallies = tallyHosts(stats);
	return {
		rows: page.flatMap((host) => {
			const tally = tallies.get(host);
			return tally ? [hostJson(host, tally)] : [];
		}),
		next: all.length > options.limit ? (page.at(-1) ?? null) : null,
	};
}

export const HOST_RECENT_ERRORS = 20;

/** One host over the window; null when it has no row there (or belongs to another org). */
export async function hostDetail(
	reader: PageReader,
	orgId: string,
	window: PageWindow,
	host: string,
): Promise<HostDetailJson | null> {
	const hostFilter: Filter = { field: "host", op: "=", value: host };
	const byHost = [hostFilter];
	const logsHistogram = prepareHistogram(reader.sql, "logs", byHost, window, orgId);
	const spansHistogram = prepareHistogram(reader.sql, "spans", byHost, window, orgId);
	const recent = new Statement(reader.sql);
	const l = table(reader.sql, "logs", "l");
	const recentSql =
		`SELECT ${logColumns(l)} FROM ${l.from} WHERE ${scope(recent, l, orgId, window)}` +
		` AND ${filterSql(recent, l, hostFilter)} AND ${filterSql(recent, l, ERROR_RULES.logs)}` +
		` ORDER BY ${l.time} DESC, ${l.id} DESC LIMIT ${recent.param(BigInt(HOST_RECENT_ERRORS))}`;
	const [stats, logsCounts, spansCounts, errors] = await readBatch(reader, [
		statsStatement(reader.sql, orgId, window, [host]),
		logsHistogram.statement,
		spansHistogram.statement,
		recent.done(recentSql),
	]);
	const tally = tallyHosts(stats).get(host);
	if (!tally || !logsCounts || !spansCounts) return null;
	return {
		...hostJson(host, tally),
		by_service: [...tally.services.entries()]
			.sort(([a], [b]) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1))
			.map(([service, s]) => ({
				service,
				logs: counts(s.logs),
				spans: counts(s.spans),
				metric_points: { count: s.metrics },
				...lastSeen(s.last),
			})),
		histogram: { logs: logsHistogram.read(logsCounts), spans: spansHistogram.read(spansCounts) },
		recent_errors: (errors?.rows ?? []).map(logJson),
	};
}
