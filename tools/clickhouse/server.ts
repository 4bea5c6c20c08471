/**
 * ClickHouse HTTP stand-in: serves the subset of ClickHouse's HTTP interface that the official
 * clients (`@clickhouse/client` on Node, `@clickhouse/client-web` on Workers) use, from chdb —
 * embedded ClickHouse, the real engine — with a data directory on disk. Like tools/hrana for
 * libSQL: tests and benches talk to a real ClickHouse engine through the real client on a machine
 * where no ClickHouse server can be installed. chdb is installed on demand (scripts/clickhouse-engine.ts).
 *
 * What the client sends (read from @clickhouse/client 1.23):
 * - `GET /ping` (answered `Ok.`), and with `ping({ select: true })` a `SELECT 1` query.
 * - `query()`/`command()`/`exec()`: `POST /?query_id=…&param_x=…&<setting>=…&database=…` with the
 *   statement as the body (`query()` appends `FORMAT <format>`). Query parameters are the text
 *   format (`\N` for NULL, `\\`, `\'`, `\t`, `\n`, `\r` escaped); past the URL budget the client
 *   sends them, and the statement, as a multipart/form-data body instead.
 * - `insert()`: `POST /?query=INSERT INTO t (cols) FORMAT JSONEachRow&…` with the rows as the body.
 *   As on ClickHouse, the statement is the `query` parameter followed by the body.
 * - Credentials as `X-ClickHouse-User`/`X-ClickHouse-Key` or HTTP Basic.
 * Errors are answered as ClickHouse does: the status (400 for a statement that cannot be parsed,
 * 403 for a failed login, 404 for an unknown table or database, 500 otherwise), the
 * `X-ClickHouse-Exception-Code` header and a `Code: N. DB::Exception: … (TYPE) (version …)` body,
 * which the client turns into a ClickHouseError with `code` and `type`.
 *
 * Not modelled: sessions (`session_id` is accepted and ignored: every request sees the same
 * engine; a `SET` or `USE` statement sent by a client would outlive its request, unlike on
 * ClickHouse — the URL's settings and database are applied per request as ClickHouse does), response compression (never compressed; the client reads plain bodies), progress
 * headers, `readonly` for GET requests, and concurrency: statements run one at a time, in arrival
 * order, because one chdb session is one engine connection.
 */
import { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import type { ChdbModule, ChdbSession } from "../../scripts/clickhouse-engine.js";

export interface ClickHouseStandInOptions {
	/** The engine's data directory (created when missing; kept between runs: MergeTree data persists). */
	path: string;
	/** When set, requests must carry these credentials (X-ClickHouse-User/Key or Basic), else 403. */
	username?: string;
	password?: string;
	/** Largest request body accepted; a larger one gets 413. */
	maxBodyBytes?: number;
}

export type ClickHouseHandler = ((request: Request) => Promise<Response>) & {
	/** Closes the engine's session; later requests get 503. */
	close(): void;
	/** The engine's version, e.g. `26.7.2.1`. */
	readonly version: string;
};

export interface ClickHouseStandIn {
	url: string;
	port: number;
	version: string;
	close(): Promise<void>;
	/** Lets the process exit while the stand-in still listens (a test runner's main process). */
	unref(): void;
}

/** URL parameters that are the HTTP interface's own, not settings. */
const NOT_SETTINGS = new Set([
	"query",
	"query_id",
	"database",
	"default_format",
	"session_id",
	"session_timeout",
	"session_check",
	"user",
	"password",
	"quota_key",
	"role",
	"compress",
	"decompress",
	"buffer_size",
	"wait_end_of_query",
]);
/** Settings the HTTP interface reads itself; SET would refuse some of them in clickhouse-local. */
const HTTP_ONLY_SETTINGS = new Set([
	"enable_http_compression",
	"http_zlib_compression_level",
	"send_progress_in_http_headers",
	"http_headers_progress_interval_ms",
	"cancel_http_readonly_queries_on_client_close",
]);
const SETTING_NAME = /^[a-z][a-z0-9_]*$/;
const SETTING_VALUE = /^[A-Za-z0-9_.+-]*$/;
const CONTENT_TYPES: Record<string, string> = {
	JSON: "application/json; charset=UTF-8",
	JSONCompact: "application/json; charset=UTF-8",
	JSONEachRow: "application/x-ndjson; charset=UTF-8",
	JSONCompactEachRow: "application/x-ndjson; charset=UTF-8",
	JSONStringsEachRow: "application/x-ndjson; charset=UTF-8",
	CSV: "text/csv; charset=UTF-8; header=absent",
	TabSeparated: "text/tab-separated-values; charset=UTF-8",
};

/** The ClickHouse exception codes answered with a status other than 500 (as ClickHouse's HTTPHandler). */
const STATUS_BY_CODE: Record<number, number> = {
	62: 400, // SYNTAX_ERROR
	27: 400, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	26: 400, // CANNOT_PARSE_QUOTED_STRING
	456: 400, // UNKNOWN_QUERY_PARAMETER
	457: 400, // BAD_QUERY_PARAMETER
	115: 400, // UNKNOWN_SETTING
	516: 403, // AUTHENTICATION_FAILED
	60: 404, // UNKNOWN_TABLE
	81: 404, // UNKNOWN_DATABASE
};

class ClickHouseFailure extends Error {
	constructor(
		readonly code: number,
		readonly type: string,
		message: string,
	) {
		super(message);
	}
}

/**
 * chdb allows one data directory per process: stand-ins over the same path share its session (and
 * its queue); the session closes with the last of them.
 */
interface Engine {
	session: ChdbSession;
	users: number;
	queue: Promise<unknown>;
	/** What the session has applied: the database in use and the settings set (see `run`). */
	database: string;
	settings: Map<string, string>;
}
const engines = new Map<string, Engine>();

function acquireEngine(chdb: ChdbModule, path: string): Engine {
	let engine = engines.get(path);
	if (!engine) {
		engine = {
			session: new chdb.Session(path),
			users: 0,
			queue: Promise.resolve(),
			database: "default",
			settings: new Map(),
		};
		engines.set(path, engine);
	}
	engine.users++;
	return engine;
}

function releaseEngine(path: string, engine: Engine): void {
	engine.users--;
	if (engine.users > 0) return;
	engines.delete(path);
	// After the statements in flight: closing a session under a running statement is refused.
	void engine.queue.then(() => engine.session.close());
}

export function createClickHouseHandler(
	chdb: ChdbModule,
	options: ClickHouseStandInOptions,
): ClickHouseHandler {
	const engine = acquireEngine(chdb, options.path);
	const version = chdb.version().libchdb.replaceAll('"', "");
	const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
	let closed = false;
	/** Statements run one at a time, in arrival order: one chdb session is one engine connection. */
	const serialized = <T>(work: () => Promise<T>): Promise<T> => {
		const run = engine.queue.then(work, work);
		engine.queue = run.catch(() => undefined);
		return run;
	};

	const handler = async (request: Request): Promise<Response> => {
		const url = new URL(request.url);
		if (url.pathname === "/ping" && (request.method === "GET" || request.method === "HEAD")) {
			return new Response("Ok.\n", { headers: { "Content-Type": "text/html; charset=UTF-8" } });
		}
		const queryId = url.searchParams.get("query_id") || crypto.randomUUID();
		try {
			if (closed) throw new ClickHouseFailure(210, "NETWORK_ERROR", "The ClickHouse stand-in is closed");
			if (url.pathname !== "/" || (request.method !== "GET" && request.method !== "POST")) {
				return new Response(`There is no handle ${url.pathname}\n`, { status: 404 });
			}
			authenticate(request, url, options);
			const { statement, params } = await readRequest(request, url, maxBodyBytes);
			if (statement.trim() === "") throw new ClickHouseFailure(62, "SYNTAX_ERROR", "Empty query");
			const settings = settingsOf(url);
			const database = url.searchParams.get("database");
			const format = url.searchParams.get("default_format") || "TabSeparated";
			const result = await serialized(() =>
				run(engine, { statement, params: bindable(statement, params), settings, database, format }),
			);
			const isInsert = /^\s*INSERT\b/i.test(statement);
			const shownFormat = isInsert ? undefined : (lastFormat(statement) ?? format);
			const written = isInsert ? insertedRows(statement) : 0;
			return new Response(isInsert ? "" : result.text, {
				headers: {
					"Content-Type": CONTENT_TYPES[shownFormat ?? ""] ?? "text/plain; charset=UTF-8",
					"X-ClickHouse-Query-Id": queryId,
					...(shownFormat ? { "X-ClickHouse-Format": shownFormat } : {}),
					"X-ClickHouse-Server-Display-Name": "hexcovery-clickhouse-stand-in",
					"X-ClickHouse-Summary": JSON.stringify({
						read_rows: String(result.rowsRead),
						read_bytes: String(result.bytesRead),
						written_rows: String(written),
						written_bytes: "0",
						total_rows_to_read: "0",
						result_rows: "0",
						result_bytes: "0",
						elapsed_ns: String(Math.round(result.elapsed * 1e9)),
					}),
				},
			});
		} catch (error) {
			return errorResponse(error, version, queryId);
		}
	};
	return Object.assign(handler, {
		version,
		close() {
			if (closed) return;
			closed = true;
			releaseEngine(options.path, engine);
		},
	});
}

/** Serves the stand-in on `hostname:port` (127.0.0.1, and any free port by default). */
export async function serveClickHouse(
	chdb: ChdbModule,
	options: ClickHouseStandInOptions & { port?: number; hostname?: string },
): Promise<ClickHouseStandIn> {
	const { port = 0, hostname = "127.0.0.1", ...handlerOptions } = options;
	const handler = createClickHouseHandler(chdb, handlerOptions);
	const server = await new Promise<ServerType>((resolve, reject) => {
		const started = serve({ fetch: handler, port, hostname }, () => resolve(started));
		started.once("error", reject);
	});
	const actualPort = (server.address() as AddressInfo).port;
	return {
		url: `http://${hostname}:${actualPort}`,
		port: actualPort,
		version: handler.version,
		unref: () => {
			server.unref();
		},
		close: () =>
			new Promise<void>((resolve, reject) => {
				handler.close();
				server.close((error) => (error ? reject(error) : resolve()));
				if (server instanceof HttpServer) server.closeAllConnections();
			}),
	};
}

// ---------------------------------------------------------------------------------------------

function authenticate(request: Request, url: URL, options: ClickHouseStandInOptions): void {
	if (options.username === undefined && options.password === undefined) return;
	let user = request.headers.get("X-ClickHouse-User") ?? url.searchParams.get("user");
	let key = request.headers.get("X-ClickHouse-Key") ?? url.searchParams.get("password");
	const basic = /^Basic\s+(.+)$/i.exec(request.headers.get("Authorization") ?? "");
	if (basic?.[1]) {
		const decoded = Buffer.from(basic[1], "base64").toString("utf8");
		const colon = decoded.indexOf(":");
		user = colon < 0 ? decoded : decoded.slice(0, colon);
		key = colon < 0 ? "" : decoded.slice(colon + 1);
	}
	if ((user ?? "default") !== (options.username ?? "default") || (key ?? "") !== (options.password ?? "")) {
		throw new ClickHouseFailure(
			516,
			"AUTHENTICATION_FAILED",
			`${user ?? "default"}: Authentication failed: password is incorrect, or there is no user with such name.`,
		);
	}
}

/** The statement (URL `query` then the body, as ClickHouse reads them) and the text-format parameters. */
async function readRequest(
	request: Request,
	url: URL,
	maxBodyBytes: number,
): Promise<{ statement: string; params: Map<string, string> }> {
	const params = new Map<string, string>();
	for (const [key, value] of url.searchParams) if (key.startsWith("param_")) params.set(key.slice(6), value);
	const length = Number(request.headers.get("Content-Length") ?? 0);
	if (length > maxBodyBytes) {
		throw new ClickHouseFailure(
			241,
			"MEMORY_LIMIT_EXCEEDED",
			`The request body is over ${maxBodyBytes} bytes`,
		);
	}
	const contentType = request.headers.get("Content-Type") ?? "";
	let body = "";
	if (request.method === "POST" && contentType.startsWith("multipart/form-data")) {
		const form = await request.formData();
		for (const [key, value] of form) {
			if (typeof value !== "string") continue;
			if (key === "query") body = value;
			else if (key.startsWith("param_")) params.set(key.slice(6), value);
		}
	} else if (request.method === "POST") {
		body = await request.text();
		if (body.length > maxBodyBytes) {
			throw new ClickHouseFailure(
				241,
				"MEMORY_LIMIT_EXCEEDED",
				`The request body is over ${maxBodyBytes} bytes`,
			);
		}
	}
	const fromUrl = url.searchParams.get("query") ?? "";
	return { statement: fromUrl && body ? `${fromUrl}\n${body}` : fromUrl || body, params };
}

/** URL parameters that are settings, checked to be plain names and values. */
function settingsOf(url: URL): [string, string][] {
	const settings: [string, string][] = [];
	for (const [key, value] of url.searchParams) {
		if (key.startsWith("param_") || NOT_SETTINGS.has(key) || HTTP_ONLY_SETTINGS.has(key)) continue;
		if (!SETTING_NAME.test(key) || !SETTING_VALUE.test(value)) {
			throw new ClickHouseFailure(
				115,
				"UNKNOWN_SETTING",
				`Setting ${key} cannot be set to ${JSON.stringify(value)}`,
			);
		}
		settings.push([key, value]);
	}
	return settings;
}

/**
 * The parameters as chdb binds them: chdb takes values (it escapes strings itself), so the HTTP
 * text format is undone for the parameters the statement declares as strings; `\N` is NULL for any.
 */
function bindable(statement: string, params: Map<string, string>): Record<string, string | null> {
	if (params.size === 0) return {};
	const types = new Map<string, string>();
	// An INSERT's parameters are in its statement, not in the data after it.
	const data = insertDataStart(statement);
	const text = data < 0 ? statement : statement.slice(0, data);
	for (const match of text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^}]+)\}/g)) {
		types.set(match[1] as string, (match[2] as string).trim());
	}
	const out: Record<string, string | null> = {};
	for (const [name, text] of params) {
		const type = types.get(name);
		if (type === undefined) continue; // ClickHouse ignores parameters the statement does not use
		if (text === "\\N") out[name] = null;
		else
			out[name] = /^(Nullable\(|LowCardinality\()*(String|FixedString\(\d+\))\)*$/.test(type)
				? unescapeText(text)
				: text;
	}
	return out;
}

