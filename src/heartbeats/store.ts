import type { InValue } from "@libsql/client";
import { getTableColumns } from "drizzle-orm";
import type { Clock } from "../clock.js";
import type { Database } from "../db/client.js";
import { type MonitorRow, monitors, type PingKind } from "../db/schema-heartbeats.js";
import { ApiError } from "../errors.js";
import { toRfc3339 } from "../http/time.js";
import { newId } from "../ids.js";
import { type GroupCommitWriter, libsqlClientOf, type WriteTransaction } from "../ingest/writer.js";
import type { WriterThread } from "../ingest/writer-thread.js";
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
 *
 * The statements are hand-written SQL with placeholders (`MonitorStatement`), one text per shape of
 * write, so the embedded writer prepares each once and a ping builds no query: on the ping path
 * that building had cost more CPU than the statements themselves.
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

/**
 * One statement of a monitor write: SQL text with `?` placeholders — the same text for every write
 * of its shape, so the embedded writer prepares it once and reuses it — and its values.
 */
export interface MonitorStatement {
	sql: string;
	args: InValue[];
	/**
	 * The guarded update or insert of a write (it matches the monitor as read, or nothing). Run as a
	 * batch it returns the monitor as written (`RETURNING *`); under the writer's lock that row is
	 * known beforehand, and only whether it matched is read.
	 */
	guarded?: true;
}

/** What one statement of a write returned. */
export interface StatementResult {
	rows: Record<string, unknown>[];
}

/** The `monitors` columns: the row's key, the column's name, its driver → row mapping. */
const MONITOR_COLUMNS = Object.entries(getTableColumns(monitors)).map(
	([key, column]) => [key as keyof MonitorRow, column.name, column] as const,
);
const COLUMN_NAME = new Map<string, string>(MONITOR_COLUMNS.map(([key, name]) => [key, name]));

function columnName(key: string): string {
	const name = COLUMN_NAME.get(key);
	if (name === undefined) throw new Error(`monitors has no column for ${key}`);
	return name;
}

/** A `monitors` row as the driver returns it (column names, driver values) → the drizzle row. */
export function monitorFromDriver(raw: Record<string, unknown>): MonitorRow {
	const row: Record<string, unknown> = {};
	for (const [key, name, column] of MONITOR_COLUMNS) {
		const value = raw[name];
		row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
	}
	return row as MonitorRow;
}

/** A `monitors` row from its values in `MONITOR_COLUMNS` order (as `FIND_MONITOR_SQL` selects them). */
function monitorFromValues(values: ArrayLike<unknown>): MonitorRow {
	const row: Record<string, unknown> = {};
	for (let i = 0; i < MONITOR_COLUMNS.length; i++) {
		const [key, , column] = MONITOR_COLUMNS[i] as (typeof MONITOR_COLUMNS)[number];
		const value = values[i];
		row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
	}
	return row as MonitorRow;
}

/**
 * The monitor a ping reads. Its columns are named (in `MONITOR_COLUMNS` order) and read by position:
 * the embedded driver costs about a microsecond per value it turns into an object property, and
 * half that as an array.
 */
const FIND_MONITOR_SQL = `SELECT ${MONITOR_COLUMNS.map(([, name]) => name).join(", ")} FROM monitors WHERE org_id = ? AND slug = ? LIMIT 1`;
const COUNT_MONITORS_SQL = "SELECT count(*) AS n FROM monitors WHERE org_id = ?";

const PING_COLUMNS =
	"monitor_id, seq, org_id, at, kind, exit_code, rid, duration_ms, body, body_truncated, api_key_id, remote_addr, user_agent";
/** The ping row, numbered by the monitor's `ping_seq` as just written; only if the monitor's write matched. */
const INSERT_PING_SQL = `INSERT INTO monitor_pings (${PING_COLUMNS})
SELECT id, ping_seq, org_id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM monitors WHERE id = ? AND rev = ?`;
/** A log ping: no compare-and-set. */
const INSERT_LOG_PING_SQL = `INSERT INTO monitor_pings (${PING_COLUMNS})
SELECT id, ping_seq, org_id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM monitors WHERE id = ?`;

function insertPing(
	monitorId: string,
	rev: number | null,
	at: number,
	p: PingRecord,
	durationMs: number | null,
): MonitorStatement {
	const args: InValue[] = [
		at,
		p.kind,
		p.exitCode,
		p.rid,
		durationMs,
		p.body,
		p.bodyTruncated ? 1 : 0,
		p.apiKeyId,
		p.remoteAddr,
		p.userAgent,
		monitorId,
	];
	if (rev === null) return { sql: INSERT_LOG_PING_SQL, args };
	args.push(rev);
	return { sql: INSERT_PING_SQL, args };
}

