import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Client, type Config, createClient, LibsqlBatchError, LibsqlError } from "@libsql/client/web";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
	createHranaHandler,
	type HranaServer,
	type HranaServerOptions,
	serveHrana,
} from "../../tools/hrana/server.js";

/** The parts of a pipeline response the raw-protocol tests look at. */
interface PipelineReply {
	baton: string | null;
	base_url: string | null;
	results: Array<{
		type: "ok" | "error";
		response?: { type: string; result?: BatchReply; is_autocommit?: boolean };
		error?: { message: string; code: string };
	}>;
}

interface BatchReply {
	step_results: Array<{ rows: unknown[][] } | null>;
	step_errors: Array<{ message: string; code: string } | null>;
}

interface Harness {
	url: string;
	dbUrl: string;
	/** A real `@libsql/client/web` client, closed after the test. */
	client(config?: Partial<Config>): Client;
	/** POSTs a raw pipeline body (anything, so malformed bodies can be sent too). */
	post(body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** Serves a fresh temporary database file for each test. */
function useServer(options: HranaServerOptions = {}): Harness {
	let dir = "";
	let server: HranaServer | undefined;
	let clients: Client[] = [];
	const harness: Harness = {
		url: "",
		dbUrl: "",
		client(config = {}) {
			const client = createClient({ url: harness.url, ...config });
			clients.push(client);
			return client;
		},
		post(body, headers = {}) {
			return fetch(`${harness.url}/v2/pipeline`, {
				method: "POST",
				headers: { "content-type": "application/json", ...headers },
				body: typeof body === "string" ? body : JSON.stringify(body),
			});
		},
	};
	beforeEach(async () => {
		dir = mkdtempSync(join(tmpdir(), "hrana-test-"));
		harness.dbUrl = `file:${join(dir, "test.db")}`;
		server = await serveHrana({ url: harness.dbUrl }, options);
		harness.url = server.url;
	});
	afterEach(async () => {
		for (const client of clients) client.close();
		clients = [];
		await server?.close();
		rmSync(dir, { recursive: true, force: true });
	});
	return harness;
}

function stmt(sql: string, args: unknown[] = []): { sql: string; args: unknown[]; want_rows: boolean } {
	return { sql, args, want_rows: true };
}

async function reply(response: Response): Promise<PipelineReply> {
	expect(response.status).toBe(200);
	return (await response.json()) as PipelineReply;
}

async function rejection(promise: Promise<unknown>): Promise<LibsqlError> {
	const error = await promise.then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(error).toBeInstanceOf(LibsqlError);
	return error as LibsqlError;
}

async function count(client: Client, table = "t"): Promise<number> {
	const result = await client.execute(`SELECT count(*) AS n FROM ${table}`);
	return Number(result.rows[0]?.n);
}

const CREATE_T = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)";

describe("execute", () => {
	const server = useServer();

	it("binds positional arguments and reports columns, decltypes, changes and the rowid", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const first = await client.execute({
			sql: "INSERT INTO t (name, score) VALUES (?, ?)",
			args: ["ada", 3.5],
		});
		const second = await client.execute({
			sql: "INSERT INTO t (name, score) VALUES (?, ?)",
			args: ["bob", 1],
		});
		expect([first.rowsAffected, first.lastInsertRowid]).toEqual([1, 1n]);
		expect(second.lastInsertRowid).toBe(2n);

		const result = await client.execute({
			sql: "SELECT id, name, score FROM t WHERE name = ?",
			args: ["bob"],
		});
		expect(result.columns).toEqual(["id", "name", "score"]);
		expect(result.columnTypes).toEqual(["INTEGER", "TEXT", "REAL"]);
		expect(result.rows.map((row) => ({ ...row }))).toEqual([{ id: 2, name: "bob", score: 1 }]);
	});

	it("binds named arguments given with or without their prefix", async () => {
		const client = server.client();
		const result = await client.execute({
			sql: "SELECT :a AS a, @b AS b, $c AS c, :a || :a AS twice",
			args: { a: "x", "@b": "y", $c: "z" },
		});
		expect({ ...result.rows[0] }).toEqual({ a: "x", b: "y", c: "z", twice: "xx" });
	});

	it("reports changes only for INSERT, UPDATE and DELETE, and the rowid only for INSERT", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		await client.execute("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')");
		const update = await client.execute("UPDATE t SET score = 2 WHERE name <> 'c'");
		expect([update.rowsAffected, update.lastInsertRowid]).toEqual([2, undefined]);
		const select = await client.execute("SELECT * FROM t");
		expect([select.rowsAffected, select.lastInsertRowid]).toEqual([0, undefined]);
		const returning = await client.execute("INSERT INTO t (name) VALUES ('d') RETURNING id, name");
		expect(returning.rows.map((row) => [row.id, row.name])).toEqual([[4, "d"]]);
		expect([returning.rowsAffected, returning.lastInsertRowid]).toEqual([1, 4n]);
		const remove = await client.execute("DELETE FROM t WHERE score = 2");
		expect(remove.rowsAffected).toBe(2);
	});

