import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import { randomBase62 } from "../auth/api-key.js";
import type { SessionActor } from "../auth/session-access.js";
import type { Clock } from "../clock.js";
import { DEFAULT_ORG_LIMITS } from "../config.js";
import type { Database } from "../db/client.js";
import { insertUnderLimit } from "../db/insert-under-limit.js";
import { type DashboardRow, dashboards, savedQueries, users } from "../db/schema.js";
import { ApiError } from "../errors.js";
import {
	type DashboardContent,
	LIMITS,
	type Panel,
	type TimeRange,
	type Variable,
} from "./dashboards-model.js";
import type { ListPosition } from "./dashboards-saved-queries.js";
import { limitReached } from "./org-limits.js";

/** Dashboards (docs/dashboards.md): every user of the org reads them; members write them. */

export interface Dashboard extends DashboardContent {
	id: string;
	orgId: string;
	version: number;
	createdBy: { id: string; name: string | null };
	updatedBy: { id: string; name: string | null };
	createdAt: number;
	updatedAt: number;
}

export const newDashboardId = () => `dash_${randomBase62(20)}`;

export const dashboardNotFound = () => new ApiError(404, "not_found", "No dashboard with that id.");

export function versionConflict(current: number): ApiError {
	return new ApiError(
		409,
		"version_conflict",
		`The dashboard changed since you read it (it is at version ${current}); reload it and apply your change again.`,
		{ details: { current_version: current } },
	);
}

function toColumns(content: DashboardContent) {
	return {
		title: content.title,
		description: content.description,
		tags: JSON.stringify(content.tags),
		timeRange: JSON.stringify(content.time),
		variables: JSON.stringify(content.variables),
		panels: JSON.stringify(content.panels),
	};
}

const creator = sql<
	string | null
>`(SELECT ${users.name} FROM ${users} WHERE ${users.id} = ${dashboards.createdBy} AND ${users.orgId} = ${dashboards.orgId})`;
const updater = sql<
	string | null
>`(SELECT ${users.name} FROM ${users} WHERE ${users.id} = ${dashboards.updatedBy} AND ${users.orgId} = ${dashboards.orgId})`;
const withNames = { row: dashboards, createdByName: creator, updatedByName: updater };

function fromRow(row: {
	row: DashboardRow;
	createdByName: string | null;
	updatedByName: string | null;
}): Dashboard {
	const r = row.row;
	return {
		id: r.id,
		orgId: r.orgId,
		title: r.title,
		description: r.description,
		tags: JSON.parse(r.tags) as string[],
		time: JSON.parse(r.timeRange) as TimeRange,
		variables: JSON.parse(r.variables) as Variable[],
		panels: JSON.parse(r.panels) as Panel[],
		version: r.version,
		createdBy: { id: r.createdBy, name: row.createdByName },
		updatedBy: { id: r.updatedBy, name: row.updatedByName },
		createdAt: r.createdAt,
		updatedAt: r.updatedAt,
	};
}

export async function getDashboard(db: Database, orgId: string, id: string): Promise<Dashboard | null> {
	const [row] = await db
		.select(withNames)
		.from(dashboards)
		.where(and(eq(dashboards.orgId, orgId), eq(dashboards.id, id)))
		.limit(1);
	return row ? fromRow(row) : null;
}

/** Newest first by (created_at, id), keyset-paginated; optionally one tag and a title substring. */
export async function listDashboards(
	db: Database,
	orgId: string,
	filter: {
		tag?: string | undefined;
		q?: string | undefined;
		limit: number;
		after?: ListPosition | undefined;
	},
): Promise<{ rows: Dashboard[]; next: ListPosition | null }> {
	const conditions: SQL[] = [eq(dashboards.orgId, orgId)];
	if (filter.tag !== undefined) {
		conditions.push(
			sql`EXISTS (SELECT 1 FROM json_each(${dashboards.tags}) AS t WHERE t.value = ${filter.tag})`,
		);
	}
	if (filter.q !== undefined) {
		// instr: a plain substring test, so % and _ in the search text are not wildcards.
		conditions.push(sql`instr(lower(${dashboards.title}), lower(${filter.q})) > 0`);
	}
	if (filter.after) {
		const { time, id } = filter.after;
		conditions.push(
			sql`(${dashboards.createdAt} < ${time} OR (${dashboards.createdAt} = ${time} AND ${dashboards.id} < ${id}))`,
		);
	}
	const rows = await db
		.select(withNames)
		.from(dashboards)
		.where(and(...conditions))
		.orderBy(desc(dashboards.createdAt), desc(dashboards.id))
		.limit(filter.limit + 1);
	const page = rows.slice(0, filter.limit).map(fromRow);
	const last = page.at(-1);
	return {
		rows: page,
		next: rows.length > filter.limit && last ? { time: last.createdAt, id: last.id } : null,
	};
}

