import type { InValue } from "@libsql/client";
import { type AnyColumn, and, count, eq, getTableColumns, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Clock } from "../clock.js";
import type { Database } from "../db/client.js";
import { type MonitorRow, monitors, type PingKind } from "../db/schema-heartbeats.js";
import { ApiError } from "../errors.js";
import { toRfc3339 } from "../http/time.js";
import { newId } from "../ids.js";
import type { GroupCommitWriter } from "../ingest/writer.js";
import { openRunsOf, toMonitorJson } from "./json.js";
import {
	applyPing,
	type Flip,
	INITIAL_STATE,
	type MonitorSettings,
	type MonitorState,
	type PingEvent,
	type Transition,
} from "./state.js";

/**
 * Monitors in the database. Every state write is a compare-and-set on `rev` (a random value replaced
 * by each write): a ping or a sweep that read an older state writes nothing and tries again (the
 * ping) or leaves the monitor to the next sweep. A write is one batch (one transaction): the monitor
 * update, then — only if that update won — the ping row, the flip and the alert deliveries, each
 * inserted `WHERE rev = <the new rev>`. A ping therefore costs one read and one batch (on Node both
 * inside one group commit of the embedded writer: `recordPing`).
 */

export function settingsOf(row: MonitorRow): MonitorSettings {
	return {
		periodS: row.periodS,
		graceS: row.graceS,
		schedule: row.schedule,
		tz: row.tz,
		maxRuntimeS: row.maxRuntimeS,
	};
}

export function stateOf(row: MonitorRow): MonitorState {
	return {
		status: row.status,
		openRuns: openRunsOf(row),
		lastPingAt: row.lastPingAt,
		lastPingKind: row.lastPingKind,
		lastDurationMs: row.lastDurationMs,
		nextDueAt: row.nextDueAt,
		alertAfter: row.alertAfter,
	};
}

function stateColumns(state: MonitorState) {
	return {
		status: state.status,
		openRuns: JSON.stringify(state.openRuns),
		lastPingAt: state.lastPingAt,
		lastPingKind: state.lastPingKind,
		lastDurationMs: state.lastDurationMs,
		nextDueAt: state.nextDueAt,
		alertAfter: state.alertAfter,
	};
}

/** A fresh compare-and-set token, never equal to the one it replaces. */
export function newRev(old: number): number {
	for (;;) {
		const [hi = 0, lo = 0] = crypto.getRandomValues(new Uint32Array(2));
		const rev = (hi & 0x1fffff) * 0x100000000 + lo;
		if (rev !== old) return rev;
	}
}

/** What a ping stores besides its kind. */
export interface PingRecord {
	kind: PingKind;
	exitCode: number | null;
	rid: string | null;
	body: string | null;
	bodyTruncated: boolean;
	apiKeyId: string | null;
	remoteAddr: string | null;
	userAgent: string | null;
}

function insertPing(
	db: Database,
	monitorId: string,
	rev: number | null,
	at: number,
	p: PingRecord,
	durationMs: number | null,
) {
	const condition = rev === null ? sql`` : sql` AND rev = ${rev}`;
	return db.run(
		sql`INSERT INTO monitor_pings (monitor_id, seq, org_id, at, kind, exit_code, rid, duration_ms, body, body_truncated, api_key_id, remote_addr, user_agent)
SELECT id, ping_seq, org_id, ${at}, ${p.kind}, ${p.exitCode}, ${p.rid}, ${durationMs}, ${p.body}, ${p.bodyTruncated ? 1 : 0}, ${p.apiKeyId}, ${p.remoteAddr}, ${p.userAgent}
FROM monitors WHERE id = ${monitorId}${condition}`,
	);
}

function insertFlip(db: Database, monitorId: string, rev: number, flipId: string, at: number, flip: Flip) {
	return db.run(
		sql`INSERT INTO monitor_flips (id, monitor_id, org_id, at, old_status, new_status, cause)
SELECT ${flipId}, id, org_id, ${at}, ${flip.from}, ${flip.to}, ${flip.cause} FROM monitors WHERE id = ${monitorId} AND rev = ${rev}`,
	);
}