	it("accepts one statement with a trailing semicolon, and refuses none or several", async () => {
		const client = server.client();
		const one = await client.execute("SELECT ';' AS s, 1 AS one; -- a comment ; still a comment");
		expect({ ...one.rows[0] }).toEqual({ s: ";", one: 1 });
		expect((await rejection(client.execute("SELECT 1; SELECT 2"))).code).toBe("SQL_MANY_STATEMENTS");
		expect((await rejection(client.execute("  /* nothing */ ; "))).code).toBe("SQL_NO_STATEMENT");
	});

	it("creates a trigger whose body holds semicolons and CASE … END", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		await client.execute("CREATE TABLE log (msg TEXT)");
		await client.execute(`
			CREATE TRIGGER t_insert AFTER INSERT ON t BEGIN
				INSERT INTO log VALUES (CASE WHEN new.score > 1 THEN 'high' ELSE 'low' END);
				UPDATE t SET score = CASE WHEN new.score IS NULL THEN 0 END WHERE id = new.id AND new.score IS NULL;
			END`);
		await client.execute("INSERT INTO t (name, score) VALUES ('x', 5)");
		await client.execute("INSERT INTO t (name) VALUES ('y')");
		const log = await client.execute("SELECT msg FROM log ORDER BY rowid");
		expect(log.rows.map((row) => row.msg)).toEqual(["high", "low"]);
		const y = await client.execute("SELECT score FROM t WHERE name = 'y'");
		expect(y.rows[0]?.score).toBe(0);
	});
});

describe("values", () => {
	const server = useServer();

	it("round-trips 64-bit integers beyond 2^53 with intMode bigint", async () => {
		const client = server.client({ intMode: "bigint" });
		await client.execute("CREATE TABLE ints (v INTEGER)");
		const values = [2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 0n, -1n];
		for (const v of values) await client.execute({ sql: "INSERT INTO ints VALUES (?)", args: [v] });
		const result = await client.execute("SELECT v, typeof(v) AS type FROM ints ORDER BY rowid");
		expect(result.rows.map((row) => row.v)).toEqual(values);
		expect(new Set(result.rows.map((row) => row.type))).toEqual(new Set(["integer"]));
	});

	it("round-trips floats, unicode text, blobs and null", async () => {
		const client = server.client();
		await client.execute("CREATE TABLE vals (f REAL, s TEXT, b BLOB, n)");
		const text = 'héllo wörld — 你好 🌍 "quoted" \\ \n tab\t';
		const bytes = Uint8Array.from([0, 1, 2, 127, 128, 254, 255]);
		await client.execute({
			sql: "INSERT INTO vals VALUES (?, ?, ?, ?)",
			args: [0.1 + 0.2, text, bytes, null],
		});
		await client.execute({
			sql: "INSERT INTO vals VALUES (?, ?, ?, ?)",
			args: [-2.5e-300, "", Uint8Array.from([9, 8]).buffer, null],
		});
		const result = await client.execute(
			"SELECT f, s, b, n, typeof(f) AS tf, typeof(b) AS tb, typeof(n) AS tn FROM vals ORDER BY rowid",
		);
		const [first, second] = result.rows;
		expect([first?.f, first?.s, first?.n]).toEqual([0.1 + 0.2, text, null]);
		expect([first?.tf, first?.tb, first?.tn]).toEqual(["real", "blob", "null"]);
		expect(new Uint8Array(first?.b as ArrayBuffer)).toEqual(bytes);
		expect([second?.f, second?.s]).toEqual([-2.5e-300, ""]);
		expect(new Uint8Array(second?.b as ArrayBuffer)).toEqual(Uint8Array.from([9, 8]));
	});

	it("binds JavaScript numbers as REAL and bigints as INTEGER, as sqld does", async () => {
		const client = server.client();
		const result = await client.execute({ sql: "SELECT typeof(?) AS n, typeof(?) AS b", args: [5, 5n] });
		expect({ ...result.rows[0] }).toEqual({ n: "real", b: "integer" });
	});
});