const INSERT_FLIP_SQL = `INSERT INTO monitor_flips (id, monitor_id, org_id, at, old_status, new_status, cause)
SELECT ?, id, org_id, ?, ?, ?, ? FROM monitors WHERE id = ? AND rev = ?`;

function insertFlip(
	monitorId: string,
	rev: number,
	flipId: string,
	at: number,
	flip: Flip,
): MonitorStatement {
	return { sql: INSERT_FLIP_SQL, args: [flipId, at, flip.from, flip.to, flip.cause, monitorId, rev] };
}

/** Flips a monitor keeps: its newest ones, with their finished deliveries (a flapping monitor's pile up). */
export const MAX_FLIPS_PER_MONITOR = 1_000;
/** Every how many flips of a monitor (its `flip_seq`) the older ones are deleted: it keeps 1,000 to 1,099. */
export const FLIP_PRUNE_EVERY = 100;

const OLDEST_KEPT_FLIP = `(SELECT at, id FROM monitor_flips WHERE monitor_id = ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ${MAX_FLIPS_PER_MONITOR - 1})`;
const PRUNE_FLIP_DELIVERIES_SQL = `DELETE FROM alert_deliveries WHERE status <> 'pending' AND flip_id IN
(SELECT id FROM monitor_flips WHERE monitor_id = ? AND (at, id) < ${OLDEST_KEPT_FLIP})`;
const PRUNE_FLIPS_SQL = `DELETE FROM monitor_flips WHERE monitor_id = ? AND (at, id) < ${OLDEST_KEPT_FLIP}`;

/**
 * With every FLIP_PRUNE_EVERY-th flip of a monitor, its flips beyond the newest MAX_FLIPS_PER_MONITOR
 * and their finished deliveries are deleted (a pending one stays until it is sent or superseded).
 * Retention alone let a monitor flapping on every ping keep a flip, and a delivery per channel, for
 * each ping for `retention_days`. Not with every flip: the two statements made a sweep that flips
 * 1,000 monitors at once 27 % slower (docs/heartbeats.md).
 */
function pruneFlips(monitorId: string): MonitorStatement[] {
	return [
		{ sql: PRUNE_FLIP_DELIVERIES_SQL, args: [monitorId, monitorId] },
		{ sql: PRUNE_FLIPS_SQL, args: [monitorId, monitorId] },
	];
}

/** Alerts go out on every flip to or from `down`. */
export function alerts(flip: Flip | null): flip is Flip {
	return flip !== null && (flip.from === "down" || flip.to === "down");
}

const INSERT_DELIVERIES_SQL = `INSERT INTO alert_deliveries (org_id, channel_id, monitor_id, flip_id, event, payload, status, attempts, next_attempt_at, created_at)
SELECT c.org_id, c.id, ?, ?, 'monitor.status_changed', ? || json_quote(o.name) || ?, 'pending', 0, ?, ?
FROM notification_channels c JOIN orgs o ON o.id = c.org_id
WHERE c.org_id = ? AND c.enabled = 1 AND EXISTS (SELECT 1 FROM monitors m WHERE m.id = ? AND m.rev = ?)
RETURNING id`;

/**
 * One pending delivery per enabled channel of the org (the outbox, in the same transaction as the
 * flip). The payload is built here except for the org's name, which the statement splices in as a
 * JSON string, so the ping path needs no extra read.
 */
function insertDeliveries(
	row: MonitorRow,
	rev: number,
	flipId: string,
	at: number,
	flip: Flip,
): MonitorStatement {
	const monitor = toMonitorJson(row);
	const prefix = `{"event":"monitor.status_changed","event_id":${JSON.stringify(flipId)},"time":${JSON.stringify(toRfc3339(at))},"org":{"id":${JSON.stringify(row.orgId)},"name":`;
	const suffix = `},"monitor":${JSON.stringify(monitor)},"old_status":${JSON.stringify(flip.from)},"new_status":${JSON.stringify(flip.to)},"cause":${JSON.stringify(flip.cause)}}`;
	return {
		sql: INSERT_DELIVERIES_SQL,
		args: [row.id, flipId, prefix, suffix, at, at, row.orgId, row.id, rev],
	};
}

const SUPERSEDE_DELIVERIES_SQL = `UPDATE alert_deliveries SET status = 'failed', error = 'superseded by a later flip', next_attempt_at = NULL
WHERE monitor_id = ? AND status = 'pending'
AND EXISTS (SELECT 1 FROM monitors m WHERE m.id = ? AND m.rev = ?)`;

