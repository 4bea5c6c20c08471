/**
 * OQL over ClickHouse inside workerd: the official `@clickhouse/client-web` (as a Worker would use
 * it) reaching the real engine (chdb behind the HTTP stand-in, test/support/edge-clickhouse.ts),
 * the golden data set inserted through it, and the golden queries over telemetry answered as the
 * libSQL golden table says (test/support/oql-golden.ts). Included only when the engine is installed
 * (vitest.config.ts; `npm run clickhouse:install`).
 */
import { env } from "cloudflare:workers";
import { createClient } from "@clickhouse/client-web";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { logRows, metricRows, spanRows } from "../../bench/oql-data.js";
import { createApp } from "../../src/app.js";
import { runOqlOnClickHouse } from "../../src/clickhouse/oql.js";
import { attributeMap, insertTelemetry } from "../../src/clickhouse/rows.js";
import type { AppConfig } from "../../src/config.js";
import { ApiError } from "../../src/errors.js";
import { PERCENTILE_RELATIVE_ERROR } from "../../src/ingest/rollups.js";
import { buildWorkerDeps, type WorkerEnv } from "../../src/runtime/worker.js";
import { GOLDEN } from "../support/oql-golden.js";
import { GOLDEN_END, GOLDEN_QUERIES, goldenSpecA, goldenSpecB } from "../support/oql-golden-queries.js";
import { db, ORIGIN, orgWithKey } from "./support.js";

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

describe("the Worker with TELEMETRY_URL: telemetry in ClickHouse through @clickhouse/client-web", () => {
	// The Worker's own deps from its bindings, with TELEMETRY_URL added (the other workers tests keep
	// telemetry in libSQL, so this app is built here rather than bound for the whole pool).
	const app = createApp(
		buildWorkerDeps({
			...(env as unknown as WorkerEnv),
			TELEMETRY_URL: env.CLICKHOUSE_URL,
			LOG_LEVEL: "silent",
		}),
	);
	const call = (path: string, key: string, body: unknown) =>
		app.fetch(
			new Request(ORIGIN + path, {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: JSON.stringify(body),
			}),
		);

	it("stores an OTLP export in ClickHouse and answers /api/v1/dsl from there, per org", async () => {
		const a = await orgWithKey("Edge ClickHouse A");
		const b = await orgWithKey("Edge ClickHouse B");
		const now = BigInt(Date.now()) * 1_000_000n;
		const logRecords = [0n, 1n, 2n].map((i) => ({
			timeUnixNano: String(now - i * 1_000_000_000n),
			severityText: "ERROR",
			body: { stringValue: `edge line ${i}` },
			attributes: [{ key: "route", value: { stringValue: "/cart" } }],
		}));
		const exported = await call("/v1/logs", a.key, {
			resourceLogs: [
				{
					resource: { attributes: [{ key: "service.name", value: { stringValue: "edge-shop" } }] },
					scopeLogs: [{ logRecords }],
				},
			],
		});
		expect(exported.status).toBe(200);
		// Acknowledged = in ClickHouse, under org A.
		const stored = await client.query({
			query: "SELECT body, service, attributes FROM logs WHERE org_id = {org:String} ORDER BY timestamp",
			format: "JSONEachRow",
			query_params: { org: a.orgId },
		});
		expect(await stored.json()).toEqual(
			[2, 1, 0].map((i) => ({
				body: `edge line ${i}`,
				service: "edge-shop",
				attributes: { route: "/cart" },
			})),
		);
		// …and not in libSQL.
		const inLibsql = await db.all<{ n: number }>(
			sql`SELECT count(*) AS n FROM logs WHERE org_id = ${a.orgId}`,
		);
		expect(inLibsql).toEqual([{ n: 0 }]);
		const answer = await call("/api/v1/dsl", a.key, {
			query:
				"SELECT service, count(*) FROM logs WHERE attributes['route'] = '/cart' GROUP BY service LAST 1h",
		});
		expect(answer.status).toBe(200);
		const json = (await answer.json()) as { rows: unknown[][]; meta: { source: string } };
		expect(json.rows).toEqual([["edge-shop", 3]]);
		expect(json.meta.source).toBe("raw");
		const other = await call("/api/v1/dsl", b.key, { query: "SELECT count(*) FROM logs LAST 1h" });
		expect(((await other.json()) as { rows: unknown[][] }).rows).toEqual([[0]]);
	});
});