describe("batch", () => {
	const server = useServer();

	it("runs a write batch in one transaction and returns every result", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const results = await client.batch(
			[
				{ sql: "INSERT INTO t (name) VALUES (?)", args: ["a"] },
				{ sql: "INSERT INTO t (name) VALUES (?)", args: ["b"] },
				"SELECT name FROM t ORDER BY id",
			],
			"write",
		);
		expect(results.map((r) => r.lastInsertRowid)).toEqual([1n, 2n, undefined]);
		expect(results[2]?.rows.map((row) => row.name)).toEqual(["a", "b"]);
	});

	it("rolls the whole batch back when one statement fails", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		await client.execute("INSERT INTO t (name) VALUES ('taken')");
		const error = await rejection(
			client.batch(
				["INSERT INTO t (name) VALUES ('new')", "INSERT INTO t (name) VALUES ('taken')", "SELECT 1"],
				"write",
			),
		);
		expect(error).toBeInstanceOf(LibsqlBatchError);
		expect((error as LibsqlBatchError).statementIndex).toBe(1);
		expect(error.code).toBe("SQLITE_CONSTRAINT");
		expect(await count(client)).toBe(1);
	});

	it("runs statements stored with store_sql and repeated within a batch", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const insert = "INSERT INTO t (name, score) VALUES (?, ?)";
		await client.batch(
			Array.from({ length: 5 }, (_, i) => ({ sql: insert, args: [`n${i}`, i] })),
			"write",
		);
		const sum = await client.execute("SELECT sum(score) AS s, count(*) AS c FROM t");
		expect({ ...sum.rows[0] }).toEqual({ s: 10, c: 5 });
	});
});

