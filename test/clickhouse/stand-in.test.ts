/**
 * The ClickHouse HTTP stand-in (tools/clickhouse/server.ts) through the official @clickhouse/client:
 * what the client sends arrives as ClickHouse would read it (parameters in the text format, in the URL
 * and as multipart, inserts as `query` + body, the database), answers come back in the formats asked
 * for, and errors as ClickHouseErrors with ClickHouse's codes.
 */
import { ClickHouseError, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadChdb } from "../../scripts/clickhouse-engine.js";
import { migrateClickHouse, splitStatements } from "../../src/clickhouse/migrate.js";
import { readClickHouseMigrations } from "../../src/clickhouse/node.js";
import { serveClickHouse } from "../../tools/clickhouse/server.js";
import { type ClickHouseForTests, QUIET, startClickHouse } from "./support.js";

let ch: ClickHouseForTests;

beforeAll(async () => {
	ch = await startClickHouse({ migrate: false });
	await ch.client.command({ query: "CREATE DATABASE IF NOT EXISTS t" });
	await ch.client.command({
		query:
			"CREATE TABLE t.items (id Int64, name Nullable(String), tags Map(String, String)) ENGINE = MergeTree ORDER BY id",
	});
});
afterAll(() => ch.close());

const awkward = "it's a \\ back\tslash\nand a newline, 'quotes' and \u00e9\u{1F600}";

describe("the ClickHouse stand-in through @clickhouse/client", () => {
	it("answers ping", async () => {
		expect(await ch.client.ping()).toEqual({ success: true });
	});

	it("inserts JSONEachRow rows and reads them back in each format", async () => {
		await ch.client.insert({
			table: "t.items",
			values: [
				{ id: 1, name: awkward, tags: { "http.route": "/a" } },
				{ id: 2, name: null, tags: {} },
			],
			format: "JSONEachRow",
		});
		const rows = await (
			await ch.client.query({
				query: "SELECT id, name, tags FROM t.items ORDER BY id",
				format: "JSONEachRow",
			})
		).json();
		expect(rows).toEqual([
			{ id: 1, name: awkward, tags: { "http.route": "/a" } },
			{ id: 2, name: null, tags: {} },
		]);
		const compact = await (
			await ch.client.query({
				query: "SELECT id, name FROM t.items ORDER BY id",
				format: "JSONCompactEachRow",
				clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
			})
		).json();
		expect(compact).toEqual([
			[1, awkward],
			[2, null],
		]);
		const json = (await (
			await ch.client.query({ query: "SELECT count() AS n FROM t.items", format: "JSON" })
		).json()) as { meta: { name: string; type: string }[]; data: { n: string }[]; rows: number };
		expect(json.meta).toEqual([{ name: "n", type: "UInt64" }]);
		expect(json.data).toEqual([{ n: 2 }]);
		expect(json.rows).toBe(1);
	});

	it("inserts JSONCompactEachRow rows into the columns named, and counts them in its summary", async () => {
		const inserted = await ch.client.insert({
			table: "t.items",
			values: [
				[{ "k=v": "{x:String}" }, 11, awkward],
				[{}, 12, null],
			],
			columns: ["tags", "id", "name"],
			format: "JSONCompactEachRow",
		});
		expect(inserted.summary?.written_rows).toBe("2");
		const rows = await (
			await ch.client.query({
				query: "SELECT id, name, tags FROM t.items WHERE id > 10 ORDER BY id",
				format: "JSONEachRow",
			})
		).json();
		expect(rows).toEqual([
			{ id: 11, name: awkward, tags: { "k=v": "{x:String}" } },
			{ id: 12, name: null, tags: {} },
		]);
		// An INSERT … SELECT over several lines binds the parameters of all of them (no data follows).
		await ch.client.command({
			query: "INSERT INTO t.items (id, name)\nSELECT {id:Int64}, {name:String}",
			query_params: { id: 13, name: awkward },
		});
		const selected = await (
			await ch.client.query({ query: "SELECT name FROM t.items WHERE id = 13", format: "JSONEachRow" })
		).json();
		expect(selected).toEqual([{ name: awkward }]);
		await ch.client.command({ query: "DELETE FROM t.items WHERE id > 10" });
	});

	it("binds query parameters exactly: strings with escapes, NULL, integers past 2^53", async () => {
		const result = await ch.client.query({
			query:
				"SELECT {s:String} AS s, {n:Nullable(String)} AS n, {big:Int64} AS big, {f:Float64} AS f, length({s:String}) AS len",
			format: "JSONEachRow",
			query_params: { s: awkward, n: null, big: 9007199254740993n, f: 0.1 },
			clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
		});
		expect(await result.json()).toEqual([
			{ s: awkward, n: null, big: "9007199254740993", f: 0.1, len: String(Buffer.byteLength(awkward)) },
		]);
	});

	it("binds parameters sent as multipart (the client's form for long parameters)", async () => {
		const long = "x'\\".repeat(4_000);
		const result = await ch.client.query({
			query: "SELECT {s:String} = {s:String} AS same, length({s:String}) AS len",
			format: "JSONEachRow",
			query_params: { s: long },
			use_multipart_params: true,
		});
		expect(await result.json()).toEqual([{ same: 1, len: long.length }]);
	});

	it("uses the client's database for unqualified names", async () => {
		const inT = createClient({ url: ch.server.url, database: "t", log: QUIET });
		try {
			const rows = await (
				await inT.query({ query: "SELECT count() AS n FROM items", format: "JSONEachRow" })
			).json();
			expect(rows).toEqual([{ n: 2 }]);
		} finally {
			await inT.close();
		}
	});

	it("applies settings for one request only", async () => {
		const read = async (settings: Record<string, number>) =>
			(
				await ch.client.query({
					query: "SELECT sum(id) AS s FROM t.items WHERE id > 100",
					format: "JSONEachRow",
					clickhouse_settings: settings,
				})
			).json();
		expect(await read({ aggregate_functions_null_for_empty: 1 })).toEqual([{ s: null }]);
		expect(await read({})).toEqual([{ s: 0 }]);
	});

	it("answers errors as ClickHouse does: the client throws ClickHouseError with code and type", async () => {
		const failure = async (query: string) => {
			try {
				await ch.client.query({ query, format: "JSONEachRow" });
			} catch (error) {
				return error;
			}
			throw new Error(`expected ${query} to fail`);
		};
		const syntax = await failure("SELEC 1");
		expect(syntax).toBeInstanceOf(ClickHouseError);
		expect(syntax).toMatchObject({ code: "62", type: "SYNTAX_ERROR" });
		expect(await failure("SELECT * FROM t.nope")).toMatchObject({ code: "60", type: "UNKNOWN_TABLE" });
		expect(await failure("SELECT 'a' + 1")).toMatchObject({ type: "ILLEGAL_TYPE_OF_ARGUMENT" });
		// A failed statement leaves nothing behind: the next one runs.
		expect(await (await ch.client.query({ query: "SELECT 1 AS one", format: "JSONEachRow" })).json()).toEqual(
			[{ one: 1 }],
		);
	});

	it("refuses wrong credentials with AUTHENTICATION_FAILED when it has some", async () => {
		// A second stand-in over the same engine (chdb allows one data directory per process).
		const secured = await serveClickHouse(loadChdb(), { path: ch.dir, username: "hex", password: "s3cret" });
		const good = createClient({ url: secured.url, username: "hex", password: "s3cret", log: QUIET });
		const bad = createClient({ url: secured.url, username: "hex", password: "wrong", log: QUIET });
		try {
			expect(await (await good.query({ query: "SELECT 1 AS one", format: "JSONEachRow" })).json()).toEqual([
				{ one: 1 },
			]);
			await expect(bad.query({ query: "SELECT 1", format: "JSONEachRow" })).rejects.toMatchObject({
				code: "516",
				type: "AUTHENTICATION_FAILED",
			});
		} finally {
			await good.close();
			await bad.close();
			await secured.close();
		}
	});
});

