/**
 * The queue consumer on ClickHouse, exactly once (docs/scale-out.md, "The queue consumer"):
 * `npm run bench:clickhouse-queue` (needs the engine: `npm run clickhouse:install`). Not part of
 * `npm run bench`.
 *
 * The logs table first holds BENCH_CHQ_ROWS rows of one org (default 1,000,000) over the 24 h
 * before now, every one with a queue message id (as the consumer writes them). Then, alternately,
 * BENCH_CHQ_SAMPLES times (default 7) after one untimed round, for a fresh batch of 100 messages ×
 * 50 log rows of the last minute (5,000 rows, as a busy consumer batch):
 * - `lookup`: the batch's one statement asking ClickHouse which messages it already holds
 *   (heldMessages), alone;
 * - `store`: the consumer's whole write of the batch (receipts looked up in libSQL, that lookup,
 *   one INSERT, discovery and receipts in libSQL) — the lookup's share of it is its cost;
 * - `redelivered`: the same batch delivered again with its receipts gone (as after a failed
 *   receipts write): the lookup finds every message, nothing is inserted.
 * p50s, and the lookup's share of `store`, are printed with the load average.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { loadChdb } from "../scripts/clickhouse-engine.js";
import { migrateClickHouse } from "../src/clickhouse/migrate.js";
import { readClickHouseMigrations } from "../src/clickhouse/node.js";
import { systemClock } from "../src/clock.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { LOG_COLUMNS } from "../src/ingest/batch.js";
import { DiscoveryMemory } from "../src/ingest/discovery.js";
import type { TelemetryMessage } from "../src/ingest/queue.js";
import { createOrg } from "../src/services/api-keys.js";
import { clickHouseTelemetryStore, heldMessages } from "../src/telemetry/clickhouse.js";
import { serveClickHouse } from "../tools/clickhouse/server.js";
import { percentile } from "./proc.js";

const preload = Number(process.env.BENCH_CHQ_ROWS ?? 1_000_000);
const samples = Number(process.env.BENCH_CHQ_SAMPLES ?? 7);
const MESSAGES = 100;
const ROWS_PER_MESSAGE = 50;

const p50 = (values: number[]) => percentile(values, 50);
async function timed(run: () => Promise<unknown>): Promise<number> {
	const started = performance.now();
	await run();
	return performance.now() - started;
}
const load = () =>
	loadavg()
		.map((n) => n.toFixed(1))
		.join(" / ");

const loadBefore = load();
const dir = mkdtempSync(join(tmpdir(), "hexcovery-bench-chq-"));
const server = await serveClickHouse(loadChdb(), { path: join(dir, "clickhouse") });
const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
await migrateClickHouse(client, readClickHouseMigrations());
const libsql = await openMigratedDatabase(`file:${join(dir, "bench.db")}`);
const orgId = (await createOrg(libsql.db, systemClock, "Bench queue")).id;
const store = clickHouseTelemetryStore({
	db: libsql.db,
	client,
	settings: { url: server.url, username: "default", password: "", database: "default" },
});

const nowNs = BigInt(Date.now()) * 1_000_000n;
const DAY_NS = 86_400_000_000_000n;
const started = performance.now();
for (let offset = 0; offset < preload; offset += 100_000) {
	const values: Record<string, unknown>[] = [];
	for (let i = offset; i < Math.min(preload, offset + 100_000); i++) {
		const timestamp = (nowNs - DAY_NS + (DAY_NS * BigInt(i)) / BigInt(preload)).toString();
		values.push({
			org_id: orgId,
			timestamp,
			observed_timestamp: timestamp,
			severity_number: 9,
			level: "info",
			body: `preloaded line ${i}`,
			service: `svc-${i % 7}`,
			host: `host-${i % 13}`,
			retention_days: 30,
			queue_message_id: `preload-${Math.floor(i / ROWS_PER_MESSAGE)}:0`,
		});
	}
	await client.insert({ table: "logs", values, format: "JSONEachRow" });
}
const preloadSeconds = (performance.now() - started) / 1000;

let round = 0;
/** A fresh batch of MESSAGES messages of ROWS_PER_MESSAGE log rows in the last minute. */
function batch(): TelemetryMessage[] {
	round++;
	return Array.from({ length: MESSAGES }, (_, m) => {
		const rows = Array.from({ length: ROWS_PER_MESSAGE }, (_, r) => {
			const timestamp = nowNs - 60_000_000_000n + BigInt(round * 1_000_000 + m * 1_000 + r);
			const row: Record<(typeof LOG_COLUMNS)[number], unknown> = {
				org_id: orgId,
				timestamp,
				observed_timestamp: timestamp,
				severity_number: 9,
				severity_text: "INFO",
				level: "info",
				body: `queued line ${round}/${m}/${r}`,
				trace_id: null,
				span_id: null,
				event_name: null,
				service: "queued",
				host: "edge",
				scope_name: null,
				scope_version: null,
				resource_attributes: '{"service.name":"queued"}',
				scope_attributes: "{}",
				attributes: `{"n":${r}}`,
			};
			return LOG_COLUMNS.map((column) => row[column]) as TelemetryMessage["rows"][number];
		});
		return {
			id: `bench-${round}-${crypto.randomUUID()}:${m}`,
			org: orgId,
			source: "logs",
			table: "logs",
			rows,
			discovery: null,
			bytes: 0,
		} satisfies TelemetryMessage;
	});
}

