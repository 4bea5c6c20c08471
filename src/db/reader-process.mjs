// One reader of the Node runtime's pool (src/db/reader-pool.ts): a child process with its own
// read-only connection to the embedded database file. Plain JavaScript so it starts with bare
// `node` (no TypeScript loader): it only runs statements and relays their rows.
//
// It drives the `libsql` driver (the one @libsql/client runs on) directly, as the writer does:
// statements are prepared once and reused, and rows come back as plain arrays (`raw` mode) instead
// of the client's row objects. For a 5,000-span trace that is ~35 ms instead of ~135 ms. Values are
// the client's: integers as numbers (a RangeError past 2^53, as the client's "number" int mode),
// blobs as ArrayBuffer; arguments are taken as the client takes them (booleans as 0/1, dates as ms).
//
// Protocol over the IPC channel (structured clone): the parent sends {id, statements}; this answers
// {id, results} with rows as plain arrays, or {id, error: {name, message, code, rawCode}}. Several
// statements run in one read transaction (one snapshot). A statement past its deadline is stopped
// by the parent killing this process.
import Database from "libsql";

const path = process.argv[2];
if (!path || !process.send) {
	console.error("reader-process: expected a database path and an IPC channel");
	process.exit(2);
}

const BUSY_TIMEOUT_MS = 5_000;
const MAX_CACHED_STATEMENTS = 64;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function errorOf(error) {
	const e = error instanceof Error ? error : new Error(String(error));
	return { name: e.name, message: e.message, code: e.code, rawCode: e.rawCode };
}

let db;
try {
	db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
	// No write can happen here, whatever the statement says.
	db.exec("PRAGMA query_only = 1");
	process.send({ ready: true });
} catch (error) {
	process.send({ ready: false, error: errorOf(error) });
	process.exit(1);
}

/** Prepared statements by their text, least recently used first. */
const cache = new Map();
function prepared(sql) {
	let statement = cache.get(sql);
	if (statement) cache.delete(sql);
	else {
		statement = db.prepare(sql);
		if (statement.reader) statement.raw(true).safeIntegers(true);
		if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value);
	}
	cache.set(sql, statement);
	return statement;
}

function argOf(value) {
	if (typeof value === "boolean") return value ? 1 : 0;
	if (value instanceof Date) return value.getTime();
	if (value instanceof ArrayBuffer) return Buffer.from(value);
	if (value instanceof Uint8Array && !Buffer.isBuffer(value))
		return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
	return value;
}

function argsOf(args) {
	if (args === undefined) return [];
	if (Array.isArray(args)) return args.map(argOf);
	return Object.fromEntries(Object.entries(args).map(([name, value]) => [name, argOf(value)]));
}

/** A value as @libsql/client returns it (intMode "number"). */
function clientValue(value) {
	if (typeof value === "bigint") {
		if (value < MIN_SAFE || value > MAX_SAFE)
			throw new RangeError("Received integer which cannot be safely represented as a JavaScript number");
		return Number(value);
	}
	if (value instanceof Uint8Array)
		return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
	return value;
}

function run(statement) {
	const sql = typeof statement === "string" ? statement : statement.sql;
	const args = argsOf(typeof statement === "string" ? undefined : statement.args);
	const stmt = prepared(sql);
	if (!stmt.reader) {
		stmt.run(args);
		return { columns: [], columnTypes: [], rows: [] };
	}
	const columns = stmt.columns();
	const rows = stmt.all(args);
	for (const row of rows) {
		for (let i = 0; i < row.length; i++) {
			const value = row[i];
			if (typeof value === "bigint" || (value !== null && typeof value === "object"))
				row[i] = clientValue(value);
		}
	}
	return { columns: columns.map((c) => c.name), columnTypes: columns.map((c) => c.type ?? ""), rows };
}

process.on("disconnect", () => process.exit(0));
// An answer the parent can no longer take (it died mid-statement: EPIPE) ends this reader quietly,
// instead of an unhandled 'error' event and its stack trace.
function reply(message) {
	process.send(message, undefined, undefined, (error) => {
		if (error) process.exit(0);
	});
}
process.on("message", ({ id, statements }) => {
	try {
		let results;
		if (statements.length === 1) results = [run(statements[0])];
		else {
			db.exec("BEGIN");
			try {
				results = statements.map(run);
			} finally {
				db.exec("COMMIT");
			}
		}
		reply({ id, results });
	} catch (error) {
		reply({ id, error: errorOf(error) });
	}
});