describe("interactive transactions", () => {
	const server = useServer();

	it("keeps uncommitted rows invisible to other clients until commit", async () => {
		const setup = server.client();
		await setup.execute(CREATE_T);
		const observer = server.client();
		const tx = await server.client().transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('a')");
		await tx.execute({ sql: "INSERT INTO t (name) VALUES (?)", args: ["b"] });
		expect(Number((await tx.execute("SELECT count(*) AS n FROM t")).rows[0]?.n)).toBe(2);
		expect(await count(observer)).toBe(0);
		await tx.commit();
		expect(await count(observer)).toBe(2);
	});

	it("discards the rows of a rolled-back transaction", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('a')");
		await tx.rollback();
		expect(await count(client)).toBe(0);
	});

	it("stays usable after a failing statement, like a connection", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('a')");
		expect((await rejection(tx.execute("INSERT INTO t (name) VALUES ('a')"))).code).toBe("SQLITE_CONSTRAINT");
		await tx.execute("INSERT INTO t (name) VALUES ('b')");
		await tx.commit();
		const names = await client.execute("SELECT name FROM t ORDER BY id");
		expect(names.rows.map((row) => row.name)).toEqual(["a", "b"]);
	});

	it("runs many distinct statements in one transaction, evicting with close_sql", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		// the client caches 30 SQL texts per transaction; the second batch evicts part of the first
		for (const offset of [0, 25]) {
			await tx.batch(Array.from({ length: 25 }, (_, i) => `INSERT INTO t (id) VALUES (${offset + i + 1})`));
		}
		await tx.commit();
		expect(await count(client)).toBe(50);
	});

	it("makes a writer wait for another stream's write transaction instead of failing", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('first')");
		const events: string[] = [];
		const waiting = server
			.client()
			.execute("INSERT INTO t (name) VALUES ('second')")
			.then(() => events.push("second inserted"));
		await sleep(150);
		events.push("committing");
		await tx.commit();
		await waiting;
		expect(events).toEqual(["committing", "second inserted"]);
		const names = await client.execute("SELECT name FROM t ORDER BY id");
		expect(names.rows.map((row) => row.name)).toEqual(["first", "second"]);
	});

	it("makes a deferred batch wait for another stream's write transaction", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('first')");
		const waiting = server.client().batch(["INSERT INTO t (name) VALUES ('second')"], "deferred");
		await sleep(100);
		await tx.commit();
		const [result] = await waiting;
		expect(result?.rowsAffected).toBe(1);
		expect(await count(client)).toBe(2);
	});

	it("takes the write lock inside a transaction without touching user_version", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		await client.execute("PRAGMA user_version = 7");
		await client.batch(
			["INSERT INTO t (name) VALUES ('a')", "INSERT INTO t (name) VALUES ('b')"],
			"deferred",
		);
		expect((await client.execute("PRAGMA user_version")).rows[0]?.user_version).toBe(7);
		expect(await count(client)).toBe(2);
	});

	it("recovers a transaction whose statement came back busy: only ROLLBACK is accepted", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const holder = await client.transaction("write");
		await holder.execute("INSERT INTO t (name) VALUES ('held')");
		const victim = await server.client().transaction("deferred");
		// a PRAGMA that writes is run as a plain prepared statement, so it meets the lock head-on
		expect((await rejection(victim.execute("PRAGMA user_version = 3"))).code).toBe("SQLITE_BUSY");
		expect((await rejection(victim.execute("SELECT 1"))).code).toBe("TRANSACTION_ABORTED");
		await victim.rollback();
		await holder.commit();
		await client.execute("INSERT INTO t (name) VALUES ('after')");
		expect(await count(client)).toBe(2);
		expect((await client.execute("PRAGMA user_version")).rows[0]?.user_version).toBe(0);
	});

	it("lets a second write transaction start once the first one commits", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const first = await client.transaction("write");
		await first.execute("INSERT INTO t (name) VALUES ('first')");
		const second = await server.client().transaction("write");
		const secondInsert = second.execute("INSERT INTO t (name) VALUES ('second')");
		await sleep(100);
		await first.commit();
		await secondInsert;
		expect(Number((await second.execute("SELECT count(*) AS n FROM t")).rows[0]?.n)).toBe(2);
		await second.commit();
		expect(await count(client)).toBe(2);
	});

	it("serves many concurrent writers on several streams without losing a row", async () => {
		const setup = server.client();
		await setup.execute(CREATE_T);
		const clients = [server.client(), server.client(), server.client()];
		const insert = (name: string) => ({ sql: "INSERT INTO t (name) VALUES (?)", args: [name] });
		const jobs = Array.from({ length: 60 }, async (_, i) => {
			const client = clients[i % clients.length] as Client;
			if (i % 3 === 0) return client.execute(insert(`execute ${i}`));
			if (i % 3 === 1) return client.batch([insert(`batch ${i}`)], "deferred");
			const tx = await client.transaction("write");
			await tx.execute(insert(`transaction ${i}`));
			return tx.commit();
		});
		await Promise.all(jobs);
		expect(await count(setup)).toBe(60);
	});

	it("runs executeMultiple as a sequence, stopping at the first failing statement", async () => {
		const client = server.client();
		await client.executeMultiple(`
			CREATE TABLE m (v TEXT UNIQUE);
			INSERT INTO m VALUES ('one'); -- a comment
			INSERT INTO m VALUES ('two');
		`);
		expect(await count(client, "m")).toBe(2);
		const error = await rejection(
			client.executeMultiple(
				"INSERT INTO m VALUES ('three'); INSERT INTO m VALUES ('one'); INSERT INTO m VALUES ('four');",
			),
		);
		expect(error.code).toBe("SQLITE_CONSTRAINT");
		const values = await client.execute("SELECT v FROM m ORDER BY rowid");
		expect(values.rows.map((row) => row.v)).toEqual(["one", "two", "three"]);
	});

	it("runs executeMultiple inside a transaction", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.executeMultiple("INSERT INTO t (name) VALUES ('a'); INSERT INTO t (name) VALUES ('b');");
		expect(await count(server.client())).toBe(0);
		await tx.rollback();
		expect(await count(client)).toBe(0);
	});
});

