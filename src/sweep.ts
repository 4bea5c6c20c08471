import { and, lt } from "drizzle-orm";
import type { AppDeps } from "./app-env.js";
import { loginThrottles } from "./db/schema.js";
import { sweepHeartbeats } from "./heartbeats/sweep.js";
import { sweepTelemetryRetention } from "./ingest/retention.js";
import { pruneExpiredSessions, THROTTLE_SETTINGS } from "./services/sessions.js";

/**
 * The periodic housekeeping both runtimes run once a minute (a Workers Cron Trigger; a timer on
 * Node). Every task is idempotent, so overlapping sweeps are harmless.
 */
export async function runSweep(
	deps: Pick<AppDeps, "db" | "clock" | "config" | "webhookTransport">,
): Promise<void> {
	const now = deps.clock.now();
	await pruneExpiredSessions(deps.db, now);
	await deps.db
		.delete(loginThrottles)
		.where(
			and(
				lt(loginThrottles.lastFailureAt, now - THROTTLE_SETTINGS.windowMs),
				lt(loginThrottles.blockedUntil, now),
			),
		);
	// Heartbeats: flip overdue monitors, send due alerts, prune pings (src/heartbeats/sweep.ts).
	await sweepHeartbeats(deps);
	// Telemetry older than each org's retention, in bounded batches (src/ingest/retention.ts).
	await sweepTelemetryRetention(deps.db, now);
}