/**
 * Collapses a flapping monitor's alerts: its deliveries still pending (new, waiting for a retry, or
 * in flight — a sender then records nothing over it) are closed as `failed` "superseded by a later
 * flip" when a new flip is queued, so a receiver gets the latest state instead of every flip in
 * turn (a monitor flapping every minute towards a failing receiver would otherwise pile up one
 * delivery per flip and channel, each retried five times). Only if the transition's write matched.
 */
function supersedeDeliveries(monitorId: string, rev: number): MonitorStatement {
	return { sql: SUPERSEDE_DELIVERIES_SQL, args: [monitorId, monitorId, rev] };
}

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

/** The times a light ping moves, each only when the ping is newer than the stored one. */
const LIGHT_COLUMNS = ["last_ping_at", "last_ping_kind", "last_duration_ms", "next_due_at", "alert_after"];
const LIGHT_UPDATE_SQL = `UPDATE monitors SET ${LIGHT_COLUMNS.map(
	(c) => `${c} = CASE WHEN last_ping_at IS NULL OR last_ping_at <= ? THEN ? ELSE ${c} END`,
).join(", ")}, ping_seq = ping_seq + ?
WHERE id = ? AND rev = ?`;

/** The full update's text per set of columns (a handful: the state, plus each dashboard change's). */
const fullUpdateSql = new Map<string, string>();

function fullUpdate(keys: string[]): string {
	const signature = keys.join(",");
	let text = fullUpdateSql.get(signature);
	if (text === undefined) {
		text = `UPDATE monitors SET ${keys.map((k) => `${columnName(k)} = ?`).join(", ")}, ping_seq = ping_seq + ?
WHERE id = ? AND rev = ? AND last_ping_at IS ?`;
		fullUpdateSql.set(signature, text);
	}
	return text;
}

/**
 * The statements that write a transition of `row` as of `now`: the guarded update (first; in a
 * batch it returns the monitor as written, or nothing if it matched nothing), and what hangs off it
 * (ping, flip, alert outbox), each inserted only if the update matched.
 *
 * - A full write requires `rev` and `last_ping_at` as read, and replaces `rev`: any other write in
 *   between (a flip, new runs, new settings, or a ping that moved the due time) makes it match
 *   nothing, so a stale decision — the sweep's above all — is never stored.
 * - A light ping (`isLight`, allowed with `light: true`) requires only `rev` and keeps it: concurrent
 *   success pings of one monitor do not fail each other. Its times are written only when newer
 *   than those stored (all SET terms see the old row), so the order of commits does not matter.
 *
 * `after` is the row as the guarded update writes it, if it matches `row` as stored (for the alert
 * payload, and the answer of a ping that runs under the writer's lock).
 */
export function transitionStatements(
	row: MonitorRow,
	t: Transition,
	now: number,
	extra: {
		ping?: { record: PingRecord; durationMs: number | null };
		set?: Partial<MonitorRow>;
		light?: boolean;
	} = {},
): { statements: MonitorStatement[]; rev: number; after: MonitorRow; deliveriesAt: number | null } {
	const light = extra.light === true && extra.set === undefined && isLight(row, t);
	const rev = light ? row.rev : newRev(row.rev);
	const columns: Partial<MonitorRow> = {
		...stateColumns(t.state),
		...extra.set,
		rev,
		...(t.flip ? { flipSeq: row.flipSeq + 1 } : {}),
	};
	// A light write keeps the stored times when they are newer than `now` (see LIGHT_UPDATE_SQL).
	const keepsTimes = light && row.lastPingAt !== null && row.lastPingAt > now;
	const after: MonitorRow = {
		...row,
		...(keepsTimes ? {} : columns),
		pingSeq: row.pingSeq + (extra.ping ? 1 : 0),
	};
	const seq = extra.ping ? 1 : 0;
	let update: MonitorStatement;
	if (light) {
		const s = t.state;
		update = {
			sql: LIGHT_UPDATE_SQL,
			guarded: true,
			args: [
				now,
				s.lastPingAt,
				now,
				s.lastPingKind,
				now,
				s.lastDurationMs,
				now,
				s.nextDueAt,
				now,
				s.alertAfter,
				seq,
				row.id,
				row.rev,
			],
		};
	} else {
		const keys = Object.keys(columns);
		const args = keys.map((k) => (columns as Record<string, InValue>)[k] ?? null);
		args.push(seq, row.id, row.rev, row.lastPingAt);
		update = { sql: fullUpdate(keys), args, guarded: true };
	}
	const statements: MonitorStatement[] = [update];
	if (extra.ping) statements.push(insertPing(row.id, rev, now, extra.ping.record, extra.ping.durationMs));
	let deliveriesAt: number | null = null;
	if (t.flip) {
		const flipId = newId("flp");
		statements.push(insertFlip(row.id, rev, flipId, now, t.flip));
		if (alerts(t.flip)) {
			statements.push(supersedeDeliveries(row.id, rev));
			deliveriesAt = statements.length;
			statements.push(insertDeliveries(after, rev, flipId, now, t.flip));
		}
		if ((row.flipSeq + 1) % FLIP_PRUNE_EVERY === 0) statements.push(...pruneFlips(row.id));
	}
	return { statements, rev, after, deliveriesAt };
}

