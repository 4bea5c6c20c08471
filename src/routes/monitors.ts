import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, getTableColumns, gt, lt, or, type SQL, sql } from "drizzle-orm";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "../app-env.js";
import { deferFor } from "../auth/credentials.js";
import { sessionAccess, sessionActor } from "../auth/session-access.js";
import {
	MONITOR_STATUSES,
	type MonitorRow,
	monitorFlips,
	monitorPings,
	monitors,
	PING_KINDS,
} from "../db/schema-heartbeats.js";
import { ApiError } from "../errors.js";
import { deliverInBackground } from "../heartbeats/alerts.js";
import { MonitorSchema, toMonitorJson } from "../heartbeats/json.js";
import {
	DEFAULT_PERIOD_S,
	isValidTimeZone,
	MAX_DURATION_S,
	MIN_DURATION_S,
	normalizeSchedule,
	scheduleProblem,
} from "../heartbeats/schedule.js";
import { type MonitorSettings, pause, resettle, resume, type Transition } from "../heartbeats/state.js";
import {
	backoff,
	deliveryIdsOf,
	findMonitor,
	returnedMonitor,
	runBatch,
	settingsOf,
	stateOf,
	transitionStatements,
} from "../heartbeats/store.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, pageQueryShape, validationHook } from "../http/openapi.js";
import { toRfc3339 } from "../http/time.js";
import { slugSchema } from "./heartbeat.js";

/** The dashboard side of heartbeats (JWT): viewers read, members and up write. */

const SlugParams = z.object({ slug: slugSchema });
const seconds = z.number().int().min(MIN_DURATION_S).max(MAX_DURATION_S);
const graceSeconds = z.number().int().min(0).max(MAX_DURATION_S);

const ListQuery = z.strictObject({
	status: z.enum(MONITOR_STATUSES).optional().openapi({ description: "Only monitors with this status" }),
	...pageQueryShape,
});

const PageQuery = z.strictObject({
	...pageQueryShape,
});

const MonitorList = z
	.object({ data: z.array(MonitorSchema), next_cursor: z.string().nullable() })
	.openapi("MonitorList");

const PatchBody = z
	.strictObject({
		name: z.string().trim().min(1).max(200).nullable().optional(),
		period_s: seconds
			.optional()
			.openapi({ description: "Makes it an interval monitor (schedule becomes null)" }),
		grace_s: graceSeconds.optional(),
		schedule: z.string().max(200).nullable().optional().openapi({
			description: "A 5-field cron expression makes it a cron monitor; null makes it an interval monitor",
		}),
		tz: z.string().max(64).optional().openapi({ example: "Europe/Berlin" }),
		max_runtime_s: seconds.nullable().optional(),
	})
	.refine((b) => Object.values(b).some((v) => v !== undefined), { message: "Send at least one field" })
	.openapi("MonitorUpdate", { example: { grace_s: 600, schedule: "0 3 * * *", tz: "Europe/Berlin" } });

const PingSchema = z
	.object({
		seq: z.number().int().openapi({ description: "1, 2, 3… per monitor" }),
		at: z.string(),
		kind: z.enum(PING_KINDS),
		exit_code: z.number().int().nullable(),
		rid: z.string().nullable(),
		duration_ms: z.number().int().nullable().openapi({ description: "For an end paired with its start" }),
		body: z.string().nullable().openapi({ description: "The first 10,000 bytes of the request body" }),
		body_truncated: z.boolean(),
		api_key_id: z.string().nullable(),
		remote_addr: z.string().nullable(),
		user_agent: z.string().nullable(),
	})
	.openapi("MonitorPing");

const FlipSchema = z
	.object({
		id: z.string(),
		at: z.string(),
		old_status: z.enum(MONITOR_STATUSES),
		new_status: z.enum(MONITOR_STATUSES),
		cause: z.string().openapi({
			description:
				"success_ping, start_ping, fail_ping, exit_code, due, grace_ended, run_timeout, paused, resumed, settings_changed",
		}),
	})
	.openapi("MonitorFlip");

