/**
 * The rollup planner's statements (src/oql/rollup-planner.ts) on both dialects, without an engine:
 * libSQL's are pinned byte for byte (they were written before the planner compiled for ClickHouse,
 * and ClickHouse's differences live in the dialect), and both dialects plan the same queries from
 * the same rollup levels. The answers are compared in test/node/rollups.test.ts (libSQL) and
 * test/clickhouse/oql-rollups.test.ts (ClickHouse).
 */
import { describe, expect, it } from "vitest";
import { clickhouseDialect } from "../../src/oql/clickhouse-dialect.js";
import type { SqlDialect } from "../../src/oql/dialect.js";
import { prepareOql } from "../../src/oql/index.js";
import { sqliteDialect } from "../../src/oql/sqlite-dialect.js";
import { PLAN_NOW, PLAN_QUERIES, planFingerprint } from "../support/oql-rollup-plans.js";

const plan = (query: string, dialect: SqlDialect) =>
	prepareOql(query, { orgId: "org_a", now: PLAN_NOW, dialect, rollups: true });

describe("the rollup planner's SQL", () => {
	it("leaves libSQL's statements byte for byte as they were", () => {
		const plans = PLAN_QUERIES.map((query) => plan(query, sqliteDialect));
		expect(plans.filter((p) => p.source === "rollup_1h").length).toBeGreaterThan(20);
		expect(plans.filter((p) => p.source === "rollup_1m").length).toBeGreaterThan(5);
		// sha256 of every statement's SQL, parameters and source, recorded from the planner before
		// it compiled for ClickHouse.
		expect(planFingerprint(plans)).toBe("3fa40924009002894089f34cbdf8929a642536d9fb556e0a7cf8e629898439b9");
	});

	it("an example in full: errors per service over an unaligned window, with a raw edge", () => {
		const compiled = plan(PLAN_QUERIES[11] as string, sqliteDialect);
		expect(compiled.sql).toBe(
			`SELECT "k0" AS "c0", COALESCE(SUM(n), 0) AS "c1", (CAST((COALESCE(SUM(n), 0) * ?11) AS REAL) / ?12) AS "c2" FROM (SELECT service AS "k0", count(*) AS n, sum(duration_ns) AS dur_sum, min(duration_ns) AS dur_min, max(duration_ns) AS dur_max FROM spans INDEXED BY spans_org_time_idx WHERE org_id = ?1 AND timestamp >= ?3 AND timestamp < ?4 AND status_code = ?2 GROUP BY "k0" UNION ALL SELECT service AS "k0", error_count AS n, duration_sum_ns AS dur_sum, duration_min_ns AS dur_min, duration_max_ns AS dur_max FROM span_latency_1m WHERE org_id = ?1 AND bucket >= ?5 AND bucket < ?6 AND error_count > 0 UNION ALL SELECT service AS "k0", error_count AS n, duration_sum_ns AS dur_sum, duration_min_ns AS dur_min, duration_max_ns AS dur_max FROM span_latency_1h WHERE org_id = ?1 AND bucket >= ?6 AND bucket < ?7 AND error_count > 0 UNION ALL SELECT service AS "k0", error_count AS n, duration_sum_ns AS dur_sum, duration_min_ns AS dur_min, duration_max_ns AS dur_max FROM span_latency_1m WHERE org_id = ?1 AND bucket >= ?7 AND bucket < ?8 AND error_count > 0 UNION ALL SELECT service AS "k0", count(*) AS n, sum(duration_ns) AS dur_sum, min(duration_ns) AS dur_min, max(duration_ns) AS dur_max FROM spans INDEXED BY spans_org_time_idx WHERE org_id = ?1 AND timestamp >= ?9 AND timestamp < ?10 AND status_code = ?2 GROUP BY "k0") GROUP BY "k0" ORDER BY "c1" DESC NULLS LAST, "k0" ASC NULLS LAST LIMIT ?13`,
		);
	});

	it("plans the same queries from the same levels on ClickHouse, with ClickHouse's pieces only", () => {
		for (const query of PLAN_QUERIES) {
			const lite = plan(query, sqliteDialect);
			const ch = plan(query, clickhouseDialect);
			expect(ch.source, query).toBe(lite.source);
			expect(ch.columns, query).toEqual(lite.columns);
			if (!ch.source) continue;
			expect(ch.sql, query).not.toMatch(/\?\d|json_group_array|INDEXED BY|CAST\(/);
			// The same parameters, in the same order (ClickHouse's placeholders carry the type).
			expect(ch.params, query).toEqual(lite.params);
		}
	});
});