describe("ClickHouse migrations", () => {
	it("split into statements at lines ending with ';', comments dropped", () => {
		expect(
			splitStatements("-- a comment\nCREATE TABLE a (x String DEFAULT ';x')\nENGINE = Log;\n\nSELECT 1;\n"),
		).toEqual(["CREATE TABLE a (x String DEFAULT ';x')\nENGINE = Log", "SELECT 1"]);
	});

	it("apply once, are recorded, and refuse an applied migration whose text changed", async () => {
		const migrations = readClickHouseMigrations();
		expect(migrations.map((m) => m.name)).toContain("0001_telemetry");
		expect(await migrateClickHouse(ch.client, migrations)).toEqual(migrations.map((m) => m.name));
		expect(await migrateClickHouse(ch.client, migrations)).toEqual([]);
		const tables = await (
			await ch.client.query({
				query:
					"SELECT name, engine, sorting_key, partition_key FROM system.tables WHERE database = currentDatabase() AND name IN ('logs', 'spans', 'metric_points') ORDER BY name",
				format: "JSONEachRow",
			})
		).json();
		expect(tables).toEqual([
			{
				name: "logs",
				engine: "MergeTree",
				sorting_key: "org_id, timestamp",
				partition_key: "toDate(fromUnixTimestamp64Nano(timestamp))",
			},
			{
				name: "metric_points",
				engine: "MergeTree",
				sorting_key: "org_id, metric_name, timestamp",
				partition_key: "toDate(fromUnixTimestamp64Nano(timestamp))",
			},
			{
				name: "spans",
				engine: "MergeTree",
				sorting_key: "org_id, timestamp",
				partition_key: "toDate(fromUnixTimestamp64Nano(timestamp))",
			},
		]);
		const edited = migrations.map((m) => ({ ...m, sql: `${m.sql}\n-- edited` }));
		await expect(migrateClickHouse(ch.client, edited)).rejects.toThrow(/was applied with other text/);
	});
});