const notFound = () => new ApiError(404, "not_found", "No monitor with that slug.");
const invalid = (path: string, message: string) =>
	new ApiError(400, "invalid_request", "The request is invalid.", { details: [{ path, message }] });

/** The settings after a PATCH, validated together (kind, zone, schedule). */
function patchedSettings(row: MonitorRow, body: z.infer<typeof PatchBody>): MonitorSettings {
	if (typeof body.schedule === "string" && body.period_s !== undefined) {
		throw invalid("schedule", "send either period_s or schedule, not both");
	}
	const tz = body.tz ?? row.tz;
	if (!isValidTimeZone(tz)) throw invalid("tz", "tz must be an IANA time zone, e.g. Europe/Berlin");
	let schedule = row.schedule;
	let periodS = row.periodS;
	if (typeof body.schedule === "string") {
		const problem = scheduleProblem(body.schedule, tz);
		if (problem) throw invalid("schedule", problem);
		schedule = normalizeSchedule(body.schedule);
		periodS = null;
	} else if (body.period_s !== undefined || body.schedule === null) {
		schedule = null;
		periodS = body.period_s ?? row.periodS ?? DEFAULT_PERIOD_S;
	}
	return {
		periodS,
		graceS: body.grace_s ?? row.graceS,
		schedule,
		tz,
		maxRuntimeS: body.max_runtime_s === undefined ? row.maxRuntimeS : body.max_runtime_s,
	};
}

/**
 * Applies a dashboard change to a monitor with the same compare-and-set as pings (re-reading on a
 * lost race); the flip and its alerts are written with it. Alerts go out after the answer.
 */
async function mutate(
	deps: AppDeps,
	c: Context<AppEnv>,
	slug: string,
	change: (row: MonitorRow, now: number) => { t: Transition; set?: Partial<MonitorRow> },
): Promise<MonitorRow> {
	const orgId = sessionActor(c).orgId;
	for (let attempt = 0; attempt < 12; attempt++) {
		await backoff(attempt);
		const row = await findMonitor(deps.db, orgId, slug);
		if (!row) throw notFound();
		const now = deps.clock.now();
		const { t, set } = change(row, now);
		const write = transitionStatements(row, t, now, set ? { set } : {});
		const results = await runBatch(deps.db, write.statements);
		const updated = returnedMonitor(results[0]);
		if (!updated) continue;
		if (write.deliveriesAt !== null) {
			const ids = deliveryIdsOf(results[write.deliveriesAt]);
			if (ids.length > 0) deferFor(c)(deliverInBackground(deps, ids));
		}
		return updated;
	}
	throw new ApiError(503, "unavailable", "The monitor is busy; try again.", {
		headers: { "Retry-After": "1" },
	});
}

