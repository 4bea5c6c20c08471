import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { chdbInstalled, INSTALL_HINT } from "./scripts/clickhouse-engine.js";
import { buildWeb } from "./scripts/web-build.js";
import { generateSigningKey } from "./src/auth/jwt.js";
import { createEdgeClickHouse, EDGE_CLICKHOUSE_URL } from "./test/support/edge-clickhouse.js";
import { createEdgeDatabase, EDGE_DATABASE_URL } from "./test/support/edge-database.js";
import { withWebhookSink } from "./test/support/webhook-sink.js";

// The UI's build is served by both runtimes (and read by wrangler.toml's [assets]): build it first.
await buildWeb({ ifStale: true, quiet: true });

/**
 * A passing run prints only the reporter. @cloudflare/vitest-pool-workers 0.15 closes its runner's
 * WebSocket and disposes workerd at once when a test file ends, and workerd then logs that the peer
 * disconnected. The pool already drops workerd's other shutdown lines (its `ignoreMessages`) and
 * drops this one too from 0.17 on; until the pin (which matches wrangler's) moves, exactly this
 * line is dropped here. Anything else workerd says still shows.
 */
const WORKERD_SHUTDOWN_LINE =
	/^exception = workerd\/api\/web-socket\.c\+\+:\d+: disconnected: WebSocket peer disconnected\n?$/;
/**
 * Miniflare's warning as it moves a message to the dead-letter queue: test/workers/queue.test.ts
 * makes it happen on purpose (and checks where the message lands), so that line alone is dropped.
 */
const DEAD_LETTER_LINE =
	/^\[mf:warn\] Moving message "[0-9a-f]+" on queue "hexcovery-telemetry" to dead letter queue "hexcovery-telemetry-dlq" after \d+ failed attempts\.\.\.\n?$/;
for (const stream of [process.stdout, process.stderr]) {
	const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
	stream.write = ((chunk: unknown, ...rest: unknown[]) => {
		if (typeof chunk !== "string" || !(WORKERD_SHUTDOWN_LINE.test(chunk) || DEAD_LETTER_LINE.test(chunk)))
			return write(chunk, ...rest);
		const done = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
		done?.();
		return true;
	}) as typeof stream.write;
}

/**
 * The ClickHouse suite (the `clickhouse` project, test/clickhouse/**, and in workerd
 * test/workers/clickhouse.test.ts) needs the engine, installed on demand (~570 MB,
 * scripts/clickhouse-engine.ts; CI installs it). Without it they are left out and one line says so.
 */
const clickhouseSuite = chdbInstalled();
if (!process.env.VITEST_WORKER_ID) {
	process.stderr.write(
		clickhouseSuite
			? "ClickHouse suite: included (chdb engine in .cache/chdb): project clickhouse and test/workers/clickhouse.test.ts\n"
			: `ClickHouse suite: skipped — the engine is not installed; run ${INSTALL_HINT}\n`,
	);
}

export default defineConfig({
	test: {
		// Vitest's default is one worker fewer than the cores: on two cores one, every file in turn,
		// and a third of the run was spent importing each file's modules while nothing ran. Two files
		// at once overlap one's imports and waits (servers, child processes, a browser) with the
		// other's work. The browser and ClickHouse projects still run their files one at a time.
		maxWorkers: 2,
		projects: [
			{
				test: {
					name: "node",
					include: ["test/node/**/*.test.ts"],
					environment: "node",
					testTimeout: 30_000,
				},
			},
			{
				plugins: [
					// @clickhouse/client-web ships source maps without their sources; vite would warn on each run.
					{
						name: "clickhouse-web-without-sourcemaps",
						load(id: string) {
							if (!id.includes("/node_modules/@clickhouse/client-web/") || !id.endsWith(".js")) return null;
							return readFileSync(id.replace(/\?.*$/, ""), "utf8").replace(
								/\/\/# sourceMappingURL=\S+\s*$/,
								"",
							);
						},
					},
					cloudflareTest(async () => {
						const database = await createEdgeDatabase();
						// ClickHouse for test/workers/clickhouse.test.ts (@clickhouse/client-web), when installed.
						const withClickHouse = clickhouseSuite
							? await createEdgeClickHouse()
							: (next: typeof database.outboundService) => next;
						return {
							main: "./src/runtime/worker.ts",
							wrangler: { configPath: "./wrangler.toml" },
							miniflare: {
								bindings: {
									DATABASE_URL: EDGE_DATABASE_URL,
									CLICKHOUSE_URL: EDGE_CLICKHOUSE_URL,
									// The app's log lines (src/log.ts): a passing run prints only the reporter.
									LOG_LEVEL: "silent",
									// Queue retries at once (test/workers/queue.test.ts checks the backoff itself).
									TELEMETRY_RETRY_BASE_SECONDS: "0",
									JWT_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey()] }),
									TOTP_ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString(
										"base64url",
									),
								},
								// The queue path (test/workers/queue.test.ts): a producer under another name than
								// TELEMETRY_QUEUE, so every other test keeps the direct path; the Worker's queue()
								// consumes both queues. Few retries, none delayed, short batch waits: a run stays quick.
								queueProducers: { QUEUED_TELEMETRY: "hexcovery-telemetry" },
								// Rows too large for a queue message are parked in this bucket (only with a queue bound).
								r2Buckets: { TELEMETRY_SPILL: "hexcovery-telemetry-spill" },
								queueConsumers: {
									"hexcovery-telemetry": {
										maxBatchSize: 100,
										maxBatchTimeout: 1,
										maxRetries: 2,
										retryDelay: 0,
										deadLetterQueue: "hexcovery-telemetry-dlq",
									},
									"hexcovery-telemetry-dlq": {
										maxBatchSize: 100,
										maxBatchTimeout: 1,
										maxRetries: 5,
										retryDelay: 0,
									},
								},
								// Heartbeat webhooks to http://hooks.test are recorded (test/support/webhook-sink.ts).
								outboundService: withWebhookSink(withClickHouse(database.outboundService)),
							},
						};
					}),
				],
				test: {
					name: "workers",
					include: ["test/workers/**/*.test.ts"],
					exclude: clickhouseSuite ? [] : ["test/workers/clickhouse.test.ts"],
					testTimeout: 30_000,
				},
			},
			...(clickhouseSuite
				? [
						{
							test: {
								name: "clickhouse",
								include: ["test/clickhouse/**/*.test.ts"],
								environment: "node",
								testTimeout: 60_000,
								hookTimeout: 120_000,
								// One engine per file, each loading a data set: one file at a time on two cores.
								fileParallelism: false,
							},
						},
					]
				: []),
			{
				test: {
					name: "browser",
					include: ["test/browser/**/*.test.ts"],
					environment: "node",
					testTimeout: 60_000,
					hookTimeout: 60_000,
					// expect.poll waits for what a person would wait for; its default (1 s) is shorter than a
					// render on two busy cores (a search once took longer under a full run plus a bench).
					expect: { poll: { timeout: 10_000 } },
					// After the other projects: a browser and a server at once are heavy on two cores.
					sequence: { groupOrder: 1 },
					fileParallelism: false,
				},
			},
		],
	},
});