const ESCAPES: Record<string, string> = {
	b: "\b",
	f: "\f",
	r: "\r",
	n: "\n",
	t: "\t",
	"0": "\0",
	a: "\x07",
	v: "\v",
};

/** Undoes the text format's escaping (`\\` → `\`, `\n` → newline, `\'` → `'`, …). */
function unescapeText(text: string): string {
	return text.replaceAll(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c);
}

interface Run {
	statement: string;
	params: Record<string, string | null>;
	settings: [string, string][];
	database: string | null;
	format: string;
}

interface RunResult {
	text: string;
	rowsRead: number;
	bytesRead: number;
	elapsed: number;
}

/**
 * One request on the shared session, with its database and settings and no other request's: the
 * session is switched only where the request differs from what it has applied (an unset setting
 * back to DEFAULT), so a run of requests with the same settings costs no extra statements.
 */
async function run(engine: Engine, request: Run): Promise<RunResult> {
	const exec = (sql: string) => engine.session.queryBindAsync(sql, {}, { format: "TabSeparated" });
	try {
		const database = request.database || "default";
		if (engine.database !== database) {
			await exec(`USE ${quoteName(database)}`);
			engine.database = database;
		}
		const wanted = new Map(request.settings);
		for (const name of [...engine.settings.keys()]) {
			if (wanted.has(name)) continue;
			await exec(`SET ${name} = DEFAULT`);
			engine.settings.delete(name);
		}
		for (const [name, value] of wanted) {
			if (engine.settings.get(name) === value) continue;
			await exec(`SET ${name} = ${/^-?[0-9.]+$/.test(value) ? value : `'${value}'`}`);
			engine.settings.set(name, value);
		}
		const result = await engine.session.queryBindAsync(request.statement, request.params, {
			format: request.format,
		});
		return {
			text: result.text(),
			rowsRead: result.rowsRead,
			bytesRead: result.bytesRead,
			elapsed: result.elapsed,
		};
	} catch (error) {
		throw toFailure(error);
	}
}