/**
 * Runs a write's statements as one batch — one transaction — on the database's libSQL client (the
 * Worker's way, and the dashboard's and the sweep's on both runtimes).
 */
export async function runBatch(db: Database, statements: MonitorStatement[]): Promise<StatementResult[]> {
	if (statements.length === 0) return [];
	const results = await libsqlClientOf(db).batch(
		statements.map(({ sql, args, guarded }) => ({ sql: guarded ? `${sql} RETURNING *` : sql, args })),
		"write",
	);
	return results.map((r) => ({ rows: r.rows as unknown as Record<string, unknown>[] }));
}

/**
 * Runs a ping's statements inside the embedded writer's transaction, each prepared once per text.
 * Under the writer's lock the row just read is the stored one, so the guarded update (the first
 * statement) writes exactly the plan's `after`: it is run for its effect and whether it matched,
 * and the row it would return is not built (that would cost more than the update itself).
 */
function runUnderLock(tx: WriteTransaction, plan: PingPlan): PingOutcome | null {
	const [guarded, ...rest] = plan.statements as [MonitorStatement, ...MonitorStatement[]];
	if (tx.run(guarded.sql, guarded.args, true) === 0) return null;
	let deliveryIds: number[] = [];
	for (let i = 0; i < rest.length; i++) {
		const s = rest[i] as MonitorStatement;
		if (i + 1 === plan.deliveriesAt) deliveryIds = deliveryIdsOf({ rows: tx.all(s.sql, s.args) });
		else tx.run(s.sql, s.args, true);
	}
	return { monitor: plan.after, created: plan.created, deliveryIds };
}

/** The outcome of a ping's batch: the monitor its guarded update returned, if it matched. */
function outcomeOf(plan: PingPlan, results: StatementResult[]): PingOutcome | null {
	const monitor = returnedMonitor(results[0]);
	if (!monitor) return null;
	const deliveryIds = plan.deliveriesAt === null ? [] : deliveryIdsOf(results[plan.deliveriesAt]);
	return { monitor, created: plan.created, deliveryIds };
}

/** Delivery ids from the result of `insertDeliveries`. */
export function deliveryIdsOf(result: StatementResult | undefined): number[] {
	return (result?.rows ?? []).map((r) => Number(r.id));
}

/** The monitor the guarded update (a write's first statement) returned, if it matched. */
export function returnedMonitor(result: StatementResult | undefined): MonitorRow | undefined {
	const raw = result?.rows[0];
	return raw && monitorFromDriver(raw);
}