export function monitorRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const write = sessionAccess(deps, "member");
	const tags = ["Monitors"];
	const security = [{ Bearer: [] }];

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List heartbeat monitors, by slug",
			description: "Optionally only those with one `status`. Pages with `next_cursor`.",
			middleware: [read] as const,
			request: { query: ListQuery },
			responses: {
				200: { description: "A page of monitors", content: { "application/json": { schema: MonitorList } } },
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const query = c.req.valid("query");
			const conditions: (SQL | undefined)[] = [eq(monitors.orgId, sessionActor(c).orgId)];
			if (query.status) conditions.push(eq(monitors.status, query.status));
			if (query.cursor !== undefined) conditions.push(gt(monitors.slug, decodeCursor(query.cursor).id));
			const rows = await deps.db
				.select()
				.from(monitors)
				.where(and(...conditions))
				.orderBy(asc(monitors.slug))
				.limit(query.limit + 1);
			const page = rows.slice(0, query.limit);
			const last = page.at(-1);
			return c.json(
				{
					data: page.map(toMonitorJson),
					next_cursor: rows.length > query.limit && last ? encodeCursor({ time: 0, id: last.slug }) : null,
				},
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{slug}",
			tags,
			security,
			summary: "Get one monitor",
			description:
				"Its settings, status, open runs (`started`), last ping, the next due time and `alert_after` (when the sweep will look at it next). Another org's slug is 404.",
			middleware: [read] as const,
			request: { params: SlugParams },
			responses: {
				200: { description: "The monitor", content: { "application/json": { schema: MonitorSchema } } },
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const row = await findMonitor(deps.db, sessionActor(c).orgId, c.req.valid("param").slug);
			if (!row) throw notFound();
			return c.json(toMonitorJson(row), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/{slug}",
			tags,
			security,
			summary: "Change a monitor's name or schedule",
			description:
				"`period_s` makes it an interval monitor, `schedule` (+ `tz`) a cron monitor; `grace_s` and `max_runtime_s` (null: the grace period) apply to both. Durations are 1 s (`grace_s`: 0) to 365 d. The due time is recomputed from the last ping at once (a late monitor may be up again, an up one late or down, recorded as flips). Pings never change these settings again.",
			middleware: [write, jsonBody] as const,
			request: {
				params: SlugParams,
				body: { required: true, content: { "application/json": { schema: PatchBody } } },
			},
			responses: {
				200: {
					description: "The updated monitor",
					content: { "application/json": { schema: MonitorSchema } },
				},
				...errorResponses(400, 401, 403, 404, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const updated = await mutate(deps, c, c.req.valid("param").slug, (row, now) => {
				const s = patchedSettings(row, body);
				return {
					t: resettle(s, stateOf(row), now),
					set: {
						...(body.name !== undefined && { name: body.name }),
						periodS: s.periodS,
						graceS: s.graceS,
						schedule: s.schedule,
						tz: s.tz,
						maxRuntimeS: s.maxRuntimeS,
						updatedAt: now,
					},
				};
			});
			return c.json(toMonitorJson(updated), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{slug}",
			tags,
			security,
			summary: "Delete a monitor with its pings and flips",
			description: "A later ping to the same slug creates a new monitor.",
			middleware: [write] as const,
			request: { params: SlugParams },
			responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			const row = await findMonitor(deps.db, sessionActor(c).orgId, c.req.valid("param").slug);
			if (!row) throw notFound();
			const [deleted] = await deps.db.batch([
				deps.db
					.delete(monitors)
					.where(and(eq(monitors.id, row.id), eq(monitors.orgId, row.orgId)))
					.returning({ id: monitors.id }),
				// Also where the database does not enforce foreign keys.
				deps.db.delete(monitorPings).where(eq(monitorPings.monitorId, row.id)),
				deps.db.delete(monitorFlips).where(eq(monitorFlips.monitorId, row.id)),
			]);
			if (deleted.length !== 1) throw notFound();
			return c.body(null, 204);
		},
	);

	for (const action of ["pause", "resume"] as const) {
		app.openapi(
			createRoute({
				method: "post",
				path: `/{slug}/${action}`,
				tags,
				security,
				summary: action === "pause" ? "Pause a monitor" : "Resume a paused monitor",
				description:
					action === "pause"
						? "A paused monitor never goes late or down and sends no alerts; pings are still stored. Open runs are forgotten. Pausing a paused monitor changes nothing."
						: "The monitor becomes `new` and waits for its next ping. Resuming a monitor that is not paused changes nothing.",
				middleware: [write] as const,
				request: { params: SlugParams },
				responses: {
					200: { description: "The monitor", content: { "application/json": { schema: MonitorSchema } } },
					...errorResponses(400, 401, 403, 404),
				},
			}),
			async (c) => {
				const updated = await mutate(deps, c, c.req.valid("param").slug, (row, now) => {
					const s = settingsOf(row);
					const state = stateOf(row);
					const t =
						action === "pause"
							? state.status === "paused"
								? { state, flip: null }
								: pause(s, state)
							: resume(s, state);
					return { t, set: { updatedAt: t.flip ? now : row.updatedAt } };
				});
				return c.json(toMonitorJson(updated), 200);
			},
		);
	}

	app.openapi(
		createRoute({
			method: "get",
			path: "/{slug}/pings",
			tags,
			security,
			summary: "A monitor's pings, newest first, with their bodies",
			description:
				"The newest 1,000 pings per monitor are kept, none older than the organization's `retention_days`. Pages with `next_cursor`.",
			middleware: [read] as const,
			request: { params: SlugParams, query: PageQuery },
			responses: {
				200: {
					description: "A page of pings",
					content: {
						"application/json": {
							schema: z
								.object({ data: z.array(PingSchema), next_cursor: z.string().nullable() })
								.openapi("MonitorPingList"),
						},
					},
				},
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const query = c.req.valid("query");
			const row = await findMonitor(deps.db, sessionActor(c).orgId, c.req.valid("param").slug);
			if (!row) throw notFound();
			const conditions = [eq(monitorPings.monitorId, row.id)];
			if (query.cursor !== undefined) conditions.push(lt(monitorPings.seq, decodeCursor(query.cursor).time));
			const rows = await deps.db
				.select()
				.from(monitorPings)
				.where(and(...conditions))
				.orderBy(desc(monitorPings.seq))
				.limit(query.limit + 1);
			const page = rows.slice(0, query.limit);
			const last = page.at(-1);
			return c.json(
				{
					data: page.map((p) => ({
						seq: p.seq,
						at: toRfc3339(p.at),
						kind: p.kind,
						exit_code: p.exitCode,
						rid: p.rid,
						duration_ms: p.durationMs,
						body: p.body,
						body_truncated: p.bodyTruncated,
						api_key_id: p.apiKeyId,
						remote_addr: p.remoteAddr,
						user_agent: p.userAgent,
					})),
					next_cursor: rows.length > query.limit && last ? encodeCursor({ time: last.seq, id: "" }) : null,
				},
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{slug}/flips",
			tags,
			security,
			summary: "A monitor's status changes, newest first",
			description: "Every change of status, with its time and cause. Pages with `next_cursor`.",
			middleware: [read] as const,
			request: { params: SlugParams, query: PageQuery },
			responses: {
				200: {
					description: "A page of flips",
					content: {
						"application/json": {
							schema: z
								.object({ data: z.array(FlipSchema), next_cursor: z.string().nullable() })
								.openapi("MonitorFlipList"),
						},
					},
				},
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const query = c.req.valid("query");
			const row = await findMonitor(deps.db, sessionActor(c).orgId, c.req.valid("param").slug);
			if (!row) throw notFound();
			// Newest first by (at, rowid): rowids grow with inserts, so flips within one millisecond keep their order.
			const rowid = sql<number>`${monitorFlips}.rowid`;
			const conditions: (SQL | undefined)[] = [eq(monitorFlips.monitorId, row.id)];
			if (query.cursor !== undefined) {
				const after = decodeCursor(query.cursor);
				const n = Number(after.id);
				if (!Number.isSafeInteger(n))
					throw invalid("cursor", "The cursor is invalid; pass next_cursor from a previous page.");
				conditions.push(
					or(lt(monitorFlips.at, after.time), and(eq(monitorFlips.at, after.time), sql`${rowid} < ${n}`)),
				);
			}
			const rows = await deps.db
				.select({ ...getTableColumns(monitorFlips), n: rowid })
				.from(monitorFlips)
				.where(and(...conditions))
				.orderBy(desc(monitorFlips.at), desc(rowid))
				.limit(query.limit + 1);
			const page = rows.slice(0, query.limit);
			const last = page.at(-1);
			return c.json(
				{
					data: page.map((f) => ({
						id: f.id,
						at: toRfc3339(f.at),
						old_status: f.oldStatus,
						new_status: f.newStatus,
						cause: f.cause,
					})),
					next_cursor:
						rows.length > query.limit && last ? encodeCursor({ time: last.at, id: String(last.n) }) : null,
				},
				200,
			);
		},
	);

	return app;
}
