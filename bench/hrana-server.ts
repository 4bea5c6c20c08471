/**
 * libSQL over HTTP for the Worker under bench: the Hrana stand-in on a loopback port, in its own
 * process so that its (synchronous) SQLite work does not share a thread with the load generator.
 * Prints `{"url": "http://127.0.0.1:n"}` on stdout once listening.
 */
import { serveHrana } from "../tools/hrana/server.js";

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error("BENCH_DATABASE_URL is not set");
const server = await serveHrana({ url });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

function shutdown(): void {
	server.close().finally(() => process.exit(0));
	setTimeout(() => process.exit(0), 2_000).unref();
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
