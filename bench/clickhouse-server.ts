/**
 * The ClickHouse stand-in (chdb behind tools/clickhouse/server.ts) as a process of its own, as a
 * ClickHouse server is: bench/clickhouse.ts's ingest section measures its CPU apart from the
 * consumer's. BENCH_CH_PATH is its data directory; prints `LISTENING <port>` once it listens.
 */
import { loadChdb } from "../scripts/clickhouse-engine.js";
import { serveClickHouse } from "../tools/clickhouse/server.js";

const path = process.env.BENCH_CH_PATH;
if (!path) throw new Error("BENCH_CH_PATH: the data directory");
const server = await serveClickHouse(loadChdb(), { path });
process.stdout.write(`LISTENING ${server.port}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
	process.once(signal, () => {
		server.close().then(
			() => process.exit(0),
			() => process.exit(1),
		);
	});
}
