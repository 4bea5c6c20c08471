/**
 * The Node server of the heartbeat bench (bench/heartbeats.ts), as a child process: the real app
 * (`createApp`) over the real Node deps (`buildNodeDeps`, embedded libSQL). No sweep timer: the bench
 * measures pings. BENCH_PING_PATH=per-request drops the group-commit writer (pings go through the
 * drizzle client and commit one by one, as before group commit). Prints `{"port": n}` on stdout once listening.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createApp } from "../src/app.js";
import { buildNodeDeps } from "../src/runtime/node-deps.js";

const { deps, client } = await buildNodeDeps(
	{
		DATABASE_URL: process.env.BENCH_DATABASE_URL,
		JWT_SIGNING_KEYS: process.env.JWT_SIGNING_KEYS,
		TOTP_ENCRYPTION_KEY: process.env.TOTP_ENCRYPTION_KEY,
		DATA_DIR: process.env.BENCH_DATA_DIR,
	},
	{ log: () => {} },
);
// The write path before group commit, for the bench's side-by-side: pings through the drizzle client.
if (process.env.BENCH_PING_PATH === "per-request") {
	deps.writer?.close();
	delete deps.writer;
}
const server = serve(
	{ fetch: createApp(deps).fetch, port: 0, hostname: "127.0.0.1" },
	(info: AddressInfo) => {
		process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
	},
);

function shutdown(): void {
	server.close(() => {
		client.close();
		process.exit(0);
	});
	if ("closeAllConnections" in server) server.closeAllConnections();
	setTimeout(() => process.exit(0), 2_000).unref();
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