/** Alerts go out on every flip to or from `down`. */
export function alerts(flip: Flip | null): flip is Flip {
	return flip !== null && (flip.from === "down" || flip.to === "down");
}

/**
 * One pending delivery per enabled channel of the org (the outbox, in the same transaction as the
 * flip). The payload is built here except for the org's name, which the statement splices in as a
 * JSON string, so the ping path needs no extra read.
 */
function insertDeliveries(
	db: Database,
	row: MonitorRow,
	rev: number,
	flipId: string,
	at: number,
	flip: Flip,
) {
	const monitor = toMonitorJson(row);
	const prefix = `{"event":"monitor.status_changed","event_id":${JSON.stringify(flipId)},"time":${JSON.stringify(toRfc3339(at))},"org":{"id":${JSON.stringify(row.orgId)},"name":`;
	const suffix = `},"monitor":${JSON.stringify(monitor)},"old_status":${JSON.stringify(flip.from)},"new_status":${JSON.stringify(flip.to)},"cause":${JSON.stringify(flip.cause)}}`;
	return db.run(
		sql`INSERT INTO alert_deliveries (org_id, channel_id, monitor_id, flip_id, event, payload, status, attempts, next_attempt_at, created_at)
SELECT c.org_id, c.id, ${row.id}, ${flipId}, 'monitor.status_changed', ${prefix} || json_quote(o.name) || ${suffix}, 'pending', 0, ${at}, ${at}
FROM notification_channels c JOIN orgs o ON o.id = c.org_id
WHERE c.org_id = ${row.orgId} AND c.enabled = 1 AND EXISTS (SELECT 1 FROM monitors m WHERE m.id = ${row.id} AND m.rev = ${rev})
RETURNING id`,
	);
}

/**
 * Collapses a flapping monitor's alerts: its deliveries still pending (new, waiting for a retry, or
 * in flight — a sender then records nothing over it) are closed as `failed` "superseded by a later
 * flip" when a new flip is queued, so a receiver gets the latest state instead of every flip in
 * turn (a monitor flapping every minute towards a failing receiver would otherwise pile up one
 * delivery per flip and channel, each retried five times). Only if the transition's write matched.
 */
function supersedeDeliveries(db: Database, monitorId: string, rev: number) {
	return db.run(
		sql`UPDATE alert_deliveries SET status = 'failed', error = 'superseded by a later flip', next_attempt_at = NULL
WHERE monitor_id = ${monitorId} AND status = 'pending'
AND EXISTS (SELECT 1 FROM monitors m WHERE m.id = ${monitorId} AND m.rev = ${rev})`,
	);
}

type Item = BatchItem<"sqlite">;

/**
 * Whether a ping's transition only moves the ping times (no flip, same status, same open runs, no
 * settings): the common success ping of an up monitor. Such writes commute, so they need no
 * exclusive compare-and-set — see `transitionStatements`.
 */
export function isLight(row: MonitorRow, t: Transition): boolean {
	return (
		t.flip === null && t.state.status === row.status && JSON.stringify(t.state.openRuns) === row.openRuns
	);
}

/**
 * The statements that write a transition of `row` as of `now`: the guarded update, and what hangs
 * off it (ping, flip, alert outbox), each inserted only if the update matched.
 *
 * - A full write requires `rev` and `last_ping_at` as read, and replaces `rev`: any other write in
 *   between (a flip, new runs, new settings, or a ping that moved the due time) makes it match
 *   nothing, so a stale decision — the sweep's above all — is never stored.
 * - A light ping (`isLight`, allowed with `light: true`) requires only `rev` and keeps it: concurrent
 *   success pings of one monitor do not fail each other. Its times are written only when newer
 *   than those stored (all SET terms see the old row), so the order of commits does not matter.
 *
 * `after` is the row as it will be (for the alert payload).
 */