describe("busy timeout", () => {
	const server = useServer({ busyTimeoutMs: 200 });

	it("fails a writer with SQLITE_BUSY once the lock holder outlasts busyTimeoutMs", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('held')");
		const started = Date.now();
		const error = await rejection(server.client().execute("INSERT INTO t (name) VALUES ('blocked')"));
		expect(error.code).toBe("SQLITE_BUSY");
		expect(Date.now() - started).toBeGreaterThanOrEqual(150);
		await tx.commit();
		expect(await count(client)).toBe(1);
	});
});

describe("errors", () => {
	const server = useServer();

	it("rejects a syntax error with a LibsqlError", async () => {
		const error = await rejection(server.client().execute("SELEC 1"));
		expect(error.code).toBe("SQL_PARSE_ERROR");
		expect(error.message).toContain("syntax error");
	});

	it("reports a missing table as SQLITE_ERROR with SQLite's message", async () => {
		const error = await rejection(server.client().execute("SELECT * FROM nowhere"));
		expect(error.code).toBe("SQLITE_ERROR");
		expect(error.message).toContain("no such table: nowhere");
	});

	it("reports a constraint violation as SQLITE_CONSTRAINT", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		await client.execute("INSERT INTO t (name) VALUES ('a')");
		const error = await rejection(client.execute("INSERT INTO t (name) VALUES ('a')"));
		expect(error.code).toBe("SQLITE_CONSTRAINT");
		expect(error.message).toContain("UNIQUE constraint failed: t.name");
	});

	it("refuses named arguments for ? parameters, and keeps serving", async () => {
		const client = server.client();
		const error = await rejection(client.execute({ sql: "SELECT ? AS a", args: { a: 1 } }));
		expect(error.code).toBe("ARGS_INVALID");
		expect((await client.execute("SELECT 42 AS answer")).rows[0]?.answer).toBe(42);
	});
});

describe("authentication", () => {
	const server = useServer({ authToken: "s3cret" });

	it("accepts the configured bearer token", async () => {
		const result = await server.client({ authToken: "s3cret" }).execute("SELECT 1 AS one");
		expect(result.rows[0]?.one).toBe(1);
	});

	it("rejects a wrong or missing token with HTTP 401", async () => {
		for (const config of [{ authToken: "wrong" }, {}]) {
			const error = await rejection(server.client(config).execute("SELECT 1"));
			expect(error.code).toBe("SERVER_ERROR");
			expect(error.message).toContain("401");
		}
		expect((await server.post({ baton: null, requests: [] })).status).toBe(401);
	});
});

