import { and, desc, eq, inArray, or, type SQL, sql } from "drizzle-orm";
import { randomBase62 } from "../auth/api-key.js";
import type { SessionActor } from "../auth/session-access.js";
import type { Clock } from "../clock.js";
import { DEFAULT_ORG_LIMITS } from "../config.js";
import type { Database } from "../db/client.js";
import { insertUnderLimit } from "../db/insert-under-limit.js";
import {
	dashboards,
	type SavedQueryRow,
	type SavedQueryVisibility,
	savedQueries,
	users,
} from "../db/schema.js";
import { ApiError } from "../errors.js";
import { limitReached } from "./org-limits.js";

/**
 * Saved queries (docs/dashboards.md): shared with the org or private to their owner. A private
 * query does not exist for anyone else — every read and write is scoped by `visibleTo`, so another
 * user gets the same 404 as for an id of another org.
 */

export interface SavedQueryFields {
	name: string;
	description: string | null;
	query: string;
}

export type SavedQueryWithOwner = SavedQueryRow & { ownerName: string | null };

/** A position in the newest-first order: the last row of the previous page. */
export interface ListPosition {
	time: number;
	id: string;
}

export const newSavedQueryId = () => `sq_${randomBase62(20)}`;

/** The caller's org, and either shared or the caller's own. */
export function visibleTo(actor: Pick<SessionActor, "orgId" | "userId">): SQL {
	return and(
		eq(savedQueries.orgId, actor.orgId),
		or(eq(savedQueries.visibility, "org"), eq(savedQueries.ownerId, actor.userId)),
	) as SQL;
}

const withOwner = {
	row: savedQueries,
	ownerName: users.name,
};

function joined(row: { row: SavedQueryRow; ownerName: string | null }): SavedQueryWithOwner {
	return { ...row.row, ownerName: row.ownerName };
}

export const savedQueryNotFound = () => new ApiError(404, "not_found", "No saved query with that id.");

export async function getSavedQuery(
	db: Database,
	actor: SessionActor,
	id: string,
): Promise<SavedQueryWithOwner | null> {
	const [row] = await db
		.select(withOwner)
		.from(savedQueries)
		.leftJoin(users, and(eq(users.id, savedQueries.ownerId), eq(users.orgId, savedQueries.orgId)))
		.where(and(visibleTo(actor), eq(savedQueries.id, id)))
		.limit(1);
	return row ? joined(row) : null;
}

export async function listSavedQueries(
	db: Database,
	actor: SessionActor,
	filter: {
		visibility?: SavedQueryVisibility | undefined;
		mine?: boolean;
		limit: number;
		after?: ListPosition;
	},
): Promise<{ rows: SavedQueryWithOwner[]; next: ListPosition | null }> {
	const conditions = [visibleTo(actor)];
	if (filter.visibility !== undefined) conditions.push(eq(savedQueries.visibility, filter.visibility));
	if (filter.mine) conditions.push(eq(savedQueries.ownerId, actor.userId));
	if (filter.after) {
		const { time, id } = filter.after;
		conditions.push(
			sql`(${savedQueries.createdAt} < ${time} OR (${savedQueries.createdAt} = ${time} AND ${savedQueries.id} < ${id}))`,
		);
	}
	const rows = await db
		.select(withOwner)
		.from(savedQueries)
		.leftJoin(users, and(eq(users.id, savedQueries.ownerId), eq(users.orgId, savedQueries.orgId)))
		.where(and(...conditions))
		.orderBy(desc(savedQueries.createdAt), desc(savedQueries.id))
		.limit(filter.limit + 1);
	const page = rows.slice(0, filter.limit).map(joined);
	const last = page.at(-1);
	return {
		rows: page,
		next: rows.length > filter.limit && last ? { time: last.createdAt, id: last.id } : null,
	};
}

