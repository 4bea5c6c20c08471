import { and, asc, isNotNull, lte, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { type MonitorRow, monitors } from "../db/schema-heartbeats.js";
import { type DeliveryDeps, sweepDeliveries } from "./alerts.js";
import { evaluate } from "./state.js";
import { type MonitorStatement, runBatch, settingsOf, stateOf, transitionStatements } from "./store.js";

/**
 * The heartbeat part of the minute sweep (src/sweep.ts), on both runtimes:
 * 1. flip overdue monitors — one indexed range read on `alert_after`, in batches of SWEEP_BATCH;
 *    each monitor is re-evaluated from the row just read and written with a compare-and-set on `rev`,
 *    so a ping that arrived in between wins and two overlapping sweeps flip a monitor once;
 * 2. attempt the alert deliveries that are due (new ones and retries), fairly across orgs, in
 *    rounds while the backlog lasts and the time budget allows (src/heartbeats/alerts.ts);
 * 3. prune: pings beyond the newest MAX_PINGS_PER_MONITOR per monitor, and pings, flips and finished
 *    deliveries older than the org's retention, each in bounded batches (a backlog shrinks sweep by sweep).
 * The work grows with the overdue monitors, not with all monitors.
 */

export const SWEEP_BATCH = 250;
/** Monitors flipped per sweep at most; the rest wait a minute. */
export const SWEEP_MAX_MONITORS = 20_000;
export const MAX_PINGS_PER_MONITOR = 1_000;
const PRUNE_MONITORS_PER_SWEEP = 20;
const PRUNE_ROWS_PER_MONITOR = 2_000;
const PRUNE_AGED_ROWS = 5_000;
const DAY_MS = 86_400_000;

export interface HeartbeatSweepReport {
	examined: number;
	flipped: number;
	delivered: number;
	prunedPings: number;
}

export async function sweepHeartbeats(deps: DeliveryDeps): Promise<HeartbeatSweepReport> {
	const { examined, flipped } = await flipOverdue(deps.db, deps.clock.now());
	const attempted = await sweepDeliveries(deps);
	const prunedPings = await prunePings(deps.db);
	await pruneAged(deps.db, deps.clock.now());
	return {
		examined,
		flipped,
		delivered: attempted.filter((d) => d.status === "delivered").length,
		prunedPings,
	};
}

/** Flips the monitors whose `alert_after` has passed, as of `now`. */
export async function flipOverdue(db: Database, now: number): Promise<{ examined: number; flipped: number }> {
	let examined = 0;
	let flipped = 0;
	while (examined < SWEEP_MAX_MONITORS) {
		const rows = await db
			.select()
			.from(monitors)
			.where(and(isNotNull(monitors.alertAfter), lte(monitors.alertAfter, now)))
			.orderBy(asc(monitors.alertAfter))
			.limit(SWEEP_BATCH);
		if (rows.length === 0) break;
		examined += rows.length;
		const statements: MonitorStatement[] = [];
		const updates: { index: number; row: MonitorRow; flips: boolean }[] = [];
		for (const row of rows) {
			const t = evaluate(settingsOf(row), stateOf(row), now);
			const write = transitionStatements(row, t, now);
			updates.push({ index: statements.length, row, flips: t.flip !== null });
			statements.push(...write.statements);
		}
		const results = await runBatch(db, statements);
		let won = 0;
		for (const u of updates) {
			if (results[u.index]?.rows.length === 1) {
				won++;
				if (u.flips) flipped++;
			}
		}
		// Every row read was past due; if none could be written, others are writing them: stop here.
		if (won === 0 || rows.length < SWEEP_BATCH) break;
	}
	return { examined, flipped };
}

/** Pings beyond the newest MAX_PINGS_PER_MONITOR of each monitor, found by the partial index on the count. */
export async function prunePings(db: Database): Promise<number> {
	const candidates = await db.all<{ id: string; ping_seq: number; pruned_seq: number }>(
		sql`SELECT id, ping_seq, pruned_seq FROM monitors WHERE ping_seq - pruned_seq > ${sql.raw(String(MAX_PINGS_PER_MONITOR))} LIMIT ${PRUNE_MONITORS_PER_SWEEP}`,
	);
	if (candidates.length === 0) return 0;
	const items = candidates.flatMap((m) => {
		const from = Number(m.pruned_seq);
		const through = Math.min(Number(m.ping_seq) - MAX_PINGS_PER_MONITOR, from + PRUNE_ROWS_PER_MONITOR);
		return [
			db.run(
				sql`DELETE FROM monitor_pings WHERE monitor_id = ${m.id} AND seq > ${from} AND seq <= ${through}`,
			),
			db.run(sql`UPDATE monitors SET pruned_seq = ${through} WHERE id = ${m.id} AND pruned_seq = ${from}`),
		];
	});
	const results = await db.batch(items as [(typeof items)[number], ...typeof items]);
	let deleted = 0;
	for (let i = 0; i < results.length; i += 2)
		deleted += Number((results[i] as { rowsAffected?: number }).rowsAffected ?? 0);
	return deleted;
}

/** Pings, flips and finished deliveries older than their org's `retention_days`, a bounded batch each. */
export async function pruneAged(db: Database, now: number): Promise<void> {
	await db.batch([
		db.run(
			sql`DELETE FROM monitor_pings WHERE rowid IN (SELECT p.rowid FROM orgs o JOIN monitor_pings p ON p.org_id = o.id AND p.at < ${now} - o.retention_days * ${DAY_MS} LIMIT ${PRUNE_AGED_ROWS})`,
		),
		db.run(
			sql`DELETE FROM monitor_flips WHERE rowid IN (SELECT f.rowid FROM orgs o JOIN monitor_flips f ON f.org_id = o.id AND f.at < ${now} - o.retention_days * ${DAY_MS} LIMIT ${PRUNE_AGED_ROWS})`,
		),
		db.run(
			sql`DELETE FROM alert_deliveries WHERE id IN (SELECT d.id FROM orgs o JOIN alert_deliveries d ON d.org_id = o.id AND d.created_at < ${now} - o.retention_days * ${DAY_MS} WHERE d.status <> 'pending' LIMIT ${PRUNE_AGED_ROWS})`,
		),
	]);
}