describe("HTTP protocol", () => {
	const server = useServer({ maxBodyBytes: 4096 });

	it("answers the version probe, and 404 or 405 elsewhere", async () => {
		expect((await fetch(`${server.url}/v2`)).status).toBe(200);
		const missing = await fetch(`${server.url}/v1/execute`, { method: "POST", body: "{}" });
		expect(missing.status).toBe(404);
		expect(((await missing.json()) as { code: string }).code).toBe("NOT_FOUND");
		const wrongMethod = await fetch(`${server.url}/v2/pipeline`);
		expect(wrongMethod.status).toBe(405);
		expect(wrongMethod.headers.get("allow")).toBe("POST");
	});

	it("refuses bad JSON and malformed requests with 400 before running anything", async () => {
		const badJson = await server.post("{not json");
		expect(badJson.status).toBe(400);
		expect(((await badJson.json()) as { code: string }).code).toBe("PROTOCOL_ERROR");

		await reply(await server.post({ baton: null, requests: [{ type: "execute", stmt: stmt(CREATE_T) }] }));
		const malformed = await server.post({
			baton: null,
			requests: [
				{ type: "execute", stmt: stmt("INSERT INTO t (name) VALUES ('ran')") },
				{ type: "execute", stmt: { sql: "SELECT ?", args: [{ type: "integer", value: "1.5" }] } },
			],
		});
		expect(malformed.status).toBe(400);
		expect(((await malformed.json()) as { message: string }).message).toContain("requests[1].stmt.args[0]");
		expect(await count(server.client())).toBe(0);
	});

	it("refuses a body over maxBodyBytes with 413", async () => {
		const big = { baton: null, requests: [{ type: "execute", stmt: stmt(`SELECT '${"x".repeat(5000)}'`) }] };
		expect((await server.post(big)).status).toBe(413);
	});

	it("hands out a fresh baton per response, refuses a used or unknown one, and clears it on close", async () => {
		const opened = await reply(
			await server.post({ baton: null, requests: [{ type: "execute", stmt: stmt("SELECT 1") }] }),
		);
		const first = opened.baton;
		expect(first).toEqual(expect.any(String));
		expect(opened.base_url).toBeNull();

		const next = await reply(await server.post({ baton: first, requests: [] }));
		expect(next.baton).toEqual(expect.any(String));
		expect(next.baton).not.toBe(first);

		const reused = await server.post({ baton: first, requests: [] });
		expect(reused.status).toBe(400);
		expect(((await reused.json()) as { code: string }).code).toBe("BATON_REUSED");
		const unknown = await server.post({ baton: "nope.nope", requests: [] });
		expect(unknown.status).toBe(400);
		expect(((await unknown.json()) as { code: string }).code).toBe("BATON_INVALID");

		const closed = await reply(
			await server.post({ baton: next.baton, requests: [{ type: "close" }, { type: "get_autocommit" }] }),
		);
		expect(closed.baton).toBeNull();
		expect(closed.results.map((r) => r.type)).toEqual(["ok", "error"]);
		expect((await server.post({ baton: next.baton, requests: [] })).status).toBe(400);
	});

	it("evaluates batch conditions, including is_autocommit, and answers get_autocommit", async () => {
		const steps = [
			{ stmt: stmt("SELECT 1") },
			{ stmt: stmt("SELEC 1") },
			{ condition: { type: "error", step: 1 }, stmt: stmt("SELECT 'after error'") },
			{ condition: { type: "ok", step: 1 }, stmt: stmt("SELECT 'skipped'") },
			{
				condition: {
					type: "and",
					conds: [
						{ type: "ok", step: 0 },
						{ type: "not", cond: { type: "ok", step: 1 } },
					],
				},
				stmt: stmt("SELECT 'and'"),
			},
			{
				condition: {
					type: "or",
					conds: [
						{ type: "ok", step: 3 },
						{ type: "error", step: 3 },
					],
				},
				stmt: stmt("SELECT 'skipped steps are neither ok nor error'"),
			},
			{ condition: { type: "is_autocommit" }, stmt: stmt("BEGIN") },
			{ condition: { type: "is_autocommit" }, stmt: stmt("SELECT 'not in autocommit'") },
			{ condition: { type: "ok", step: 42 }, stmt: stmt("SELECT 'bad reference'") },
		];
		const body = await reply(
			await server.post({
				baton: null,
				requests: [
					{ type: "batch", batch: { steps } },
					{ type: "get_autocommit" },
					{ type: "execute", stmt: stmt("ROLLBACK") },
					{ type: "get_autocommit" },
					{ type: "close" },
				],
			}),
		);
		const batch = body.results[0]?.response?.result;
		expect(batch?.step_results.map((r) => r !== null)).toEqual([
			true,
			false,
			true,
			false,
			true,
			false,
			true,
			false,
			false,
		]);
		expect(batch?.step_errors.map((e) => e?.code ?? null)).toEqual([
			null,
			"SQL_PARSE_ERROR",
			null,
			null,
			null,
			null,
			null,
			null,
			"BATCH_COND_INVALID",
		]);
		expect(batch?.step_results[4]?.rows).toEqual([[{ type: "text", value: "and" }]]);
		expect(body.results.map((r) => r.response?.is_autocommit)).toEqual([
			undefined,
			false,
			undefined,
			true,
			undefined,
		]);
	});

	it("runs stored SQL by id, and reports a closed id without failing the rest of the pipeline", async () => {
		const body = await reply(
			await server.post({
				baton: null,
				requests: [
					{ type: "store_sql", sql_id: 7, sql: "SELECT ? * 2 AS doubled" },
					{ type: "execute", stmt: { sql_id: 7, args: [{ type: "integer", value: "21" }] } },
					{ type: "close_sql", sql_id: 7 },
					{ type: "execute", stmt: { sql_id: 7, args: [] } },
					{ type: "execute", stmt: { sql: "SELECT 'still running' AS s" } },
					{ type: "close" },
				],
			}),
		);
		expect(body.results.map((r) => r.type)).toEqual(["ok", "ok", "ok", "error", "ok", "ok"]);
		expect(body.results[1]?.response).toMatchObject({
			result: { cols: [{ name: "doubled", decltype: null }], rows: [[{ type: "integer", value: "42" }]] },
		});
		expect(body.results[3]?.error?.code).toBe("SQL_NOT_FOUND");
	});
});

