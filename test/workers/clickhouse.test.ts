/**
 * OQL over ClickHouse inside workerd: the official `@clickhouse/client-web` (as a Worker would use
 * it) reaching the real engine (chdb behind the HTTP stand-in, test/support/edge-clickhouse.ts),
 * the golden data set inserted through it, and the golden queries over telemetry answered as the
 * libSQL golden table says (test/support/oql-golden.ts). Included only when the engine is installed
 * (vitest.config.ts; `npm run clickhouse:install`).
 */
import { env } from "cloudflare:workers";
import { createClient } from "@clickhouse/client-web";
import { beforeAll, describe, expect, it } from "vitest";
import { logRows, metricRows, spanRows } from "../../bench/oql-data.js";
import { runOqlOnClickHouse } from "../../src/clickhouse/oql.js";
import { attributeMap, insertTelemetry } from "../../src/clickhouse/rows.js";
import type { AppConfig } from "../../src/config.js";
import { ApiError } from "../../src/errors.js";
import { PERCENTILE_RELATIVE_ERROR } from "../../src/ingest/rollups.js";
import { GOLDEN } from "../support/oql-golden.js";
import { GOLDEN_END, GOLDEN_QUERIES, goldenSpecA, goldenSpecB } from "../support/oql-golden-queries.js";

const client = createClient({ url: env.CLICKHOUSE_URL });
// One ClickHouse serves every run of this file in a vitest process: orgs of this run's own.
const RUN = crypto.randomUUID().slice(0, 8);
const ORG_A = `org_ch_workers_a_${RUN}`;
const ORG_B = `org_ch_workers_b_${RUN}`;
const deps = {
	clock: { now: () => GOLDEN_END },
	config: { oql: { maxRangeDays: 31, timeoutMs: 30_000 } } as AppConfig,
};

beforeAll(async () => {
	for (const spec of [goldenSpecA(ORG_A), goldenSpecB(ORG_B)]) {
		const options = { retentionDays: 3_650 };
		await insertTelemetry(client, "logs", logRows(spec), options);
		await insertTelemetry(client, "spans", spanRows(spec), options);
		await insertTelemetry(client, "metric_points", metricRows(spec), options);
	}
});

/** Attribute values as text (ClickHouse keeps them so: docs/scale-out.md). */
function normal(rows: unknown[][], columns: { type: string }[]): unknown[][] {
	return rows.map((row) =>
		row.map((cell, i) => {
			const type = columns[i]?.type;
			if (cell !== null && type === "json" && typeof cell === "object") return attributeMap(cell);
			if (type === "any" && typeof cell === "number") return String(cell);
			return cell;
		}),
	);
}

/** `actual` with each number within `relative` of the expected one replaced by it. */
function within(actual: unknown, expected: unknown, relative: number): unknown {
	if (typeof actual === "number" && typeof expected === "number") {
		return Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected)) ? expected : actual;
	}
	if (Array.isArray(actual) && Array.isArray(expected))
		return actual.map((a, i) => within(a, expected[i], relative));
	return actual;
}

const telemetryGolden = Object.entries(GOLDEN_QUERIES).filter(
	([, query]) => !/\bFROM (heartbeats|annotations)\b/.test(query),
);

describe("OQL over ClickHouse in workerd (@clickhouse/client-web)", () => {
	it("answers ping through the outbound service", async () => {
		expect((await client.ping()).success).toBe(true);
	});

	it.each(telemetryGolden)("golden: %s", async (name, query) => {
		const answer = await runOqlOnClickHouse(deps, client, ORG_A, query);
		const golden = GOLDEN[name];
		if (!golden) throw new Error(`no golden answer for ${name}`);
		expect(answer.columns).toEqual(golden.columns);
		const { elapsed_ms, source, ...meta } = answer.meta;
		expect(source).toBe("raw");
		expect(meta).toEqual(golden.meta);
		// The golden percentiles of one route are the rollups' (within their documented error).
		const relative = name === "percentiles of one route" ? PERCENTILE_RELATIVE_ERROR : 1e-9;
		const expected = normal(golden.rows, golden.columns);
		expect(within(normal(answer.rows, answer.columns), expected, relative)).toEqual(expected);
	});

	it("keeps the other org's rows out, and the contract's errors", async () => {
		const [own] = (await runOqlOnClickHouse(deps, client, ORG_B, "SELECT count(*) FROM logs LAST 6h")).rows;
		expect(own).toEqual([goldenSpecB(ORG_B).logs]);
		const error = await runOqlOnClickHouse(
			deps,
			client,
			ORG_A,
			"SELECT count(*) FROM logs WHERE body MATCHES '(' LAST 1h",
		).catch((err: unknown) => err);
		expect(error).toBeInstanceOf(ApiError);
		expect((error as ApiError).code).toBe("oql_invalid_query");
	});
});