export function transitionStatements(
	db: Database,
	row: MonitorRow,
	t: Transition,
	now: number,
	extra: {
		ping?: { record: PingRecord; durationMs: number | null };
		set?: Partial<MonitorRow>;
		light?: boolean;
	} = {},
): { items: Item[]; rev: number; after: MonitorRow; deliveriesAt: number | null } {
	const light = extra.light === true && extra.set === undefined && isLight(row, t);
	const rev = light ? row.rev : newRev(row.rev);
	const columns = { ...stateColumns(t.state), ...extra.set, rev };
	const after: MonitorRow = {
		...row,
		...columns,
		pingSeq: row.pingSeq + (extra.ping ? 1 : 0),
	};
	const seq = extra.ping ? { pingSeq: sql`${monitors.pingSeq} + 1` } : {};
	let update: Item;
	if (light) {
		const newer = sql`(${monitors.lastPingAt} IS NULL OR ${monitors.lastPingAt} <= ${now})`;
		const ifNewer = (value: number | string | null, column: AnyColumn) =>
			sql`CASE WHEN ${newer} THEN ${value} ELSE ${column} END`;
		update = db
			.update(monitors)
			.set({
				lastPingAt: ifNewer(t.state.lastPingAt, monitors.lastPingAt),
				lastPingKind: ifNewer(t.state.lastPingKind, monitors.lastPingKind),
				lastDurationMs: ifNewer(t.state.lastDurationMs, monitors.lastDurationMs),
				nextDueAt: ifNewer(t.state.nextDueAt, monitors.nextDueAt),
				alertAfter: ifNewer(t.state.alertAfter, monitors.alertAfter),
				...seq,
			})
			.where(and(eq(monitors.id, row.id), eq(monitors.rev, row.rev)))
			.returning();
	} else {
		update = db
			.update(monitors)
			.set({ ...columns, ...seq })
			.where(
				and(
					eq(monitors.id, row.id),
					eq(monitors.rev, row.rev),
					row.lastPingAt === null ? isNull(monitors.lastPingAt) : eq(monitors.lastPingAt, row.lastPingAt),
				),
			)
			.returning();
	}
	const items: Item[] = [update];
	if (extra.ping) items.push(insertPing(db, row.id, rev, now, extra.ping.record, extra.ping.durationMs));
	let deliveriesAt: number | null = null;
	if (t.flip) {
		const flipId = newId("flp");
		items.push(insertFlip(db, row.id, rev, flipId, now, t.flip));
		if (alerts(t.flip)) {
			items.push(supersedeDeliveries(db, row.id, rev));
			deliveriesAt = items.length;
			items.push(insertDeliveries(db, after, rev, flipId, now, t.flip));
		}
	}
	return { items, rev, after, deliveriesAt };
}

export async function runBatch(db: Database, items: Item[]): Promise<unknown[]> {
	return (await db.batch(items as [Item, ...Item[]])) as unknown[];
}

/** Delivery ids from the result of `insertDeliveries`. */
export function deliveryIdsOf(result: unknown): number[] {
	const rows = (result as { rows?: unknown[] } | undefined)?.rows ?? [];
	return rows.map((r) => Number((r as Record<string, unknown>).id ?? (r as unknown[])[0]));
}

function findMonitorQuery(db: Database, orgId: string, slug: string) {
	return db
		.select()
		.from(monitors)
		.where(and(eq(monitors.orgId, orgId), eq(monitors.slug, slug)))
		.limit(1);
}

export async function findMonitor(
	db: Database,
	orgId: string,
	slug: string,
): Promise<MonitorRow | undefined> {
	const [row] = await findMonitorQuery(db, orgId, slug);
	return row;
}

export interface PingInput {
	orgId: string;
	slug: string;
	event: PingEvent;
	/** Settings for a monitor this ping creates; ignored when the monitor exists. */
	creation: MonitorSettings;
	/** Monitors the org may have; a first ping beyond is refused (409 `monitor_limit_reached`). */
	maxMonitorsPerOrg: number;
	record: PingRecord;
}

export interface PingOutcome {
	monitor: MonitorRow;
	created: boolean;
	/** Alert deliveries queued by this ping's flip, to attempt after the answer. */
	deliveryIds: number[];
}