function quoteName(name: string): string {
	return `\`${name.replaceAll("\\", "\\\\").replaceAll("`", "\\`")}\``;
}

/** The format an explicit `FORMAT X` at the end of a SELECT asks for. */
function lastFormat(statement: string): string | undefined {
	return /\bFORMAT\s+([A-Za-z]+)\s*;?\s*$/i.exec(statement)?.[1];
}

/**
 * Where an `INSERT … FORMAT X` statement's data begins (the line after it: how the clients send an
 * insert, and how readRequest joins the URL's statement and the body), or -1.
 */
function insertDataStart(statement: string): number {
	const head = /^\s*INSERT\b[^\n]*\bFORMAT\s+[A-Za-z]+[ \t]*\n/i.exec(statement);
	return head ? head[0].length : -1;
}

/** Rows in an INSERT's line-delimited data (JSONEachRow and friends): its non-empty lines after the first. */
function insertedRows(statement: string): number {
	let rows = 0;
	let start = insertDataStart(statement) - 1;
	if (start < 0) return 0;
	while (start < statement.length) {
		let end = statement.indexOf("\n", start + 1);
		if (end < 0) end = statement.length;
		if (statement.slice(start + 1, end).trim() !== "") rows++;
		start = end;
	}
	return rows;
}

function toFailure(error: unknown): ClickHouseFailure {
	if (error instanceof ClickHouseFailure) return error;
	const message = error instanceof Error ? error.message : String(error);
	const match =
		/Code: (\d+)\.\s*DB::Exception:\s*(.*?)\s*\(([A-Z0-9_]{3,})\)(?:\s*\(version [^)]*\))?\.?\s*$/s.exec(
			message,
		);
	if (match)
		return new ClickHouseFailure(
			Number(match[1]),
			match[3] as string,
			(match[2] as string).replace(/\.$/, ""),
		);
	return new ClickHouseFailure(1001, "STD_EXCEPTION", message);
}

function errorResponse(error: unknown, version: string, queryId: string): Response {
	const failure = toFailure(error);
	return new Response(
		`Code: ${failure.code}. DB::Exception: ${failure.message}. (${failure.type}) (version ${version} (official build))\n`,
		{
			status: STATUS_BY_CODE[failure.code] ?? 500,
			headers: {
				"Content-Type": "text/plain; charset=UTF-8",
				"X-ClickHouse-Exception-Code": String(failure.code),
				"X-ClickHouse-Query-Id": queryId,
			},
		},
	);
}