/** 409 `saved_query_limit_reached` when the org has `limit` saved queries (private ones included). */
export async function createSavedQuery(
	db: Database,
	clock: Clock,
	actor: SessionActor,
	fields: SavedQueryFields & { visibility: SavedQueryVisibility },
	limit = DEFAULT_ORG_LIMITS.savedQueries,
): Promise<SavedQueryWithOwner> {
	const now = clock.now();
	const row: SavedQueryRow = {
		id: newSavedQueryId(),
		orgId: actor.orgId,
		...fields,
		ownerId: actor.userId,
		createdAt: now,
		updatedAt: now,
	};
	if (
		(await insertUnderLimit(db, savedQueries, row, eq(savedQueries.orgId, actor.orgId), limit)) === "full"
	) {
		throw limitReached("savedQueries", limit);
	}
	const [owner] = await db.select({ name: users.name }).from(users).where(eq(users.id, actor.userId));
	return { ...row, ownerName: owner?.name ?? null };
}

/** The dashboards of the org with a panel that runs this saved query. */
export async function dashboardsUsing(
	db: Database,
	orgId: string,
	savedQueryId: string,
): Promise<{ id: string; title: string }[]> {
	return db
		.select({ id: dashboards.id, title: dashboards.title })
		.from(dashboards)
		.where(
			and(
				eq(dashboards.orgId, orgId),
				sql`EXISTS (SELECT 1 FROM json_each(${dashboards.panels}) AS p WHERE json_extract(p.value, '$.saved_query_id') = ${savedQueryId})`,
			),
		)
		.orderBy(dashboards.title, dashboards.id)
		.limit(20);
}

function inUse(action: string, used: { id: string; title: string }[]): ApiError {
	return new ApiError(
		409,
		"conflict",
		`The saved query is used by ${used.length === 20 ? "20 or more" : used.length} dashboard(s); ${action}.`,
		{ details: used.map((d) => ({ dashboard_id: d.id, title: d.title })) },
	);
}

/**
 * Replaces name, description and query (and visibility, when given). Shared queries are edited by
 * any member; only the owner changes visibility (403 `not_owner`), and a query that dashboards use
 * cannot become private (409 `conflict`). Null when the id is not visible to the actor.
 */
export async function replaceSavedQuery(
	db: Database,
	clock: Clock,
	actor: SessionActor,
	id: string,
	fields: SavedQueryFields & { visibility?: SavedQueryVisibility | undefined },
): Promise<SavedQueryWithOwner | null> {
	const current = await getSavedQuery(db, actor, id);
	if (!current) return null;
	const visibility = fields.visibility ?? current.visibility;
	if (visibility !== current.visibility) {
		if (current.ownerId !== actor.userId) {
			throw new ApiError(403, "not_owner", "Only the owner of a saved query can change its visibility.");
		}
		if (visibility === "private") {
			const used = await dashboardsUsing(db, actor.orgId, id);
			if (used.length > 0) throw inUse("remove it from their panels before making it private", used);
		}
	}
	const [updated] = await db
		.update(savedQueries)
		.set({ ...fields, visibility, updatedAt: clock.now() })
		.where(and(visibleTo(actor), eq(savedQueries.id, id)))
		.returning();
	return updated ? { ...updated, ownerName: current.ownerName } : null;
}

/** Deletes a visible saved query; 409 `conflict` while a dashboard panel runs it. */
export async function deleteSavedQuery(db: Database, actor: SessionActor, id: string): Promise<boolean> {
	if (!(await getSavedQuery(db, actor, id))) return false;
	const used = await dashboardsUsing(db, actor.orgId, id);
	if (used.length > 0) throw inUse("remove it from their panels first", used);
	const deleted = await db
		.delete(savedQueries)
		.where(and(visibleTo(actor), eq(savedQueries.id, id)))
		.returning({ id: savedQueries.id });
	return deleted.length > 0;
}

/** The saved queries among `ids` that the actor may run, by id. */
export async function visibleQueryTexts(
	db: Database,
	actor: Pick<SessionActor, "orgId" | "userId">,
	ids: string[],
): Promise<Map<string, { query: string; visibility: SavedQueryVisibility }>> {
	if (ids.length === 0) return new Map();
	const rows = await db
		.select({ id: savedQueries.id, query: savedQueries.query, visibility: savedQueries.visibility })
		.from(savedQueries)
		.where(and(visibleTo(actor), inArray(savedQueries.id, [...new Set(ids)])));
	return new Map(rows.map((r) => [r.id, { query: r.query, visibility: r.visibility }]));
}