const memory = new DiscoveryMemory(systemClock);
const times = { lookup: [] as number[], store: [] as number[], redelivered: [] as number[] };
for (let sample = 0; sample <= samples; sample++) {
	const messages = batch();
	const lookup = await timed(() => heldMessages(client, messages));
	const stored = await timed(() => store.storeMessages(messages, memory, Date.now()));
	await libsql.client.execute({
		sql: `DELETE FROM queue_receipts WHERE message_id IN (${messages.map(() => "?").join(",")})`,
		args: messages.map((m) => m.id),
	});
	let held = 0;
	const redelivered = await timed(async () => {
		const result = await store.storeMessages(messages, memory, Date.now());
		held = result.duplicates.length;
	});
	if (held !== MESSAGES) throw new Error(`redelivery found ${held} of ${MESSAGES} messages held`);
	if (sample === 0) continue; // untimed round
	times.lookup.push(lookup);
	times.store.push(stored);
	times.redelivered.push(redelivered);
}
const count = await client.query({ query: "SELECT count() AS n FROM logs", format: "JSONEachRow" });
const total = Number((await count.json<{ n: number | string }>())[0]?.n);
const expected = preload + (samples + 1) * MESSAGES * ROWS_PER_MESSAGE;
if (total !== expected)
	throw new Error(`logs holds ${total} rows, expected ${expected}: a batch stored twice`);

const ms = (n: number) => `${n.toFixed(1)} ms`;
console.log(
	`ClickHouse queue consumer, exactly once (chdb behind the HTTP stand-in; ${cpus().length} cores)`,
);
console.log(`load average before: ${loadBefore}; after: ${load()}`);
console.log(
	`logs preloaded: ${preload.toLocaleString("en")} rows in ${preloadSeconds.toFixed(1)} s; batch: ${MESSAGES} messages × ${ROWS_PER_MESSAGE} rows; ${samples} samples`,
);
console.log("");
console.log("| step | p50 |");
console.log("|---|---|");
console.log(`| lookup (which messages ClickHouse holds) | ${ms(p50(times.lookup))} |`);
console.log(`| store a fresh batch (lookup included) | ${ms(p50(times.store))} |`);
console.log(
	`| store a redelivered batch (receipts gone: lookup, no insert) | ${ms(p50(times.redelivered))} |`,
);
console.log("");
console.log(
	`lookup / store: ${(p50(times.lookup) / p50(times.store)).toFixed(2)}; rows afterwards: ${total.toLocaleString("en")} (each batch once)`,
);

await store.close();
libsql.client.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
