/**
 * The Node server of the heartbeat bench (bench/heartbeats.ts), as a child process: the runtime as
 * `npm start` runs it (`startNodeServer`: the app, the web UI's router, the access log, embedded
 * libSQL, the writer thread), its log written to /dev/null. No OTLP/gRPC. BENCH_PING_PATH=per-request drops the
 * group-commit writer (pings go through the client and commit one by one, as before group commit).
 * Prints `{"port": n}` on stdout once listening.
 */
import pino from "pino";
import { startNodeServer } from "../src/runtime/node.js";

const running = await startNodeServer(
	{
		DATABASE_URL: process.env.BENCH_DATABASE_URL,
		JWT_SIGNING_KEYS: process.env.JWT_SIGNING_KEYS,
		TOTP_ENCRYPTION_KEY: process.env.TOTP_ENCRYPTION_KEY,
		DATA_DIR: process.env.BENCH_DATA_DIR,
		PORT: "0",
		HOST: "127.0.0.1",
		OTLP_GRPC_PORT: "0",
		LOG_LEVEL: "info",
		// The per-request path has no group commit, so no writer thread: the writer (dropped below) is
		// opened on the event loop.
		WRITER_THREAD: process.env.BENCH_PING_PATH === "per-request" ? "off" : "on",
	},
	{
		// As stdout would take it: one synchronous write per line.
		logDestination: pino.destination({ dest: "/dev/null", sync: true }),
		adjustDeps(deps) {
			// The write path before group commit, for the bench's side-by-side.
			if (process.env.BENCH_PING_PATH === "per-request") {
				deps.writer?.close();
				delete deps.writer;
			}
		},
	},
);
process.stdout.write(`${JSON.stringify({ port: running.port })}\n`);

function shutdown(): void {
	setTimeout(() => process.exit(0), 2_000).unref();
	running.close().then(
		() => process.exit(0),
		() => process.exit(1),
	);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
