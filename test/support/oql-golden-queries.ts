/**
 * The OQL golden data set and queries, shared by test/node/oql-api.test.ts and
 * test/workers/oql.test.ts: the same generated rows (bench/oql-data.ts) answer the same queries with
 * the same results on both runtimes. The expected answers are in oql-golden.ts.
 */
import type { OqlDatasetSpec } from "../../bench/oql-data.js";

/** The data set's window: 2026-11-01, 00:00 to 06:00 UTC. */
export const GOLDEN_START = Date.UTC(2026, 10, 1, 0, 0, 0);
export const GOLDEN_END = Date.UTC(2026, 10, 1, 6, 0, 0);
const W = "SINCE '2026-11-01T00:00:00Z' UNTIL '2026-11-01T06:00:00Z'";
export const LAST_HOUR = "SINCE '2026-11-01T05:00:00Z' UNTIL '2026-11-01T06:00:00Z'";

/** Org A's rows (the one the golden queries read) and org B's (which they must never see). */
export function goldenSpecA(orgId: string): OqlDatasetSpec {
	return {
		orgId,
		startMs: GOLDEN_START,
		endMs: GOLDEN_END,
		seed: 1,
		logs: 3_000,
		spans: 2_000,
		metrics: 200,
		pings: 120,
		annotations: 12,
	};
}

export function goldenSpecB(orgId: string): OqlDatasetSpec {
	return {
		orgId,
		startMs: GOLDEN_START,
		endMs: GOLDEN_END,
		seed: 2,
		logs: 1_000,
		spans: 800,
		metrics: 50,
		pings: 30,
		annotations: 4,
	};
}

/** name → query. Names key the expected answers in oql-golden.ts. */
export const GOLDEN_QUERIES: Record<string, string> = {
	"count all logs": `SELECT count(*) FROM logs ${W}`,
	"count by level": `SELECT level, count(*) FROM logs GROUP BY level ORDER BY level ${W}`,
	"errors in the last hour of data": `SELECT count(*) FROM logs WHERE level = 'error' ${LAST_HOUR}`,
	"errors per minute by service": `SELECT service, count(*) AS errors, rate(count(*), 1m) AS per_minute FROM spans WHERE status = 'error' GROUP BY service ${W}`,
	"p95 by route, hourly": `SELECT p95(duration_ms) FROM spans WHERE kind = 'server' GROUP BY attributes['http.route'] LIMIT 3 TIMESERIES 2h ${W}`,
	"top hosts": `SELECT host, count(*) AS n FROM logs GROUP BY host ORDER BY n DESC LIMIT 5 ${W}`,
	"attribute filter": `SELECT count(*) FROM spans WHERE attributes['http.status_code'] >= 500 AND attributes['http.method'] = 'POST' ${W}`,
	"LIKE search, first rows": `SELECT timestamp, service, body FROM logs WHERE body LIKE '%TIMEOUT after%' ORDER BY timestamp LIMIT 3 ${W}`,
	"distinct users": `SELECT count_distinct(attributes['user.id']) AS users, count(attributes['user.id']) AS with_user FROM logs ${W}`,
	"percentiles of one route": `SELECT p50(duration_ms), p90(duration_ms), p99(duration_ms), percentile(duration_ms, 99.9) AS p999 FROM spans WHERE name = 'GET /api/search' ${W}`,
	"latest fatal per service": `SELECT service, latest(body) AS last_body, max(timestamp) AS at FROM logs WHERE level = 'fatal' GROUP BY service ORDER BY service LIMIT 4 ${W}`,
	"sparse timeseries, zero-filled": `SELECT count(*), avg(duration_ms) AS avg_ms, count(*) * 2 AS twice FROM spans WHERE service IN ('billing', 'worker') AND status = 'error' TIMESERIES 30m ${W}`,
	"top series by row count": `SELECT count(*) FROM logs WHERE level IN ('warn', 'error') GROUP BY service LIMIT 2 TIMESERIES 3h ${W}`,
	"rows with booleans and attributes": `SELECT timestamp, name, duration_ms > 1000 AS slow, attributes['http.status_code'] AS code FROM spans WHERE kind = 'server' ORDER BY duration_ms DESC LIMIT 3 ${W}`,
	"star with JSON maps": `SELECT * FROM spans WHERE status = 'error' ORDER BY duration_ms DESC LIMIT 1 ${W}`,
	"metrics by name": `SELECT name, count(*), avg(value), sum(value), max(value) FROM metrics GROUP BY name ORDER BY name ${W}`,
	"heartbeats by monitor": `SELECT monitor, count(*) AS pings, max(exit_code) AS worst, avg(duration_ms) AS avg_ms FROM heartbeats GROUP BY monitor ORDER BY monitor ${W}`,
	"annotations by environment": `SELECT environment, count(*) FROM annotations WHERE tags CONTAINS '"deploy"' GROUP BY environment ORDER BY environment ${W}`,
	"regular expression": `SELECT count(*) FROM logs WHERE body MATCHES '^timeout after [0-9]{3}ms' ${W}`,
	"null severities": `SELECT level, severity_text, count(*) FROM logs WHERE severity IS NULL AND level NOT IN ('info') GROUP BY level, severity_text ${W}`,
	"arithmetic over aggregates": `SELECT sum(duration_ms) / count(*) AS mean, avg(duration_ms) AS avg FROM spans WHERE service = 'api' AND NOT (status = 'ok' OR duration_ms < 10) ${W}`,
	"resource attribute groups": `SELECT resource['k8s.pod.name'] AS pod, count(*) FROM logs WHERE service = 'billing' GROUP BY pod ORDER BY pod ${W}`,
	"empty result": `SELECT count(*), avg(duration_ms) FROM spans WHERE service = 'nope' ${W}`,
	"empty rows": `SELECT timestamp, body FROM logs WHERE body CONTAINS 'no such text' ${W}`,
};
