import type { AppDeps } from "./app-env.js";
import { loginThrottles } from "./db/schema.js";
import { sweepHeartbeats } from "./heartbeats/sweep.js";
import { pruneQueueReceipts } from "./ingest/queue.js";
import { libsqlClientOf } from "./ingest/writer.js";
import { forgottenThrottles, pruneExpiredSessions } from "./services/sessions.js";

/**
 * The periodic housekeeping both runtimes run once a minute (a Workers Cron Trigger; a timer on
 * Node). Every task is idempotent, so overlapping sweeps are harmless.
 */
export async function runSweep(
	deps: Pick<AppDeps, "db" | "clock" | "config" | "webhookTransport" | "log" | "telemetry">,
): Promise<void> {
	const now = deps.clock.now();
	await pruneExpiredSessions(deps.db, now);
	await deps.db.delete(loginThrottles).where(forgottenThrottles(now));
	// Heartbeats: flip overdue monitors, send due alerts, prune pings (src/heartbeats/sweep.ts).
	const heartbeats = await sweepHeartbeats(deps);
	// Telemetry older than each org's retention, in the telemetry store (src/telemetry/store.ts).
	const telemetryDeleted = await deps.telemetry.sweepRetention(now);
	// Queue receipts past any redelivery (src/ingest/queue.ts; none without a queue).
	const receiptsPruned = await pruneQueueReceipts(libsqlClientOf(deps.db), now);
	// One line per sweep: at info when it changed something, else at debug (quiet when idle).
	const busy =
		heartbeats.flipped + heartbeats.delivered + heartbeats.prunedPings + telemetryDeleted + receiptsPruned >
		0;
	deps.log({
		level: busy ? "info" : "debug",
		msg: "sweep",
		monitors_examined: heartbeats.examined,
		monitors_flipped: heartbeats.flipped,
		alerts_delivered: heartbeats.delivered,
		pings_pruned: heartbeats.prunedPings,
		telemetry_rows_deleted: telemetryDeleted,
		queue_receipts_pruned: receiptsPruned,
	});
}