describe("stream limits", () => {
	const server = useServer({ streamIdleTimeoutMs: 150, maxStreams: 2 });

	it("expires an idle stream and rolls back its transaction", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const tx = await client.transaction("write");
		await tx.execute("INSERT INTO t (name) VALUES ('abandoned')");
		await sleep(400);
		expect((await rejection(tx.execute("SELECT 1"))).code).toBe("STREAM_EXPIRED");
		expect(await count(client)).toBe(0);
		await client.execute("INSERT INTO t (name) VALUES ('lock released')");
		expect(await count(client)).toBe(1);
	});

	it("refuses a stream beyond maxStreams with 503 until one closes", async () => {
		const client = server.client();
		await client.execute(CREATE_T);
		const first = await client.transaction("read");
		await first.execute("SELECT 1");
		const second = await client.transaction("read");
		await second.execute("SELECT 1");
		const error = await rejection(client.execute("SELECT 1"));
		expect(error.code).toBe("TOO_MANY_STREAMS");
		await first.commit();
		expect((await client.execute("SELECT 1 AS one")).rows[0]?.one).toBe(1);
		second.close();
	});
});

describe("createHranaHandler", () => {
	let dir = "";
	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "hrana-handler-"));
	});
	afterEach(() => rmSync(dir, { recursive: true, force: true }));

	it("serves a client through a custom fetch, with no network in between", async () => {
		const handler = createHranaHandler({ url: `file://${join(dir, "fetch.db")}` });
		const client = createClient({
			url: "http://hrana.invalid",
			fetch: (request: Request) => handler(request),
		});
		try {
			await client.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)");
			await client.batch([{ sql: "INSERT INTO kv VALUES (?, ?)", args: ["k", "v"] }], "write");
			expect((await client.execute("SELECT v FROM kv")).rows[0]?.v).toBe("v");
		} finally {
			client.close();
			handler.close();
		}
	});

	it("refuses :memory: and URLs that are not file: URLs", () => {
		expect(() => createHranaHandler({ url: ":memory:" })).toThrow(/file: URL/);
		expect(() => createHranaHandler({ url: "file::memory:" })).toThrow(/:memory:/);
		expect(() => createHranaHandler({ url: "http://127.0.0.1:8080" })).toThrow(/file: URL/);
	});
});
