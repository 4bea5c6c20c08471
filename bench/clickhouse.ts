/**
 * OQL over ClickHouse vs libSQL, side by side in one run: `npm run bench:clickhouse` (needs the
 * engine: `npm run clickhouse:install`). Not part of `npm run bench`.
 *
 * Data: bench/oql.ts's data set (BENCH_CH_ROWS logs and as many spans for one org, a tenth for a
 * second org, over the 24 h before OQL_BENCH_NOW), seeded into a migrated embedded libSQL database
 * (createOqlBenchDatabase) and inserted into ClickHouse — chdb behind the HTTP stand-in, through
 * `@clickhouse/client`, 100,000 rows per insert. Each of the bench's ten OQL queries then runs on
 * libSQL (with rollups, as the app answers; and over raw rows) and on ClickHouse (raw rows: it has no
 * rollups), alternately, BENCH_CH_SAMPLES times each (default 5) after one untimed run; p50s and
 * ratios are printed. ClickHouse's times include the HTTP stand-in (JSON over loopback HTTP, as a
 * real server would be reached) — on a real server the engine would also use more cores.
 *
 * Then the built-in pages the issue sets a goal for — the overview and the hosts list (first page of
 * 50, the route's default), over 1 h and 24 h — are read on libSQL (its default page backend: the
 * rollups, one read batch) and on ClickHouse (`clickHousePageBackend`: raw rows), alternately, the
 * same way; each pair's answers are compared (same JSON). Goal: the 24 h pages ≤ 250 ms on ClickHouse.
 *
 * Env: BENCH_CH_ROWS (200000), BENCH_CH_SAMPLES (5), BENCH_CH_OQL=0 skips the OQL queries (pages only).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { loadChdb } from "../scripts/clickhouse-engine.js";
import { migrateClickHouse } from "../src/clickhouse/migrate.js";
import { readClickHouseMigrations } from "../src/clickhouse/node.js";
import { runOqlOnClickHouse } from "../src/clickhouse/oql.js";
import { insertTelemetry } from "../src/clickhouse/rows.js";
import type { AppConfig } from "../src/config.js";
import { directReadExecutor, HeavyReads } from "../src/db/reads.js";
import { runOql } from "../src/oql/execute.js";
import { clickHousePageBackend } from "../src/pages/backend.js";
import { hostsPage } from "../src/pages/hosts.js";
import { overview } from "../src/pages/overview.js";
import { pageReader } from "../src/pages/store.js";
import { serveClickHouse } from "../tools/clickhouse/server.js";
import { createOqlBenchDatabase, OQL_BENCH_NOW, OQL_BENCH_QUERIES } from "./oql.js";
import { logRows, metricRows, spanRows } from "./oql-data.js";

const HOUR = 3_600_000;
const rows = Number(process.env.BENCH_CH_ROWS ?? 200_000);
const samples = Number(process.env.BENCH_CH_SAMPLES ?? 5);
const withOql = process.env.BENCH_CH_OQL !== "0";

function p50(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

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
process.stderr.write(`bench: clickhouse ${rows} logs + ${rows} spans, libSQL seeding…\n`);
const lite = await createOqlBenchDatabase(rows);
const dir = mkdtempSync(join(tmpdir(), "hexcovery-bench-clickhouse-"));
const server = await serveClickHouse(loadChdb(), { path: dir });
const client = createClient({
	url: server.url,
	log: { level: ClickHouseLogLevel.OFF },
	request_timeout: 600_000,
});
try {
	await migrateClickHouse(client, readClickHouseMigrations());
	const insertStarted = performance.now();
	let inserted = 0;
	for (const [orgId, seed, count] of [
		[lite.orgId, 11, rows],
		[lite.otherOrgId, 12, Math.round(rows / 10)],
	] as const) {
		const spec = {
			orgId,
			startMs: OQL_BENCH_NOW - 24 * HOUR,
			endMs: OQL_BENCH_NOW,
			seed,
			logs: count,
			spans: count,
			metrics: Math.round(count / 10),
		};
		const options = { retentionDays: 3_650 };
		inserted += await insertTelemetry(client, "logs", logRows(spec), options);
		inserted += await insertTelemetry(client, "spans", spanRows(spec), options);
		inserted += await insertTelemetry(client, "metric_points", metricRows(spec), options);
	}
	const insertSeconds = (performance.now() - insertStarted) / 1000;
	await client.command({ query: "OPTIMIZE TABLE logs FINAL" });
	await client.command({ query: "OPTIMIZE TABLE spans FINAL" });
	const disk = (await (
		await client.query({
			query:
				"SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts WHERE active AND database = currentDatabase() AND table IN ('logs', 'spans') GROUP BY table ORDER BY table",
			format: "JSONEachRow",
		})
	).json()) as { table: string; rows: number; bytes: number }[];

	const deps = {
		reads: new HeavyReads(directReadExecutor(lite.client)),
		clock: { now: () => OQL_BENCH_NOW },
		config: { oql: { maxRangeDays: 31, timeoutMs: 600_000 } } as AppConfig,
	};
	const lines: string[] = [];
	for (const query of withOql ? OQL_BENCH_QUERIES : []) {
		process.stderr.write(`bench: clickhouse ${query.label} … `);
		const runs = {
			rollups: () => runOql(deps, lite.orgId, query.oql),
			raw: () => runOql(deps, lite.orgId, query.oql, { rollups: false }),
			clickhouse: () => runOqlOnClickHouse(deps, client, lite.orgId, query.oql),
		};
		const [a, b] = [await runs.raw(), await runs.clickhouse()];
		await runs.rollups();
		const same = JSON.stringify(a.rows.length) === JSON.stringify(b.rows.length);
		const times = { rollups: [] as number[], raw: [] as number[], clickhouse: [] as number[] };
		for (let i = 0; i < samples; i++) {
			times.rollups.push(await timed(runs.rollups));
			times.raw.push(await timed(runs.raw));
			times.clickhouse.push(await timed(runs.clickhouse));
		}
		const [r, w, c] = [p50(times.rollups), p50(times.raw), p50(times.clickhouse)];
		process.stderr.write(`${c.toFixed(1)} ms vs ${r.toFixed(1)} ms\n`);
		lines.push(
			`| ${query.label} | ${r.toFixed(1)} | ${w.toFixed(1)} | ${c.toFixed(1)} | ${(c / r).toFixed(2)}× | ${(c / w).toFixed(2)}× | ${same ? b.meta.row_count : `${b.meta.row_count} ≠ ${a.meta.row_count}`} |`,
		);
	}
	// The pages: the same functions the routes call, over each backend.
	const pageDeps = { db: lite.db, reads: deps.reads, config: deps.config };
	const chPages = clickHousePageBackend(client, pageDeps);
	const pageLines: string[] = [];
	for (const hours of [1, 24]) {
		const window = { fromMs: OQL_BENCH_NOW - hours * HOUR, toMs: OQL_BENCH_NOW };
		const pages = {
			overview: (backend?: typeof chPages) =>
				overview(pageReader(pageDeps, lite.orgId, backend), lite.orgId, window),
			hosts: (backend?: typeof chPages) =>
				hostsPage(pageReader(pageDeps, lite.orgId, backend), lite.orgId, window, { limit: 50, after: null }),
		};
		for (const [name, read] of Object.entries(pages)) {
			const label = `${name}, ${hours} h`;
			process.stderr.write(`bench: clickhouse page ${label} … `);
			const [a, b] = [await read(), await read(chPages)];
			const same = JSON.stringify(a) === JSON.stringify(b);
			const times = { libsql: [] as number[], clickhouse: [] as number[] };
			for (let i = 0; i < samples; i++) {
				times.libsql.push(await timed(() => read()));
				times.clickhouse.push(await timed(() => read(chPages)));
			}
			const [l, c] = [p50(times.libsql), p50(times.clickhouse)];
			process.stderr.write(`${c.toFixed(1)} ms vs ${l.toFixed(1)} ms\n`);
			pageLines.push(
				`| ${label} | ${l.toFixed(1)} | ${c.toFixed(1)} | ${(c / l).toFixed(2)}× | ${hours === 24 ? (c <= 250 ? "met" : "not met") : "–"} | ${same ? "yes" : "**no**"} |`,
			);
		}
	}
	console.log(
		`\nOQL on ClickHouse (chdb via the HTTP stand-in) vs libSQL (embedded): ${rows.toLocaleString("en")} logs + ${rows.toLocaleString("en")} spans (+ a tenth for a second org), p50 of ${samples} runs each, alternating`,
	);
	console.log(
		`${cpus().length} cores; load average ${loadBefore} before, ${load()} after. libSQL seeded in ${lite.seedSeconds.toFixed(0)} s (with rollups); ClickHouse took ${inserted.toLocaleString("en")} rows in ${insertSeconds.toFixed(1)} s (${Math.round(inserted / insertSeconds).toLocaleString("en")} rows/s through the client).`,
	);
	console.log(
		`ClickHouse on disk after OPTIMIZE: ${disk.map((d) => `${d.table} ${Number(d.rows).toLocaleString("en")} rows ${(Number(d.bytes) / 1e6).toFixed(1)} MB`).join(", ")}\n`,
	);
	console.log(
		"| query | libSQL, rollups (ms) | libSQL, raw (ms) | ClickHouse (ms) | CH / rollups | CH / raw | rows (CH) |",
	);
	console.log("|---|---|---|---|---|---|---|");
	for (const line of lines) console.log(line);
	console.log(
		`\nPages (the functions the routes call): libSQL's default backend (rollups) vs clickHousePageBackend (raw rows), p50 of ${samples} runs each, alternating\n`,
	);
	console.log("| page | libSQL (ms) | ClickHouse (ms) | CH / libSQL | ≤ 250 ms (24 h) | same JSON |");
	console.log("|---|---|---|---|---|---|");
	for (const line of pageLines) console.log(line);
} finally {
	await client.close();
	await server.close();
	lite.close();
	rmSync(dir, { recursive: true, force: true });
}
