import { z } from "@hono/zod-openapi";
import { MONITOR_STATUSES, type MonitorRow, PING_KINDS } from "../db/schema-heartbeats.js";
import { toRfc3339 } from "../http/time.js";
import type { OpenRun } from "./state.js";

/** How monitors leave the API: the ping answer (contract §4, exactly) and the dashboard's fuller object. */

const at = (ms: number | null) => (ms === null ? null : toRfc3339(ms));

export function openRunsOf(row: Pick<MonitorRow, "openRuns">): OpenRun[] {
	try {
		const parsed = JSON.parse(row.openRuns) as unknown;
		return Array.isArray(parsed) ? (parsed as OpenRun[]) : [];
	} catch {
		return [];
	}
}

export const PingMonitorSchema = z
	.object({
		slug: z.string().openapi({ example: "nightly-backup" }),
		status: z.enum(MONITOR_STATUSES),
		period_s: z.number().int().nullable().openapi({ description: "Null for cron monitors", example: 86400 }),
		grace_s: z.number().int().openapi({ example: 3600 }),
		schedule: z.string().nullable().openapi({ description: "5-field cron; null for interval monitors" }),
		tz: z.string().openapi({ example: "UTC" }),
		started: z.boolean().openapi({ description: "Whether a started run has not ended yet" }),
		last_ping_at: z.string().nullable(),
		next_due_at: z.string().nullable(),
	})
	.openapi("HeartbeatMonitorState");

export const PingAnswerSchema = z
	.object({
		monitor: PingMonitorSchema,
		warnings: z
			.array(z.string())
			.optional()
			.openapi({
				description:
					"Present when a later ping sent settings that differ from the monitor's: they were ignored (settings apply only when a ping creates the monitor); each entry says which and how to change them",
				example: [
					'Ignored period=1h: settings on a ping apply only when it creates the monitor, and "nightly-backup" has period 1d. Change them with PATCH /api/v1/monitors/nightly-backup or on the dashboard\'s Monitors page.',
				],
			}),
	})
	.openapi("HeartbeatAnswer");

export function toPingAnswer(row: MonitorRow): z.infer<typeof PingAnswerSchema> {
	return {
		monitor: {
			slug: row.slug,
			status: row.status,
			period_s: row.periodS,
			grace_s: row.graceS,
			schedule: row.schedule,
			tz: row.tz,
			started: openRunsOf(row).length > 0,
			last_ping_at: at(row.lastPingAt),
			next_due_at: at(row.nextDueAt),
		},
	};
}

export const MonitorSchema = PingMonitorSchema.extend({
	id: z.string().openapi({ example: "mon_7Qk2LmXr9TbV4cNp1ZsD" }),
	name: z.string().nullable(),
	max_runtime_s: z
		.number()
		.int()
		.nullable()
		.openapi({ description: "Null: a started run may last as long as the grace period" }),
	last_ping_kind: z.enum(PING_KINDS).nullable(),
	last_duration_ms: z.number().int().nullable().openapi({
		description: "Duration of the run the last end ping closed; null if it paired with no start",
	}),
	alert_after: z.string().nullable().openapi({
		description: "When the sweep will next look at this monitor (late/down); null: only a ping changes it",
	}),
	open_runs: z.array(z.object({ rid: z.string().nullable(), started_at: z.string() })),
	created_at: z.string(),
	updated_at: z.string(),
}).openapi("Monitor");

export type MonitorJson = z.infer<typeof MonitorSchema>;

export function toMonitorJson(row: MonitorRow): MonitorJson {
	const runs = openRunsOf(row);
	return {
		id: row.id,
		slug: row.slug,
		name: row.name,
		status: row.status,
		started: runs.length > 0,
		period_s: row.periodS,
		grace_s: row.graceS,
		schedule: row.schedule,
		tz: row.tz,
		max_runtime_s: row.maxRuntimeS,
		last_ping_at: at(row.lastPingAt),
		last_ping_kind: row.lastPingKind,
		last_duration_ms: row.lastDurationMs,
		next_due_at: at(row.nextDueAt),
		alert_after: at(row.alertAfter),
		open_runs: runs.map((r) => ({ rid: r.rid, started_at: toRfc3339(r.at) })),
		created_at: toRfc3339(row.createdAt),
		updated_at: toRfc3339(row.updatedAt),
	};
}