const PING_ATTEMPTS = 12;

/**
 * After a lost compare-and-set: wait a random while that doubles each time (up to ~0.3 s), so that
 * pings that collided do not collide again in lockstep.
 */
export function backoff(attempt: number): Promise<void> {
	if (attempt === 0) return Promise.resolve();
	const ceiling = Math.min(2 ** attempt, 320);
	return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

/** One attempt at a ping: its write, and how to read the outcome (null: lost the compare-and-set). */
interface PingPlan {
	items: Item[];
	outcome(results: unknown[]): PingOutcome | null;
}

/** The monitor a `.returning()` item returned: drizzle's mapped rows, or the writer's raw rows. */
function returnedMonitor(result: unknown): MonitorRow | undefined {
	if (Array.isArray(result)) return result[0] as MonitorRow | undefined;
	const raw = (result as { rows: Record<string, unknown>[] }).rows[0];
	return raw && monitorFromDriver(raw);
}

const MONITOR_COLUMNS = Object.entries(getTableColumns(monitors));

/** A `monitors` row as the driver returns it (column names, driver values) → the drizzle row. */
function monitorFromDriver(raw: Record<string, unknown>): MonitorRow {
	const row: Record<string, unknown> = {};
	for (const [key, column] of MONITOR_COLUMNS) {
		const value = raw[column.name];
		row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
	}
	return row as MonitorRow;
}

function planPing(
	db: Database,
	row: MonitorRow | undefined,
	input: PingInput,
	now: number,
	countMonitors: () => number,
): PingPlan {
	if (!row) return planCreateWithPing(db, input, now, countMonitors());
	if (input.event.kind === "log") {
		// No state change: no compare-and-set, just the next ping number and the ping.
		return {
			items: [
				db
					.update(monitors)
					.set({ pingSeq: sql`${monitors.pingSeq} + 1` })
					.where(eq(monitors.id, row.id))
					.returning(),
				insertPing(db, row.id, null, now, input.record, null),
			],
			outcome: (results) => {
				const monitor = returnedMonitor(results[0]);
				return monitor ? { monitor, created: false, deliveryIds: [] } : null; // deleted meanwhile
			},
		};
	}
	const t = applyPing(settingsOf(row), stateOf(row), input.event, now);
	const write = transitionStatements(db, row, t, now, {
		ping: { record: input.record, durationMs: t.durationMs },
		light: true,
	});
	return {
		items: write.items,
		outcome: (results) => {
			const monitor = returnedMonitor(results[0]);
			if (!monitor) return null;
			const deliveryIds = write.deliveriesAt === null ? [] : deliveryIdsOf(results[write.deliveriesAt]);
			return { monitor, created: false, deliveryIds };
		},
	};
}

/** The SQL text and bound values of a drizzle query built on `db` (lazy: building runs nothing). */
function queryOf(item: Item | { toSQL(): { sql: string; params: unknown[] } }): {
	sql: string;
	params: unknown[];
} {
	return "toSQL" in item
		? item.toSQL()
		: (item as unknown as { getQuery(): { sql: string; params: unknown[] } }).getQuery();
}

/** The text of `findMonitorQuery` (bound: org id, slug, limit 1), built once. */
let findMonitorSql: string | undefined;

/**
 * Stores a ping and applies it: one read, then one write.
 *
 * With the embedded writer (Node), both run inside the writer's next group commit, under the write
 * lock, so the read is current and the compare-and-set cannot lose; the ping is acknowledged once the
 * group has committed. Otherwise (Workers): one read, then one batch; again only if another write
 * came between.
 */
export async function recordPing(
	deps: { db: Database; clock: Clock; writer?: GroupCommitWriter | undefined },
	input: PingInput,
): Promise<PingOutcome> {
	const { db, clock, writer } = deps;
	for (let attempt = 0; attempt < PING_ATTEMPTS; attempt++) {
		await backoff(attempt);
		let outcome: PingOutcome | null;
		if (writer) {
			findMonitorSql ??= queryOf(findMonitorQuery(db, "", "")).sql;
			const find = findMonitorSql;
			outcome = await writer.submit((tx) => {
				const raw = tx.all(find, [input.orgId, input.slug, 1])[0];
				const plan = planPing(db, raw && monitorFromDriver(raw), input, clock.now(), () =>
					Number(tx.all(COUNT_MONITORS_SQL, [input.orgId])[0]?.n ?? 0),
				);
				const results = plan.items.map((item) => {
					const query = queryOf(item);
					return { rows: tx.all(query.sql, query.params as InValue[]) };
				});
				return plan.outcome(results);
			});
		} else {
			const row = await findMonitor(db, input.orgId, input.slug);
			const existing = row ? 0 : ((await monitorCountQuery(db, input.orgId))[0]?.n ?? 0);
			const plan = planPing(db, row, input, clock.now(), () => existing);
			outcome = plan.outcome(await runBatch(db, plan.items));
		}
		// null: another request created the monitor first, or changed it in between: again.
		if (outcome) return outcome;
	}
	throw new ApiError(503, "unavailable", "The monitor is being updated by many pings at once; try again.", {
		headers: { "Retry-After": "1" },
	});
}

/**
 * The org's monitor count, read only when a ping would create a monitor (a first ping), so the
 * one-read-one-write budget of a ping to an existing monitor is unchanged.
 */
function monitorCountQuery(db: Database, orgId: string) {
	return db.select({ n: count() }).from(monitors).where(eq(monitors.orgId, orgId));
}

const COUNT_MONITORS_SQL = "SELECT count(*) AS n FROM monitors WHERE org_id = ?";

function checkMonitorLimit(existing: number, input: PingInput): void {
	// Counted before the insert: first pings racing at the limit may pass it by their number.
	if (existing >= input.maxMonitorsPerOrg) {
		throw new ApiError(
			409,
			"monitor_limit_reached",
			`An organization has at most ${input.maxMonitorsPerOrg} monitors (HEARTBEAT_MAX_MONITORS_PER_ORG); delete unused ones or ping an existing slug.`,
		);
	}
}

function planCreateWithPing(db: Database, input: PingInput, now: number, existing: number): PingPlan {
	checkMonitorLimit(existing, input);
	const s = input.creation;
	const t = applyPing(s, INITIAL_STATE, input.event, now);
	const id = newId("mon");
	const rev = newRev(0);
	const row: MonitorRow = {
		id,
		orgId: input.orgId,
		slug: input.slug,
		name: null,
		periodS: s.schedule === null ? s.periodS : null,
		graceS: s.graceS,
		schedule: s.schedule,
		tz: s.tz,
		maxRuntimeS: s.maxRuntimeS,
		...stateColumns(t.state),
		rev,
		pingSeq: 1,
		prunedSeq: 0,
		createdAt: now,
		updatedAt: now,
	};
	const items: Item[] = [
		db
			.insert(monitors)
			.values(row)
			.onConflictDoNothing({ target: [monitors.orgId, monitors.slug] })
			.returning(),
		insertPing(db, id, rev, now, input.record, t.durationMs),
	];
	let deliveriesAt: number | null = null;
	if (t.flip) {
		const flipId = newId("flp");
		items.push(insertFlip(db, id, rev, flipId, now, t.flip));
		if (alerts(t.flip)) {
			deliveriesAt = items.length;
			items.push(insertDeliveries(db, row, rev, flipId, now, t.flip));
		}
	}
	return {
		items,
		outcome: (results) => {
			const inserted = returnedMonitor(results[0]);
			if (!inserted) return null;
			return {
				monitor: inserted,
				created: true,
				deliveryIds: deliveriesAt === null ? [] : deliveryIdsOf(results[deliveriesAt]),
			};
		},
	};
}

/** `WHERE` for a monitor of an org by slug. */
export function bySlug(orgId: string, slug: string): SQL | undefined {
	return and(eq(monitors.orgId, orgId), eq(monitors.slug, slug));
}
