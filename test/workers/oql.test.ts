/**
 * OQL inside workerd: POST /api/v1/dsl through the Worker's fetch handler, libSQL through the HTTP
 * stand-in (@libsql/client/web, as in production). The golden table is the one Node answers
 * (test/node/oql-api.test.ts); the database is shared by every workers test file, so the data set
 * is seeded for orgs of this file's own.
 */
import { env } from "cloudflare:workers";
import { createClient } from "@libsql/client/web";
import { beforeAll, describe, expect, it } from "vitest";
import { seedOqlDataset } from "../../bench/oql-data.js";
import { createApp } from "../../src/app.js";
import { rebuildRollups } from "../../src/ingest/rollup-rebuild.js";
import { expectGolden } from "../support/oql-golden.js";
import { GOLDEN_QUERIES, goldenSpecA, goldenSpecB } from "../support/oql-golden-queries.js";
import {
	API_KEY_CHALLENGE,
	expectError,
	expectOk,
	mintToken,
	orgWithKey,
	workerFetch,
	workerLikeDeps,
} from "./support.js";

const DSL = "/api/v1/dsl";
const SEED_EXAMPLE = "SELECT count(*) FROM logs WHERE level = 'error' LAST 1h";
const W = "SINCE '2026-11-01T00:00:00Z' UNTIL '2026-11-01T06:00:00Z'";

interface OqlAnswer {
	columns: { name: string; type: string }[];
	rows: unknown[][];
	meta: { from: string; to: string; row_count: number; truncated: boolean; elapsed_ms: number };
}

const client = createClient({ url: env.DATABASE_URL });
let a: { orgId: string; key: string };
let b: { orgId: string; key: string };

function dsl(query: unknown, headers: Record<string, string>): Promise<Response> {
	return workerFetch(DSL, {
		method: "POST",
		headers: { ...headers, "Content-Type": "application/json" },
		body: JSON.stringify({ query }),
	});
}
const withKey = (key: string) => ({ "X-API-Key": key });

async function rows(query: string, key = a.key): Promise<unknown[][]> {
	return (await expectOk<OqlAnswer>(await dsl(query, withKey(key)))).rows;
}

async function insertLog(orgId: string, ms: number, level: string, body: string): Promise<void> {
	const ns = BigInt(ms) * 1_000_000n;
	await client.execute({
		sql: `INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, service, resource_attributes, attributes)
		      VALUES (?, ?, ?, ?, ?, 'api', '{}', '{}')`,
		args: [orgId, ns, ns, level, body],
	});
}

beforeAll(async () => {
	a = await orgWithKey("OQL A");
	b = await orgWithKey("OQL B");
	await seedOqlDataset(client, goldenSpecA(a.orgId));
	await seedOqlDataset(client, goldenSpecB(b.orgId));
	// For the seed example: rows in the real last hour (the Worker's clock is the system clock).
	const now = Date.now();
	for (const minutes of [5, 20, 50])
		await insertLog(a.orgId, now - minutes * 60_000, "error", "recent failure");
	await insertLog(a.orgId, now - 10 * 60_000, "info", "recent success");
	await insertLog(a.orgId, now - 90 * 60_000, "error", "older failure");
	await insertLog(b.orgId, now - 5 * 60_000, "error", "org-b-secret");
	// Written around the ingest path: their rollups are built as ingest would have.
	await rebuildRollups(client, a.orgId);
	await rebuildRollups(client, b.orgId);
}, 60_000);

describe("golden table in workerd (the same answers as on Node)", () => {
	for (const [name, query] of Object.entries(GOLDEN_QUERIES)) {
		it(name, async () => {
			const body = await expectOk<OqlAnswer>(await dsl(query, withKey(a.key)));
			const { elapsed_ms, ...meta } = body.meta;
			expect(elapsed_ms).toEqual(expect.any(Number));
			expectGolden(name, { ...body, meta });
		});
	}

	it("answers the seed example verbatim over the real last hour", async () => {
		expect(await rows(SEED_EXAMPLE)).toEqual([[3]]);
		expect(await rows(SEED_EXAMPLE, b.key)).toEqual([[1]]);
	});
});

describe("errors in workerd", () => {
	it("oql_syntax_error with position", async () => {
		const body = await expectError(
			await dsl("SELECT count(*)\nFORM logs", withKey(a.key)),
			400,
			"oql_syntax_error",
		);
		expect((body.error as { position?: unknown }).position).toEqual({ line: 2, column: 1 });
	});

	it("oql_invalid_query and oql_range_too_large", async () => {
		await expectError(await dsl("SELECT count(*) FROM logz", withKey(a.key)), 400, "oql_invalid_query");
		await expectError(
			await dsl("SELECT count(*) FROM logs LAST 5w", withKey(a.key)),
			400,
			"oql_range_too_large",
		);
		await expectError(
			await dsl(`SELECT count(*) FROM logs WHERE body MATCHES 'time\\qout' ${W}`, withKey(a.key)),
			400,
			"oql_invalid_query",
		);
	});

	it("query_timeout: the remote statement is raced against OQL_TIMEOUT_MS and abandoned", async () => {
		const deps = workerLikeDeps();
		const app = createApp({ ...deps, config: { ...deps.config, oql: { maxRangeDays: 31, timeoutMs: 1 } } });
		const response = await app.fetch(
			new Request(`https://api.hexcovery.test${DSL}`, {
				method: "POST",
				headers: { ...withKey(a.key), "Content-Type": "application/json" },
				body: JSON.stringify({ query: `SELECT p99(duration_ms) FROM spans GROUP BY name ${W}` }),
			}),
		);
		await expectError(response, 503, "query_timeout");
		expect(response.headers.get("Retry-After")).toBe("5");
	});
});

describe("tenancy, access and injection in workerd", () => {
	it("never shows another org's rows", async () => {
		expect(await rows("SELECT count(*) FROM logs WHERE body = 'org-b-secret'")).toEqual([[0]]);
		expect(await rows(`SELECT count(*) FROM spans ${W}`)).toEqual([[2_000]]);
		expect(await rows(`SELECT count(*) FROM spans ${W}`, b.key)).toEqual([[800]]);
	});

	it("viewer JWTs and API keys in; no credential 401", async () => {
		const token = await mintToken({ orgId: a.orgId, role: "viewer" });
		const viewer = await expectOk<OqlAnswer>(await dsl(SEED_EXAMPLE, { Authorization: `Bearer ${token}` }));
		expect(viewer.rows).toEqual([[3]]);
		await expectError(await dsl(SEED_EXAMPLE, {}), 401, "missing_credentials", API_KEY_CHALLENGE);
	});

	it("keeps hostile text inside bound values", async () => {
		expect(await rows(`SELECT count(*) FROM logs WHERE service = ''' OR 1=1 --' ${W}`)).toEqual([[0]]);
		expect(await rows(`SELECT count(*) FROM logs WHERE attributes['x'') OR (''1''=''1'] = 1 ${W}`)).toEqual([
			[0],
		]);
		await expectError(
			await dsl("SELECT count(*) FROM logs; DROP TABLE logs", withKey(a.key)),
			400,
			"oql_syntax_error",
		);
		expect(await rows(`SELECT count(*) FROM logs ${W}`)).toEqual([[3_000]]);
	});
});
