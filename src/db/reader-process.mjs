// One reader of the Node runtime's pool (src/db/reader-pool.ts): a child process with its own
// read-only connection to the embedded database file. Plain JavaScript so it starts with bare
// `node` (no TypeScript loader): it only relays statements to @libsql/client and results back.
//
// Protocol over the IPC channel (structured clone): the parent sends {id, statements}; this answers
// {id, results} with rows as plain arrays, or {id, error: {name, message, code, rawCode}}.
// A statement past its deadline is stopped by the parent killing this process.
import { createClient } from "@libsql/client";

const path = process.argv[2];
if (!path || !process.send) {
	console.error("reader-process: expected a database path and an IPC channel");
	process.exit(2);
}

function errorOf(error) {
	const e = error instanceof Error ? error : new Error(String(error));
	return { name: e.name, message: e.message, code: e.code, rawCode: e.rawCode };
}

let client;
try {
	client = createClient({ url: `file:${path}` });
	// No write can happen here, whatever the statement says.
	await client.execute("PRAGMA query_only = 1");
	await client.execute("PRAGMA busy_timeout = 5000");
	process.send({ ready: true });
} catch (error) {
	process.send({ ready: false, error: errorOf(error) });
	process.exit(1);
}

process.on("disconnect", () => process.exit(0));
process.on("message", async ({ id, statements }) => {
	try {
		const results =
			statements.length === 1
				? [await client.execute(statements[0])]
				: await client.batch(statements, "read");
		process.send({
			id,
			results: results.map((r) => ({
				columns: r.columns,
				columnTypes: r.columnTypes,
				rows: r.rows.map((row) => Array.from(row)),
			})),
		});
	} catch (error) {
		process.send({ id, error: errorOf(error) });
	}
});
