/**
 * libSQL HTTP stand-in: serves "Hrana over HTTP" (the protocol sqld and Turso speak) from an
 * embedded libSQL database file, so `@libsql/client/web` can be used by `wrangler dev` and by tests
 * in workerd on a machine without a sqld binary.
 *
 * What the real client needs (read from @libsql/client 0.18 and @libsql/hrana-client 0.10):
 * - `createClient({ url: "http://…" })` opens its HTTP client at protocol version 2 and never
 *   probes a version endpoint: every call is `POST /v2/pipeline` with a JSON `{ baton, requests }`.
 * - `execute` sends [execute, close]; `batch` sends [store_sql…, batch, close] where the batch is
 *   BEGIN, the statements each guarded by `ok(previous step)`, COMMIT guarded by `ok`, and ROLLBACK
 *   guarded by `not(ok(COMMIT))`; `executeMultiple` sends [sequence, close]; `transaction()` keeps a
 *   baton across several pipelines and ends with COMMIT or ROLLBACK plus close; `close_sql` is sent
 *   when the client's statement cache evicts. This client sends neither `describe` nor the protocol 3
 *   `get_autocommit` request and `is_autocommit` condition; they are accepted all the same.
 *
 * Design: a stream is a connection. Every stream opens its own libSQL connection to the database
 * file, so a transaction left open on one stream (across HTTP requests, by baton) is isolated from
 * every other stream, as on sqld. That is why the database is given as `{ url }` (a `file:` URL)
 * rather than as a `Client`: a `Client` pools its connections and rolls back whatever a borrowed
 * connection left open, so a `BEGIN` could not outlive one call; and `:memory:` is refused, because
 * every connection to it is a separate, empty database. The driver is `libsql`, the package
 * `@libsql/client` itself runs on, used directly because only it exposes a single connection.
 * Streams wait for each other's write locks without blocking the event loop (see "Statements and
 * locking" below for why that takes care).
 *
 * Fidelity to sqld where it is cheap: error codes and messages (`SQLite error: …` with the base
 * SQLite code, `SQL_PARSE_ERROR`, `SQL_MANY_STATEMENTS`, …), `affected_row_count` reported only for
 * INSERT/UPDATE/DELETE and `last_insert_rowid` only for INSERT, WAL journal mode, a 10 s idle stream
 * expiry and sqld's limits on stored SQL texts. Not modelled: cursors, protobuf, `describe` (answered
 * with an error), sqld's transaction timeout, checking the number of arguments against the number
 * of parameters (libSQL binds missing ones as NULL and ignores extra ones), and text containing
 * NUL characters, which libSQL's JavaScript binding cuts short when reading.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { clearTimeout, setTimeout as startTimer } from "node:timers";
import { setTimeout as sleep } from "node:timers/promises";
import { type ServerType, serve } from "@hono/node-server";
import Database from "libsql";

/** The database to serve: a `file:` URL, as given to `createClient` (`file:/abs.db`, `file:rel.db`). */
export interface HranaDatabase {
	url: string;
}

export interface HranaServerOptions {
	/** When set, pipeline requests must carry `Authorization: Bearer <token>`, else they get 401. */
	authToken?: string;
	/** A stream unused for this long is closed and its open transaction rolled back. sqld: 10 s. */
	streamIdleTimeoutMs?: number;
	/** Streams open at once; a request that would open one more gets 503. */
	maxStreams?: number;
	/** Largest request body accepted; a larger one gets 413. */
	maxBodyBytes?: number;
	/** How long a statement waits for another stream's write lock before failing with SQLITE_BUSY. */
	busyTimeoutMs?: number;
}

/** A fetch-style handler, usable from Node (via @hono/node-server) and as miniflare's outboundService. */
export type HranaHandler = ((request: Request) => Promise<Response>) & {
	/** Closes every idle stream (rolling back its transaction) and refuses further requests. */
	close(): void;
};

export interface HranaServer {
	url: string;
	port: number;
	close(): Promise<void>;
}

const DEFAULTS = {
	streamIdleTimeoutMs: 10_000,
	maxStreams: 256,
	maxBodyBytes: 10 * 1024 * 1024,
	busyTimeoutMs: 5_000,
};

type Settings = typeof DEFAULTS & { authToken: string | undefined };

/** What request handling needs besides the request: the settings and a way to open a connection. */
interface Context {
	settings: Settings;
	openConnection(): Connection;
}

/** sqld's limits on `store_sql`: the client's statement cache is sized to stay below them. */
const MAX_STORED_SQLS = 50;
const MAX_STORED_SQL_BYTES = 5 * 1024;
/** Expired stream ids remembered so a late request is told "expired" rather than "invalid baton". */
const REMEMBERED_EXPIRED_STREAMS = 1024;
/** Batch conditions nest; bound the depth so a hostile body cannot exhaust the stack. */
const MAX_CONDITION_DEPTH = 100;

type Connection = Database.Database;
/** What libSQL binds and returns with safe integers on: integers are always bigint, REALs number. */
type SqlValue = null | bigint | number | string | Buffer;

export function createHranaHandler(database: HranaDatabase, options: HranaServerOptions = {}): HranaHandler {
	const settings: Settings = { ...DEFAULTS, ...definedOnly(options), authToken: options.authToken };
	const path = databasePath(database.url);
	prepareDatabaseFile(path);
	const context: Context = { settings, openConnection: () => new Database(path) };
	const streams = new StreamRegistry(context);

	const handler = async (request: Request): Promise<Response> => {
		try {
			return await route(request, streams, context);
		} catch (error) {
			if (error instanceof HttpFailure) return error.toResponse();
			console.error("hrana stand-in: request failed", error);
			return jsonResponse(500, { message: `Internal error: ${messageOf(error)}`, code: "INTERNAL_ERROR" });
		}
	};
	return Object.assign(handler, { close: () => streams.closeAll() });
}