/**
 * Panels may only run saved queries that every reader of the dashboard can see: shared ones of the
 * org. A missing, private or other org's id is one answer (400), so nothing leaks about it.
 */
export async function checkSavedQueryRefs(db: Database, orgId: string, panels: Panel[]): Promise<void> {
	const refs = panels.flatMap((panel, i) =>
		panel.saved_query_id === undefined ? [] : [{ i, id: panel.saved_query_id }],
	);
	if (refs.length === 0) return;
	const found = await db
		.select({ id: savedQueries.id })
		.from(savedQueries)
		.where(
			and(
				eq(savedQueries.orgId, orgId),
				eq(savedQueries.visibility, "org"),
				sql`${savedQueries.id} IN (SELECT value FROM json_each(${JSON.stringify(refs.map((r) => r.id))}))`,
			),
		);
	const shared = new Set(found.map((r) => r.id));
	const details = refs
		.filter((ref) => !shared.has(ref.id))
		.map((ref) => ({
			path: `panels.${ref.i}.saved_query_id`,
			message: "No shared saved query with that id (panels can only use queries shared with the org)",
		}));
	if (details.length > 0) throw new ApiError(400, "invalid_request", "The request is invalid.", { details });
}

/** 409 `dashboard_limit_reached` when the org has `limit` dashboards. */
export async function createDashboard(
	db: Database,
	clock: Clock,
	actor: SessionActor,
	content: DashboardContent,
	limit = DEFAULT_ORG_LIMITS.dashboards,
): Promise<Dashboard> {
	const now = clock.now();
	const id = newDashboardId();
	const row = {
		id,
		orgId: actor.orgId,
		...toColumns(content),
		version: 1,
		createdBy: actor.userId,
		updatedBy: actor.userId,
		createdAt: now,
		updatedAt: now,
	};
	if ((await insertUnderLimit(db, dashboards, row, eq(dashboards.orgId, actor.orgId), limit)) === "full") {
		throw limitReached("dashboards", limit);
	}
	return (await getDashboard(db, actor.orgId, id)) as Dashboard;
}

/**
 * Writes new content if the dashboard is still at `expectedVersion` (one conditional UPDATE, so two
 * writers with the same version cannot both win); the version goes up by one. 404 when the id is not
 * the org's, 409 `version_conflict` when another write came first.
 */
export async function updateDashboard(
	db: Database,
	clock: Clock,
	actor: SessionActor,
	id: string,
	expectedVersion: number,
	content: DashboardContent,
): Promise<Dashboard> {
	const updated = await db
		.update(dashboards)
		.set({
			...toColumns(content),
			version: sql`${dashboards.version} + 1`,
			updatedBy: actor.userId,
			updatedAt: clock.now(),
		})
		.where(
			and(eq(dashboards.orgId, actor.orgId), eq(dashboards.id, id), eq(dashboards.version, expectedVersion)),
		)
		.returning({ id: dashboards.id });
	if (updated.length === 0) {
		const [current] = await db
			.select({ version: dashboards.version })
			.from(dashboards)
			.where(and(eq(dashboards.orgId, actor.orgId), eq(dashboards.id, id)));
		if (!current) throw dashboardNotFound();
		throw versionConflict(current.version);
	}
	return (await getDashboard(db, actor.orgId, id)) as Dashboard;
}

export async function deleteDashboard(db: Database, orgId: string, id: string): Promise<boolean> {
	const deleted = await db
		.delete(dashboards)
		.where(and(eq(dashboards.orgId, orgId), eq(dashboards.id, id)))
		.returning({ id: dashboards.id });
	return deleted.length > 0;
}

/** "<title> (copy)", shortened so it stays within the title limit. */
export function copyTitle(title: string): string {
	const suffix = " (copy)";
	return `${[...title].slice(0, LIMITS.title - suffix.length).join("")}${suffix}`;
}

/** A new dashboard with the same content: a new id, version 1, the actor as its creator. */
export async function duplicateDashboard(
	db: Database,
	clock: Clock,
	actor: SessionActor,
	id: string,
	title?: string,
	limit = DEFAULT_ORG_LIMITS.dashboards,
): Promise<Dashboard | null> {
	const source = await getDashboard(db, actor.orgId, id);
	if (!source) return null;
	return createDashboard(
		db,
		clock,
		actor,
		{
			title: title ?? copyTitle(source.title),
			description: source.description,
			tags: source.tags,
			time: source.time,
			variables: source.variables,
			panels: source.panels,
		},
		limit,
	);
}
