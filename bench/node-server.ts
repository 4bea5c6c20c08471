/**
 * The Node side of the bench, run as a child process of bench/run.ts so that the load generator
 * and the server do not share an event loop. Deps are built by the real `buildNodeDeps` (embedded
 * libSQL, the process-wide memory key cache). Prints `{"port": n}` on stdout once listening.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { buildNodeDeps } from "../src/runtime/node-deps.js";
import { createBenchApp } from "./bench-app.js";

const { deps, client } = await buildNodeDeps(
	{
		DATABASE_URL: process.env.BENCH_DATABASE_URL,
		JWT_SIGNING_KEYS: process.env.JWT_SIGNING_KEYS,
		TOTP_ENCRYPTION_KEY: process.env.TOTP_ENCRYPTION_KEY,
		DATA_DIR: process.env.BENCH_DATA_DIR,
	},
	{ log: () => {} },
);
const app = createBenchApp(deps);
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
	process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
});

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