/** Serves the handler on `hostname:port` (127.0.0.1, and any free port by default). */
export async function serveHrana(
	database: HranaDatabase,
	options: HranaServerOptions & { port?: number; hostname?: string } = {},
): Promise<HranaServer> {
	const { port = 0, hostname = "127.0.0.1", ...handlerOptions } = options;
	const handler = createHranaHandler(database, handlerOptions);
	let server: ServerType;
	try {
		server = await listen(handler, port, hostname);
	} catch (error) {
		handler.close();
		throw error;
	}
	const actualPort = (server.address() as AddressInfo).port;
	return {
		url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${actualPort}`,
		port: actualPort,
		close: () => closeServer(server, handler),
	};
}

function listen(handler: HranaHandler, port: number, hostname: string): Promise<ServerType> {
	return new Promise((resolve, reject) => {
		const server = serve({ fetch: handler, port, hostname }, () => resolve(server));
		server.once("error", reject);
	});
}

function closeServer(server: ServerType, handler: HranaHandler): Promise<void> {
	handler.close();
	return new Promise((resolve, reject) => {
		server.close((error) => (error ? reject(error) : resolve()));
		// keep-alive sockets from fetch would otherwise hold close() open until they time out
		if (server instanceof HttpServer) server.closeAllConnections();
	});
}

// ---------------------------------------------------------------------------------------------
// Database file

/** Accepts the `file:` URL forms `createClient` accepts and returns the file path. */
function databasePath(url: string): string {
	if (!url.startsWith("file:")) {
		throw new TypeError(`The Hrana stand-in serves a database file and needs a file: URL, got ${url}`);
	}
	let rest = url.slice("file:".length);
	if (/[?#]/.test(rest)) throw new TypeError(`The database URL must not have a query or fragment: ${url}`);
	if (rest.startsWith("//")) {
		const slash = rest.indexOf("/", 2);
		const host = rest.slice(2, slash < 0 ? undefined : slash);
		if (host !== "" && host !== "localhost") throw new TypeError(`A file: URL cannot name a host: ${url}`);
		rest = slash < 0 ? "" : rest.slice(slash);
	}
	const path = decodeURIComponent(rest);
	if (path === "" || path === ":memory:") {
		throw new TypeError(
			"The Hrana stand-in opens one connection per stream, and every connection to :memory: is a " +
				"separate empty database; use a file: URL (a file under os.tmpdir() is fine).",
		);
	}
	return path;
}

/** Fails fast when the file cannot be opened, and switches it to WAL as sqld runs it. */
function prepareDatabaseFile(path: string): void {
	const connection = new Database(path);
	try {
		// WAL lets a stream read while another holds an open write transaction, as on sqld.
		connection.exec("PRAGMA journal_mode = WAL");
	} finally {
		connection.close();
	}
}

// ---------------------------------------------------------------------------------------------
// HTTP

class HttpFailure extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly code: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}

	toResponse(): Response {
		return jsonResponse(this.status, { message: this.message, code: this.code }, this.headers);
	}
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
	// the client checks for exactly "application/json" before reading an error body
	return new Response(JSON.stringify(body), {
		status,
		headers: { ...headers, "content-type": "application/json" },
	});
}

async function route(request: Request, streams: StreamRegistry, context: Context): Promise<Response> {
	const { pathname } = new URL(request.url);
	switch (pathname) {
		case "/v2/pipeline":
			requireMethod(request, ["POST"]);
			return handlePipeline(request, streams, context);
		case "/v2":
		case "/health":
			// the version probe of Hrana over HTTP, and sqld's health check
			requireMethod(request, ["GET", "HEAD"]);
			return new Response(request.method === "HEAD" ? null : "Hello, this is HTTP API v2 (Hrana over HTTP)", {
				headers: { "content-type": "text/plain" },
			});
		default:
			throw new HttpFailure(404, `No Hrana endpoint at ${pathname}`, "NOT_FOUND");
	}
}

function requireMethod(request: Request, allowed: string[]): void {
	if (!allowed.includes(request.method)) {
		throw new HttpFailure(405, `Method ${request.method} is not allowed here`, "METHOD_NOT_ALLOWED", {
			allow: allowed.join(", "),
		});
	}
}

async function handlePipeline(
	request: Request,
	streams: StreamRegistry,
	context: Context,
): Promise<Response> {
	const denied = authFailure(request, context.settings.authToken);
	if (denied) return denied;
	const body = decodePipelineBody(parseJson(await readBody(request, context.settings.maxBodyBytes)));
	const stream = body.baton === undefined ? streams.open() : streams.acquire(body.baton);
	let outcome: PipelineOutcome;
	try {
		outcome = await runPipeline(stream, body.requests, context);
	} catch (error) {
		// an unexpected failure leaves the stream in an unknown state: do not hand it out again
		streams.close(stream);
		throw error;
	}
	let baton: string | null = null;
	if (outcome.closed) streams.close(stream);
	else baton = streams.release(stream);
	return jsonResponse(200, { baton, base_url: null, results: outcome.results });
}

/** sqld answers a bad token with 401 and `{ error }`, which the client reports as SERVER_ERROR. */
function authFailure(request: Request, expected: string | undefined): Response | undefined {
	if (expected === undefined) return undefined;
	const header = request.headers.get("authorization") ?? "";
	const match = /^Bearer\s+(.+)$/i.exec(header.trim());
	if (match?.[1] !== undefined && sameSecret(match[1], expected)) return undefined;
	const reason = header === "" ? "the Authorization header is missing" : "the token is not valid";
	return jsonResponse(401, { error: `Unauthorized: ${reason}` }, { "www-authenticate": "Bearer" });
}

function sameSecret(given: string, expected: string): boolean {
	// hashing first gives equal lengths, which timingSafeEqual requires
	const digest = (text: string) => createHash("sha256").update(text).digest();
	return timingSafeEqual(digest(given), digest(expected));
}

async function readBody(request: Request, limit: number): Promise<string> {
	const tooLarge = () => new HttpFailure(413, `The request body exceeds ${limit} bytes`, "BODY_TOO_LARGE");
	if (Number(request.headers.get("content-length")) > limit) throw tooLarge();
	if (request.body === null) return "";
	// a chunked body has no declared length, so the limit is also enforced while reading
	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > limit) {
			await reader.cancel();
			throw tooLarge();
		}
		chunks.push(value);
	}
	return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new HttpFailure(400, `The request body is not valid JSON: ${messageOf(error)}`, "PROTOCOL_ERROR");
	}
}

// ---------------------------------------------------------------------------------------------
// Streams and batons

interface Stream {
	readonly id: string;
	/** Replaced only when a busy prepared statement made it unusable (see "Statements and locking"). */
	connection: Connection;
	/** SQL texts stored with `store_sql`; their scope is the stream. */
	readonly sqls: Map<number, string>;
	/** The secret half of the baton that the next request on this stream must present. */
	token: string;
	/** Set while a request runs on the stream, so a replayed baton cannot run concurrently. */
	acquired: boolean;
	/** The connection was replaced while in a transaction: only ROLLBACK is accepted until then. */
	lostTransaction: boolean;
	idleTimer: ReturnType<typeof startTimer> | undefined;
}

/**
 * A baton is `<stream id>.<token>`, both random. The token changes with every response, so each
 * baton is good for exactly one request, which keeps requests on a stream in order (as the spec
 * asks) and makes batons unguessable without signing them.
 */
class StreamRegistry {
	readonly #streams = new Map<string, Stream>();
	readonly #expired = new Set<string>();
	#closed = false;

	constructor(private readonly context: Context) {}

	/** Opens a stream for a request with a null baton; the stream starts out acquired. */
	open(): Stream {
		if (this.#closed) throw new HttpFailure(503, "The server is shutting down", "SERVER_CLOSED");
		if (this.#streams.size >= this.context.settings.maxStreams) {
			throw new HttpFailure(
				503,
				`Too many open streams (${this.context.settings.maxStreams}); close transactions that are no longer needed`,
				"TOO_MANY_STREAMS",
			);
		}
		const stream: Stream = {
			id: randomToken(12),
			connection: this.context.openConnection(),
			sqls: new Map(),
			token: "",
			acquired: true,
			lostTransaction: false,
			idleTimer: undefined,
		};
		this.#streams.set(stream.id, stream);
		return stream;
	}

	/** Looks up the stream a baton points to and takes it out of circulation until `release`. */
	acquire(baton: string): Stream {
		const [id = "", token = ""] = baton.split(".");
		const stream = this.#streams.get(id);
		if (stream === undefined) {
			if (this.#expired.has(id)) {
				throw new HttpFailure(400, "The stream has expired due to inactivity", "STREAM_EXPIRED");
			}
			throw new HttpFailure(400, "The baton does not belong to an open stream", "BATON_INVALID");
		}
		if (stream.acquired || !sameSecret(token, stream.token)) {
			throw new HttpFailure(400, "The baton has already been used", "BATON_REUSED");
		}
		clearTimeout(stream.idleTimer);
		stream.idleTimer = undefined;
		stream.acquired = true;
		return stream;
	}

	/** Makes the stream available to its next request and returns the baton for it. */
	release(stream: Stream): string | null {
		if (this.#closed) {
			this.close(stream);
			return null;
		}
		stream.acquired = false;
		stream.token = randomToken(18);
		stream.idleTimer = startTimer(() => this.#expire(stream), this.context.settings.streamIdleTimeoutMs);
		// an idle stream must not keep the Node process alive
		stream.idleTimer.unref();
		return `${stream.id}.${stream.token}`;
	}

	/** Closes the stream's connection, rolling back a transaction left open. */
	close(stream: Stream): void {
		clearTimeout(stream.idleTimer);
		this.#streams.delete(stream.id);
		closeConnection(stream.connection);
	}

	/** Closes the idle streams now; streams in the middle of a request close when it finishes. */
	closeAll(): void {
		this.#closed = true;
		for (const stream of this.#streams.values()) {
			if (!stream.acquired) this.close(stream);
		}
	}

	#expire(stream: Stream): void {
		if (stream.acquired || this.#streams.get(stream.id) !== stream) return;
		this.close(stream);
		this.#expired.add(stream.id);
		if (this.#expired.size > REMEMBERED_EXPIRED_STREAMS) {
			const oldest = this.#expired.values().next().value;
			if (oldest !== undefined) this.#expired.delete(oldest);
		}
	}
}

/**
 * libSQL keeps a closed connection alive while statements prepared on it are still referenced, and
 * a connection kept alive keeps its transaction and its write lock, so roll back explicitly first.
 */
function closeConnection(connection: Connection): void {
	if (!connection.open) return;
	try {
		if (connection.inTransaction) connection.exec("ROLLBACK");
	} catch {
		// nothing more can be done for it; closing is still right
	}
	connection.close();
}

function randomToken(bytes: number): string {
	return randomBytes(bytes).toString("base64url");
}

// ---------------------------------------------------------------------------------------------
// Protocol: decoded requests

/** The whole request is malformed: answered with HTTP 400 before anything runs, as sqld does. */
class ProtocolError extends Error {}

interface Stmt {
	sql: string | undefined;
	sqlId: number | undefined;
	args: SqlValue[];
	namedArgs: Array<[string, SqlValue]>;
	wantRows: boolean;
}

type Condition =
	| { type: "ok" | "error"; step: number }
	| { type: "not"; cond: Condition }
	| { type: "and" | "or"; conds: Condition[] }
	| { type: "is_autocommit" };

interface BatchStep {
	condition: Condition | undefined;
	stmt: Stmt;
}

type StreamRequest =
	| { type: "close" | "get_autocommit" }
	| { type: "execute"; stmt: Stmt }
	| { type: "batch"; steps: BatchStep[] }
	| { type: "sequence" | "describe"; sql: string | undefined; sqlId: number | undefined }
	| { type: "store_sql"; sqlId: number; sql: string }
	| { type: "close_sql"; sqlId: number };

interface PipelineBody {
	baton: string | undefined;
	requests: StreamRequest[];
}

type JsonObject = Record<string, unknown>;

function decodePipelineBody(json: unknown): PipelineBody {
	try {
		const body = asObject(json, "body");
		return {
			baton: optionalString(body.baton, "baton"),
			requests: asArray(body.requests, "requests").map((request, i) =>
				decodeStreamRequest(request, `requests[${i}]`),
			),
		};
	} catch (error) {
		if (error instanceof ProtocolError) throw new HttpFailure(400, error.message, "PROTOCOL_ERROR");
		throw error;
	}
}

function decodeStreamRequest(json: unknown, at: string): StreamRequest {
	const request = asObject(json, at);
	const type = request.type;
	switch (type) {
		case "close":
		case "get_autocommit":
			return { type };
		case "execute":
			return { type, stmt: decodeStmt(request.stmt, `${at}.stmt`) };
		case "batch": {
			const batch = asObject(request.batch, `${at}.batch`);
			const steps = asArray(batch.steps, `${at}.batch.steps`).map((step, i) =>
				decodeBatchStep(step, `${at}.batch.steps[${i}]`),
			);
			return { type, steps };
		}
		case "sequence":
		case "describe":
			return { type, ...decodeSqlReference(request, at) };
		case "store_sql":
			return {
				type,
				sqlId: asInt32(request.sql_id, `${at}.sql_id`),
				sql: asString(request.sql, `${at}.sql`),
			};
		case "close_sql":
			return { type, sqlId: asInt32(request.sql_id, `${at}.sql_id`) };
		default:
			throw new ProtocolError(`${at}.type ${JSON.stringify(type)} is not a known stream request`);
	}
}

/** Exactly one of `sql` and `sql_id` names the SQL text. */
function decodeSqlReference(
	object: JsonObject,
	at: string,
): { sql: string | undefined; sqlId: number | undefined } {
	const sql = optionalString(object.sql, `${at}.sql`);
	const sqlId =
		object.sql_id === undefined || object.sql_id === null
			? undefined
			: asInt32(object.sql_id, `${at}.sql_id`);
	if ((sql === undefined) === (sqlId === undefined)) {
		throw new ProtocolError(`${at} must have exactly one of sql and sql_id`);
	}
	return { sql, sqlId };
}

function decodeStmt(json: unknown, at: string): Stmt {
	const stmt = asObject(json, at);
	const args = stmt.args === undefined || stmt.args === null ? [] : asArray(stmt.args, `${at}.args`);
	const named =
		stmt.named_args === undefined || stmt.named_args === null
			? []
			: asArray(stmt.named_args, `${at}.named_args`);
	const wantRows = stmt.want_rows;
	if (wantRows !== undefined && wantRows !== null && typeof wantRows !== "boolean") {
		throw new ProtocolError(`${at}.want_rows must be a boolean`);
	}
	return {
		...decodeSqlReference(stmt, at),
		args: args.map((value, i) => decodeValue(value, `${at}.args[${i}]`)),
		namedArgs: named.map((arg, i) => {
			const pair = asObject(arg, `${at}.named_args[${i}]`);
			return [
				asString(pair.name, `${at}.named_args[${i}].name`),
				decodeValue(pair.value, `${at}.named_args[${i}].value`),
			];
		}),
		wantRows: wantRows ?? true,
	};
}

function decodeBatchStep(json: unknown, at: string): BatchStep {
	const step = asObject(json, at);
	const condition =
		step.condition === undefined || step.condition === null
			? undefined
			: decodeCondition(step.condition, `${at}.condition`, 0);
	return { condition, stmt: decodeStmt(step.stmt, `${at}.stmt`) };
}

function decodeCondition(json: unknown, at: string, depth: number): Condition {
	if (depth > MAX_CONDITION_DEPTH) throw new ProtocolError(`${at} is nested too deeply`);
	const condition = asObject(json, at);
	const type = condition.type;
	switch (type) {
		case "ok":
		case "error":
			return { type, step: asUint32(condition.step, `${at}.step`) };
		case "not":
			return { type, cond: decodeCondition(condition.cond, `${at}.cond`, depth + 1) };
		case "and":
		case "or": {
			const conds = asArray(condition.conds, `${at}.conds`);
			return { type, conds: conds.map((c, i) => decodeCondition(c, `${at}.conds[${i}]`, depth + 1)) };
		}
		case "is_autocommit":
			return { type };
		default:
			throw new ProtocolError(`${at}.type ${JSON.stringify(type)} is not a known batch condition`);
	}
}

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/** Values as the client encodes them: integers as decimal strings, blobs as base64. */
function decodeValue(json: unknown, at: string): SqlValue {
	const value = asObject(json, at);
	switch (value.type) {
		case "null":
			return null;
		case "integer": {
			const text = asString(value.value, `${at}.value`);
			const integer = /^-?\d+$/.test(text) ? BigInt(text) : undefined;
			if (integer === undefined || integer < MIN_INT64 || integer > MAX_INT64) {
				throw new ProtocolError(`${at}.value must be a 64-bit integer as a decimal string`);
			}
			return integer;
		}
		case "float":
			if (typeof value.value !== "number") throw new ProtocolError(`${at}.value must be a number`);
			return value.value;
		case "text":
			return asString(value.value, `${at}.value`);
		case "blob": {
			const base64 = asString(value.base64, `${at}.base64`);
			if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new ProtocolError(`${at}.base64 is not base64`);
			return Buffer.from(base64, "base64");
		}
		default:
			throw new ProtocolError(`${at}.type must be one of null, integer, float, text and blob`);
	}
}

function asObject(json: unknown, at: string): JsonObject {
	if (typeof json !== "object" || json === null || Array.isArray(json)) {
		throw new ProtocolError(`${at} must be an object`);
	}
	return json as JsonObject;
}

function asArray(json: unknown, at: string): unknown[] {
	if (!Array.isArray(json)) throw new ProtocolError(`${at} must be an array`);
	return json;
}

function asString(json: unknown, at: string): string {
	if (typeof json !== "string") throw new ProtocolError(`${at} must be a string`);
	return json;
}

function optionalString(json: unknown, at: string): string | undefined {
	return json === undefined || json === null ? undefined : asString(json, at);
}

function asInt32(json: unknown, at: string): number {
	if (!Number.isInteger(json) || (json as number) < -(2 ** 31) || (json as number) >= 2 ** 31) {
		throw new ProtocolError(`${at} must be a 32-bit integer`);
	}
	return json as number;
}

function asUint32(json: unknown, at: string): number {
	if (!Number.isInteger(json) || (json as number) < 0 || (json as number) >= 2 ** 32) {
		throw new ProtocolError(`${at} must be an unsigned 32-bit integer`);
	}
	return json as number;
}

// ---------------------------------------------------------------------------------------------
// Protocol: results

interface WireError {
	message: string;
	code: string;
}

type WireValue =
	| { type: "null" }
	| { type: "integer"; value: string }
	| { type: "float"; value: number }
	| { type: "text"; value: string }
	| { type: "blob"; base64: string };

interface StmtResult {
	cols: Array<{ name: string | null; decltype: string | null }>;
	rows: WireValue[][];
	affected_row_count: number;
	last_insert_rowid: string | null;
}

interface BatchResult {
	step_results: Array<StmtResult | null>;
	step_errors: Array<WireError | null>;
}

type StreamResponse =
	| { type: "close" | "sequence" | "store_sql" | "close_sql" }
	| { type: "execute"; result: StmtResult }
	| { type: "batch"; result: BatchResult }
	| { type: "get_autocommit"; is_autocommit: boolean };

type StreamResult = { type: "ok"; response: StreamResponse } | { type: "error"; error: WireError };

/** A failure of one stream request or batch step, reported in the results, not as an HTTP error. */
class RequestError extends Error {
	constructor(
		message: string,
		readonly code: string,
	) {
		super(message);
	}
}

function encodeValue(value: unknown): WireValue {
	if (value === null) return { type: "null" };
	if (typeof value === "bigint") return { type: "integer", value: value.toString() };
	// A non-finite REAL (SELECT 1e999) has no JSON form; like sqld's serializer, it becomes null.
	if (typeof value === "number") return { type: "float", value };
	if (typeof value === "string") return { type: "text", value };
	if (value instanceof Uint8Array) {
		// sqld encodes blobs without padding; the client accepts either
		const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
		return { type: "blob", base64: base64.replace(/=+$/, "") };
	}
	throw new Error(`libSQL returned a value of unexpected type ${typeof value}`);
}

const SQLITE_BASE_CODES: Record<number, string> = {
	1: "SQLITE_ERROR",
	2: "SQLITE_INTERNAL",
	3: "SQLITE_PERM",
	4: "SQLITE_ABORT",
	5: "SQLITE_BUSY",
	6: "SQLITE_LOCKED",
	7: "SQLITE_NOMEM",
	8: "SQLITE_READONLY",
	9: "SQLITE_INTERRUPT",
	10: "SQLITE_IOERR",
	11: "SQLITE_CORRUPT",
	12: "SQLITE_NOTFOUND",
	13: "SQLITE_FULL",
	14: "SQLITE_CANTOPEN",
	15: "SQLITE_PROTOCOL",
	17: "SQLITE_SCHEMA",
	18: "SQLITE_TOOBIG",
	19: "SQLITE_CONSTRAINT",
	20: "SQLITE_MISMATCH",
	21: "SQLITE_MISUSE",
	22: "SQLITE_NOLFS",
	23: "SQLITE_AUTH",
	25: "SQLITE_RANGE",
	26: "SQLITE_NOTADB",
};

/** sqld reports the base SQLite code, and its own parser's code for syntax errors. */
function toWireError(error: unknown): WireError {
	if (error instanceof RequestError) return { message: error.message, code: error.code };
	if (error instanceof Database.SqliteError) {
		const code = SQLITE_BASE_CODES[(error.rawCode ?? 0) & 0xff] ?? "SQLITE_UNKNOWN";
		if (code === "SQLITE_ERROR" && /syntax error|incomplete input|unrecognized token/.test(error.message)) {
			return { message: `SQL string could not be parsed: ${error.message}`, code: "SQL_PARSE_ERROR" };
		}
		return { message: `SQLite error: ${error.message}`, code };
	}
	return { message: messageOf(error), code: "INTERNAL_ERROR" };
}

// ---------------------------------------------------------------------------------------------
// Running requests

interface PipelineOutcome {
	results: StreamResult[];
	closed: boolean;
}

/** Runs every request in order; a failed request does not stop the ones after it (spec). */
async function runPipeline(
	stream: Stream,
	requests: StreamRequest[],
	context: Context,
): Promise<PipelineOutcome> {
	const results: StreamResult[] = [];
	let closed = false;
	for (const request of requests) {
		if (closed) {
			results.push({
				type: "error",
				error: { message: "The stream has been closed", code: "STREAM_CLOSED" },
			});
		} else if (request.type === "close") {
			closed = true;
			results.push({ type: "ok", response: { type: "close" } });
		} else {
			try {
				results.push({ type: "ok", response: await runRequest(stream, request, context) });
			} catch (error) {
				results.push({ type: "error", error: toWireError(error) });
			}
		}
	}
	return { results, closed };
}

async function runRequest(stream: Stream, request: StreamRequest, context: Context): Promise<StreamResponse> {
	switch (request.type) {
		case "execute": {
			const result = await runStatement(stream, resolveSql(stream, request.stmt), request.stmt, context);
			return { type: "execute", result };
		}
		case "batch":
			return { type: "batch", result: await runBatch(stream, request.steps, context) };
		case "sequence":
			await runSequence(stream, resolveSql(stream, request), context);
			return { type: "sequence" };
		case "describe":
			throw new RequestError("describe is not supported by the Hrana stand-in", "DESCRIBE_NOT_SUPPORTED");
		case "store_sql":
			storeSql(stream, request.sqlId, request.sql);
			return { type: "store_sql" };
		case "close_sql":
			stream.sqls.delete(request.sqlId);
			return { type: "close_sql" };
		case "get_autocommit":
			return { type: "get_autocommit", is_autocommit: isAutocommit(stream) };
		case "close":
			throw new Error("close is handled by the pipeline");
	}
}

function storeSql(stream: Stream, sqlId: number, sql: string): void {
	if (stream.sqls.has(sqlId)) throw new RequestError(`SQL text ${sqlId} is already stored`, "SQL_ID_EXISTS");
	if (stream.sqls.size >= MAX_STORED_SQLS) {
		throw new RequestError(
			`The server already stores ${stream.sqls.size} SQL texts, it cannot store more`,
			"SQL_STORE_TOO_MANY",
		);
	}
	if (Buffer.byteLength(sql) > MAX_STORED_SQL_BYTES) {
		throw new RequestError("The statement is too large to be stored", "SQL_STORE_TOO_LARGE");
	}
	stream.sqls.set(sqlId, sql);
}

function resolveSql(
	stream: Stream,
	reference: { sql: string | undefined; sqlId: number | undefined },
): string {
	if (reference.sql !== undefined) return reference.sql;
	const stored = reference.sqlId === undefined ? undefined : stream.sqls.get(reference.sqlId);
	if (stored === undefined)
		throw new RequestError(`SQL text ${reference.sqlId} is not stored`, "SQL_NOT_FOUND");
	return stored;
}

function isAutocommit(stream: Stream): boolean {
	return !stream.connection.inTransaction && !stream.lostTransaction;
}

type StepOutcome = "ok" | "error" | "skipped";

/** Steps run in order; a step whose condition is false is skipped and has neither result nor error. */
async function runBatch(stream: Stream, steps: BatchStep[], context: Context): Promise<BatchResult> {
	// an unknown sql_id fails the whole batch before any step runs
	const sqls = steps.map((step) => resolveSql(stream, step.stmt));
	const outcomes: StepOutcome[] = [];
	const result: BatchResult = { step_results: [], step_errors: [] };
	for (const [i, step] of steps.entries()) {
		let stepResult: StmtResult | null = null;
		let stepError: WireError | null = null;
		try {
			if (step.condition === undefined || evaluate(step.condition, outcomes, stream)) {
				stepResult = await runStatement(stream, sqls[i] ?? "", step.stmt, context);
			}
		} catch (error) {
			stepError = toWireError(error);
		}
		outcomes.push(stepError ? "error" : stepResult ? "ok" : "skipped");
		result.step_results.push(stepResult);
		result.step_errors.push(stepError);
	}
	return result;
}

/** `ok` and `error` are both false for a skipped step (spec); `is_autocommit` asks the connection. */
function evaluate(condition: Condition, outcomes: StepOutcome[], stream: Stream): boolean {
	switch (condition.type) {
		case "ok":
		case "error": {
			const outcome = outcomes[condition.step];
			if (outcome === undefined) {
				throw new RequestError(
					`The condition refers to step ${condition.step}, which has not run yet`,
					"BATCH_COND_INVALID",
				);
			}
			return outcome === condition.type;
		}
		case "not":
			return !evaluate(condition.cond, outcomes, stream);
		case "and":
			return condition.conds.every((c) => evaluate(c, outcomes, stream));
		case "or":
			return condition.conds.some((c) => evaluate(c, outcomes, stream));
		case "is_autocommit":
			return isAutocommit(stream);
	}
}

// ---------------------------------------------------------------------------------------------
// Statements and locking
//
// A prepared libSQL statement that fails with SQLITE_BUSY cannot be reset from JavaScript: it keeps
// its transaction open, and when it is finally reset it rolls back whatever ran after it on the
// connection. `exec`, on the other hand, finalizes its statements, so a busy `exec` leaves nothing
// behind and can simply be tried again. So every lock is taken through `exec` before a prepared
// statement could need it: transaction control runs through `exec`; a write in autocommit mode runs
// inside `BEGIN IMMEDIATE` … `COMMIT` (which is what autocommit does anyway); and a write inside a
// transaction first takes the write lock with a write that changes nothing. Waiting for a lock is
// a retry between event-loop turns, because SQLite's own busy timeout would sleep synchronously and
// block the only thread, which is also the one that must run the lock holder's COMMIT. Should a
// prepared statement still come back busy (a read during WAL recovery, a PRAGMA that writes), its
// connection is replaced, and if a transaction was open the stream only accepts ROLLBACK.

const EMPTY_RESULT: StmtResult = { cols: [], rows: [], affected_row_count: 0, last_insert_rowid: null };

async function runStatement(stream: Stream, sql: string, stmt: Stmt, context: Context): Promise<StmtResult> {
	const shape = analyzeSql(sql);
	if (shape.statementCount === 0) {
		throw new RequestError("SQL string does not contain any statement", "SQL_NO_STATEMENT");
	}
	if (shape.statementCount > 1) {
		// libSQL would run the first statement and silently ignore the rest; sqld refuses
		throw new RequestError("SQL string contains more than one statement", "SQL_MANY_STATEMENTS");
	}
	if (stream.lostTransaction) return answerLostTransaction(stream, shape);
	if (!stream.connection.open) throw new RequestError("The stream has been closed", "STREAM_CLOSED");
	switch (shape.kind) {
		case "transaction":
			await whileBusy(context.settings, () => stream.connection.exec(sql));
			return EMPTY_RESULT;
		case "write":
			return runWrite(stream, sql, stmt, shape, context);
		case "other":
			return runPrepared(stream, sql, stmt, shape, context);
	}
}

async function runWrite(
	stream: Stream,
	sql: string,
	stmt: Stmt,
	shape: SqlShape,
	context: Context,
): Promise<StmtResult> {
	const { settings } = context;
	if (stream.connection.inTransaction) {
		await takeWriteLock(stream, context);
		return runPrepared(stream, sql, stmt, shape, context);
	}
	await whileBusy(settings, () => stream.connection.exec("BEGIN IMMEDIATE"));
	try {
		return runPrepared(stream, sql, stmt, shape, context);
	} finally {
		// as autocommit would: keep what the statement did, even what OR FAIL kept of a failed one
		await endImplicitTransaction(stream.connection, settings);
	}
}

/**
 * Takes the write lock inside a transaction with a write that is undone at once: the header write
 * needs the lock, the savepoint rollback restores the page and keeps the lock. Nothing is read
 * first, so a transaction that has not read yet gets no snapshot that could go stale while waiting.
 */
async function takeWriteLock(stream: Stream, context: Context): Promise<void> {
	await whileBusy(context.settings, () => {
		try {
			stream.connection.exec(
				"SAVEPOINT hrana_write_lock; PRAGMA user_version = 0; ROLLBACK TO hrana_write_lock; RELEASE hrana_write_lock",
			);
		} catch (error) {
			releaseSavepoint(stream.connection, "hrana_write_lock");
			throw error;
		}
	});
}

/** Drops a savepoint left behind by a failed `exec`, so a retry can create it again. */
function releaseSavepoint(connection: Connection, name: string): void {
	try {
		connection.exec(`RELEASE ${name}`);
	} catch {
		// the exec failed before creating it: nothing to drop
	}
}

async function endImplicitTransaction(connection: Connection, settings: Settings): Promise<void> {
	if (!connection.open || !connection.inTransaction) return;
	try {
		await whileBusy(settings, () => connection.exec("COMMIT"));
	} catch (error) {
		// e.g. a deferred foreign key violation: the statement fails as a whole, as in autocommit
		if (connection.inTransaction) connection.exec("ROLLBACK");
		throw error;
	}
}

function answerLostTransaction(stream: Stream, shape: SqlShape): StmtResult {
	const [verb, second, third] = shape.leading;
	if (verb === "ROLLBACK" && second !== "TO" && third !== "TO") {
		stream.lostTransaction = false;
		return EMPTY_RESULT;
	}
	throw new RequestError(
		"The transaction on this stream was rolled back because the database was busy; roll it back to go on",
		"TRANSACTION_ABORTED",
	);
}

function runPrepared(stream: Stream, sql: string, stmt: Stmt, shape: SqlShape, context: Context): StmtResult {
	const parameters = bindings(stmt, shape);
	const prepared = stream.connection.prepare(sql);
	prepared.safeIntegers(true);
	let cols: StmtResult["cols"] = [];
	let rows: WireValue[][] = [];
	if (prepared.reader) {
		prepared.raw(true);
		cols = prepared.columns().map((column) => ({ name: column.name, decltype: column.type }));
		const raw = guardBusy(stream, context, () => prepared.all(parameters) as unknown[][]);
		if (stmt.wantRows) rows = raw.map((row) => row.map(encodeValue));
	} else {
		guardBusy(stream, context, () => prepared.run(parameters));
	}
	// Like sqld: changes() only for INSERT/UPDATE/DELETE (it is stale after anything else), and the
	// rowid only for INSERT. Read with safe integers, since a rowid may exceed 2^53.
	let affected = 0;
	let lastInsertRowid: string | null = null;
	if (shape.changesRows) {
		const [changes, rowid] = query(stream, context, "SELECT changes(), last_insert_rowid()");
		affected = Number(changes);
		if (shape.inserts) lastInsertRowid = String(rowid);
	}
	return { cols, rows, affected_row_count: affected, last_insert_rowid: lastInsertRowid };
}

/** The first row of an internal query. */
function query(stream: Stream, context: Context, sql: string): unknown[] {
	const statement = stream.connection.prepare(sql);
	statement.safeIntegers(true);
	statement.raw(true);
	const rows = guardBusy(stream, context, () => statement.all([]) as unknown[][]);
	return rows[0] ?? [];
}

/** Runs a step of a prepared statement; if it comes back busy, the connection is unusable (see above). */
function guardBusy<T>(stream: Stream, context: Context, step: () => T): T {
	try {
		return step();
	} catch (error) {
		if (isBusy(error)) replaceConnection(stream, context);
		throw error;
	}
}

function replaceConnection(stream: Stream, context: Context): void {
	const lost = stream.connection.inTransaction;
	closeConnection(stream.connection);
	stream.connection = context.openConnection();
	stream.lostTransaction = lost;
}

/**
 * A sequence may be retried after SQLITE_BUSY only if the failed attempt left no trace: no row or
 * schema changed and the transaction state is the same (a statement before the busy one did nothing).
 */
async function runSequence(stream: Stream, sql: string, context: Context): Promise<void> {
	if (stream.lostTransaction) {
		throw new RequestError(
			"The transaction on this stream was rolled back; roll it back to go on",
			"TRANSACTION_ABORTED",
		);
	}
	let untouched = true;
	await whileBusy(
		context.settings,
		() => {
			const before = footprint(stream, context);
			try {
				stream.connection.exec(sql);
			} catch (error) {
				untouched = footprint(stream, context) === before;
				throw error;
			}
		},
		() => untouched,
	);
}

function footprint(stream: Stream, context: Context): string {
	const [changes, schema] = query(
		stream,
		context,
		"SELECT total_changes(), (SELECT schema_version FROM pragma_schema_version())",
	);
	return `${changes}/${schema}/${stream.connection.inTransaction}`;
}

/** Retries an `exec` that found the database locked, until it succeeds or busyTimeoutMs has passed. */
async function whileBusy<T>(
	settings: Settings,
	attempt: () => T,
	mayRetry: () => boolean = () => true,
): Promise<T> {
	const deadline = Date.now() + settings.busyTimeoutMs;
	for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
		try {
			return attempt();
		} catch (error) {
			if (!isRetryableBusy(error) || !mayRetry() || Date.now() + pause > deadline) throw error;
		}
		await sleep(pause);
	}
}

const SQLITE_BUSY = 5;
/** The snapshot of a WAL read transaction is stale: waiting cannot fix that, only a new transaction. */
const SQLITE_BUSY_SNAPSHOT = 517;

function isBusy(error: unknown): error is InstanceType<typeof Database.SqliteError> {
	return error instanceof Database.SqliteError && ((error.rawCode ?? 0) & 0xff) === SQLITE_BUSY;
}

function isRetryableBusy(error: unknown): boolean {
	return isBusy(error) && error.rawCode !== SQLITE_BUSY_SNAPSHOT;
}

/**
 * libSQL binds an array by position or an object by name, matching a name with any of the `:`,
 * `@` and `$` prefixes when given without one (what sqld does for unprefixed names). Binding an
 * object to a statement with `?` parameters aborts the whole process inside libSQL, hence the check.
 */
function bindings(stmt: Stmt, shape: SqlShape): SqlValue[] | Record<string, SqlValue> {
	if (stmt.namedArgs.length === 0) return stmt.args;
	if (stmt.args.length > 0) {
		throw new RequestError(
			"Specifying both positional and named arguments is not supported",
			"ARGS_BOTH_POSITIONAL_AND_NAMED",
		);
	}
	if (shape.hasNumberedParams) {
		throw new RequestError(
			"Arguments do not match SQL parameters: named arguments cannot be bound to ? parameters",
			"ARGS_INVALID",
		);
	}
	return Object.fromEntries(stmt.namedArgs.map(([name, value]) => [name.replace(/^[:@$]/, ""), value]));
}

// ---------------------------------------------------------------------------------------------
// SQL text analysis

interface SqlShape {
	/** Statements with at least one token; sqld accepts exactly one per `execute`. */
	statementCount: number;
	/** How the first statement is run (see "Statements and locking"). */
	kind: "transaction" | "write" | "other";
	/** Up to three leading keywords of the first statement, upper-cased. */
	leading: string[];
	/** The first statement is an INSERT, REPLACE, UPDATE or DELETE. */
	changesRows: boolean;
	/** The first statement is an INSERT or REPLACE. */
	inserts: boolean;
	/** The first statement has `?` or `?NNN` parameters, which have no names to bind by. */
	hasNumberedParams: boolean;
}

/**
 * One token per match: whitespace, comments, quoted strings and identifiers (unterminated ones run
 * to the end), words, `?NNN` and named parameters, and any other single character.
 */
const SQL_TOKEN =
	/\s+|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*|\?\d*|[:@$][\w$\u0080-\uffff]+|[\s\S]/gy;
/** The verbs a WITH clause can lead to. */
const CTE_VERBS = new Set(["SELECT", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE"]);
const TRANSACTION_VERBS = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]);
/** Statements that take the write lock and may run inside a transaction (unlike VACUUM or some PRAGMAs). */
const WRITE_VERBS = new Set([
	"INSERT",
	"REPLACE",
	"UPDATE",
	"DELETE",
	"CREATE",
	"DROP",
	"ALTER",
	"ANALYZE",
	"REINDEX",
]);
const ROW_CHANGING_VERBS = new Set(["INSERT", "REPLACE", "UPDATE", "DELETE"]);

/**
 * A scan just deep enough to count statements and find what the first one does. The one subtle
 * case is CREATE TRIGGER, whose body holds semicolons up to its END (CASE … END inside it nests).
 */
function analyzeSql(sql: string): SqlShape {
	const shape: SqlShape = {
		statementCount: 0,
		kind: "other",
		leading: [],
		changesRows: false,
		inserts: false,
		hasNumberedParams: false,
	};
	let statement = new StatementScan();
	for (const [token] of sql.matchAll(SQL_TOKEN)) {
		if (/^\s/.test(token) || token.startsWith("--") || token.startsWith("/*")) continue;
		if (token === ";" && !statement.insideTrigger()) {
			if (statement.hasTokens) finishStatement(shape, statement);
			statement = new StatementScan();
			continue;
		}
		statement.add(token);
		if (shape.statementCount === 0 && token.startsWith("?")) shape.hasNumberedParams = true;
	}
	if (statement.hasTokens) finishStatement(shape, statement);
	return shape;
}

function finishStatement(shape: SqlShape, statement: StatementScan): void {
	if (shape.statementCount === 0) {
		const verb = statement.verb ?? "";
		shape.kind = TRANSACTION_VERBS.has(verb) ? "transaction" : WRITE_VERBS.has(verb) ? "write" : "other";
		shape.leading = statement.leading;
		shape.changesRows = ROW_CHANGING_VERBS.has(verb);
		shape.inserts = verb === "INSERT" || verb === "REPLACE";
	}
	shape.statementCount++;
}

class StatementScan {
	hasTokens = false;
	/** The keyword saying what the statement does; for WITH, the first top-level verb after the CTEs. */
	verb: string | undefined;
	readonly leading: string[] = [];
	#depth = 0;
	#trigger: "no" | "header" | "body" | "ended" = "no";
	#caseDepth = 0;

	insideTrigger(): boolean {
		return this.#trigger === "header" || this.#trigger === "body";
	}

	add(token: string): void {
		this.hasTokens = true;
		if (token === "(") this.#depth++;
		else if (token === ")") this.#depth = Math.max(0, this.#depth - 1);
		else if (/^[A-Za-z_\u0080-\uffff]/.test(token)) this.#word(token.toUpperCase());
	}

	#word(word: string): void {
		if (this.#depth === 0) {
			if (this.leading.length < 3) this.leading.push(word);
			if (this.verb === undefined) this.verb = word;
			else if (this.verb === "WITH" && CTE_VERBS.has(word)) this.verb = word;
		}
		this.#trackTrigger(word);
	}

	#trackTrigger(word: string): void {
		if (this.#trigger === "no") {
			const [first, second, third] = this.leading;
			const temporary = second === "TEMP" || second === "TEMPORARY";
			if (first === "CREATE" && (second === "TRIGGER" || (temporary && third === "TRIGGER"))) {
				this.#trigger = "header";
			}
		} else if (this.#trigger === "header") {
			if (word === "BEGIN") this.#trigger = "body";
		} else if (this.#trigger === "body") {
			if (word === "CASE") this.#caseDepth++;
			else if (word === "END" && this.#caseDepth > 0) this.#caseDepth--;
			else if (word === "END") this.#trigger = "ended";
		}
	}
}

// ---------------------------------------------------------------------------------------------

function definedOnly<T extends object>(object: T): Partial<T> {
	return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