export async function findMonitor(
	db: Database,
	orgId: string,
	slug: string,
): Promise<MonitorRow | undefined> {
	const result = await libsqlClientOf(db).execute({ sql: FIND_MONITOR_SQL, args: [orgId, slug] });
	const values = result.rows[0];
	return values && monitorFromValues(values);
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

/**
 * One attempt at a ping: its write (the guarded update or insert first), the monitor as that write
 * leaves it if it matches, and where the queued deliveries' ids come back.
 */
interface PingPlan {
	statements: MonitorStatement[];
	after: MonitorRow;
	created: boolean;
	deliveriesAt: number | null;
}

const LOG_PING_SQL = "UPDATE monitors SET ping_seq = ping_seq + 1 WHERE id = ?";

function planPing(
	row: MonitorRow | undefined,
	input: PingInput,
	now: number,
	countMonitors: () => number,
): PingPlan {
	if (!row) return planCreateWithPing(input, now, countMonitors());
	if (input.event.kind === "log") {
		// No state change: no compare-and-set, just the next ping number and the ping.
		// A log ping of a monitor deleted meanwhile matches nothing: tried again, it creates one.
		return {
			statements: [
				{ sql: LOG_PING_SQL, args: [row.id], guarded: true },
				insertPing(row.id, null, now, input.record, null),
			],
			after: { ...row, pingSeq: row.pingSeq + 1 },
			created: false,
			deliveriesAt: null,
		};
	}
	const t = applyPing(settingsOf(row), stateOf(row), input.event, now);
	const write = transitionStatements(row, t, now, {
		ping: { record: input.record, durationMs: t.durationMs },
		light: true,
	});
	return {
		statements: write.statements,
		after: write.after,
		created: false,
		deliveriesAt: write.deliveriesAt,
	};
}

/**
 * Stores a ping and applies it: one read, then one write.
 *
 * With the embedded writer (Node), both run inside the writer's next group commit, under the write
 * lock, so the read is current and the compare-and-set cannot lose; the ping is acknowledged once the
 * group has committed. Otherwise (Workers): one read, then one batch; again only if another write
 * came between. Either way the statements are the same texts (`MonitorStatement`).
 */
export async function recordPing(
	deps: {
		db: Database;
		clock: Clock;
		writer?: GroupCommitWriter | undefined;
		writerThread?: WriterThread | undefined;
	},
	input: PingInput,
): Promise<PingOutcome> {
	const { db, clock, writer, writerThread } = deps;
	for (let attempt = 0; attempt < PING_ATTEMPTS; attempt++) {
		await backoff(attempt);
		let outcome: PingOutcome | null;
		if (writerThread) {
			outcome = await writerThread.ping(input, clock.now());
		} else if (writer) {
			outcome = await submitPing(writer, input, clock.now());
		} else {
			const row = await findMonitor(db, input.orgId, input.slug);
			const existing = row ? 0 : await countMonitors(db, input.orgId);
			const plan = planPing(row, input, clock.now(), () => existing);
			outcome = outcomeOf(plan, await runBatch(db, plan.statements));
		}
		// null: another request created the monitor first, or changed it in between: again.
		if (outcome) return outcome;
	}
	throw new ApiError(503, "unavailable", "The monitor is being updated by many pings at once; try again.", {
		headers: { "Retry-After": "1" },
	});
}

/**
 * One attempt at a ping inside the writer's next group commit (on the event loop, or in the writer
 * thread: src/ingest/writer-thread-main.ts): read, plan and write under the write lock. Repeatable:
 * the work reads and writes the database only, so pings share savepoints.
 */
export function submitPing(
	writer: GroupCommitWriter,
	input: PingInput,
	nowMs: number,
): Promise<PingOutcome | null> {
	return writer.submit(
		(tx) => {
			const values = tx.values(FIND_MONITOR_SQL, [input.orgId, input.slug]);
			const plan = planPing(values && monitorFromValues(values), input, nowMs, () =>
				Number(tx.values(COUNT_MONITORS_SQL, [input.orgId])?.[0] ?? 0),
			);
			return runUnderLock(tx, plan);
		},
		{ repeatable: true },
	);
}

/**
 * The org's monitor count, read only when a ping would create a monitor (a first ping), so the
 * one-read-one-write budget of a ping to an existing monitor is unchanged.
 */
async function countMonitors(db: Database, orgId: string): Promise<number> {
	const result = await libsqlClientOf(db).execute({ sql: COUNT_MONITORS_SQL, args: [orgId] });
	return Number(result.rows[0]?.n ?? 0);
}

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

const INSERT_MONITOR_SQL = `INSERT INTO monitors (${MONITOR_COLUMNS.map(([, name]) => name).join(", ")})
VALUES (${MONITOR_COLUMNS.map(() => "?").join(", ")})
ON CONFLICT (org_id, slug) DO NOTHING`;

function planCreateWithPing(input: PingInput, now: number, existing: number): PingPlan {
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
		flipSeq: t.flip ? 1 : 0,
		createdAt: now,
		updatedAt: now,
	};
	const statements: MonitorStatement[] = [
		{
			sql: INSERT_MONITOR_SQL,
			guarded: true,
			args: MONITOR_COLUMNS.map(([key]) => (row[key] ?? null) as InValue),
		},
		insertPing(id, rev, now, input.record, t.durationMs),
	];
	let deliveriesAt: number | null = null;
	if (t.flip) {
		const flipId = newId("flp");
		statements.push(insertFlip(id, rev, flipId, now, t.flip));
		if (alerts(t.flip)) {
			deliveriesAt = statements.length;
			statements.push(insertDeliveries(row, rev, flipId, now, t.flip));
		}
	}
	return { statements, after: row, created: true, deliveriesAt };
}
