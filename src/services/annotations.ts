import { and, eq, sql } from "drizzle-orm";
import type { Principal } from "../app-env.js";
import type { Clock } from "../clock.js";
import type { Database } from "../db/client.js";
import { type AnnotationRow, annotations, annotationTags, users } from "../db/schema.js";
import { newId } from "../ids.js";

/** The mutable fields of an annotation, times in epoch ms. */
export interface AnnotationFields {
	title: string;
	text: string | null;
	tags: string[];
	time: number;
	timeEnd: number | null;
	service: string | null;
	environment: string | null;
	version: string | null;
	url: string | null;
}

export interface AnnotationFilter {
	from?: number | undefined;
	to?: number | undefined;
	tags?: string[] | undefined;
	match: "all" | "any";
	service?: string | undefined;
	environment?: string | undefined;
	limit: number;
	after?: ListPosition | undefined;
}

/** A position in the newest-first order: the last row of the previous page. */
export interface ListPosition {
	time: number;
	id: string;
}

function tagRows(orgId: string, annotationId: string, fields: AnnotationFields) {
	return fields.tags.map((tag) => ({ annotationId, orgId, tag, time: fields.time }));
}

async function authorName(
	db: Database,
	principal: Principal,
): Promise<{ type: "api_key" | "user"; id: string; name: string | null }> {
	if (principal.kind === "api_key") return { type: "api_key", id: principal.keyId, name: principal.name };
	const rows = await db
		.select({ name: users.name })
		.from(users)
		.where(and(eq(users.id, principal.userId), eq(users.orgId, principal.orgId)))
		.limit(1);
	return { type: "user", id: principal.userId, name: rows[0]?.name ?? null };
}

export async function findByExternalId(
	db: Database,
	orgId: string,
	externalId: string,
): Promise<AnnotationRow | null> {
	const rows = await db
		.select()
		.from(annotations)
		.where(and(eq(annotations.orgId, orgId), eq(annotations.externalId, externalId)))
		.limit(1);
	return rows[0] ?? null;
}

/**
 * Creates an annotation, or returns the existing one when `externalId` was seen before in this org
 * (`created: false`). A concurrent duplicate loses the race at the unique index and gets the winner.
 */
export async function createAnnotation(
	db: Database,
	clock: Clock,
	principal: Principal,
	fields: AnnotationFields,
	externalId: string | null,
): Promise<{ row: AnnotationRow; created: boolean }> {
	if (externalId !== null) {
		const existing = await findByExternalId(db, principal.orgId, externalId);
		if (existing) return { row: existing, created: false };
	}
	const author = await authorName(db, principal);
	const now = clock.now();
	const row: AnnotationRow = {
		id: newId("ann"),
		orgId: principal.orgId,
		...fields,
		tags: JSON.stringify(fields.tags),
		externalId,
		createdAt: now,
		updatedAt: now,
		createdByType: author.type,
		createdById: author.id,
		createdByName: author.name,
	};
	const tags = tagRows(principal.orgId, row.id, fields);
	try {
		if (tags.length > 0)
			await db.batch([db.insert(annotations).values(row), db.insert(annotationTags).values(tags)]);
		else await db.insert(annotations).values(row);
	} catch (error) {
		if (externalId !== null && isUniqueViolation(error)) {
			const existing = await findByExternalId(db, principal.orgId, externalId);
			if (existing) return { row: existing, created: false };
		}
		throw error;
	}
	return { row, created: true };
}

function isUniqueViolation(error: unknown): boolean {
	const text = `${String((error as { cause?: unknown })?.cause ?? "")} ${String(error)}`;
	return text.includes("UNIQUE constraint failed");
}

export async function getAnnotation(db: Database, orgId: string, id: string): Promise<AnnotationRow | null> {
	const rows = await db
		.select()
		.from(annotations)
		.where(and(eq(annotations.orgId, orgId), eq(annotations.id, id)))
		.limit(1);
	return rows[0] ?? null;
}

/** Replaces the mutable fields and the tag index together; null when the id is not this org's. */
export async function replaceAnnotation(
	db: Database,
	clock: Clock,
	orgId: string,
	id: string,
	fields: AnnotationFields,
): Promise<AnnotationRow | null> {
	if (!(await getAnnotation(db, orgId, id))) return null;
	const scope = and(eq(annotations.orgId, orgId), eq(annotations.id, id));
	const tags = tagRows(orgId, id, fields);
	const values = { ...fields, tags: JSON.stringify(fields.tags), updatedAt: clock.now() };
	const clearTags = db
		.delete(annotationTags)
		.where(and(eq(annotationTags.orgId, orgId), eq(annotationTags.annotationId, id)));
	const update = db.update(annotations).set(values).where(scope).returning();
	const [updated] =
		tags.length > 0
			? await db.batch([update, clearTags, db.insert(annotationTags).values(tags)])
			: await db.batch([update, clearTags]);
	return updated[0] ?? null;
}

export async function deleteAnnotation(db: Database, orgId: string, id: string): Promise<boolean> {
	const [, deleted] = await db.batch([
		db
			.delete(annotationTags)
			.where(and(eq(annotationTags.orgId, orgId), eq(annotationTags.annotationId, id))),
		db
			.delete(annotations)
			.where(and(eq(annotations.orgId, orgId), eq(annotations.id, id)))
			.returning({ id: annotations.id }),
	]);
	return deleted.length > 0;
}

/**
 * Newest first by (time, id), keyset-paginated so pages never skip or repeat rows while new
 * annotations arrive. Fetches one row more than asked to know whether another page exists.
 */
export async function listAnnotations(
	db: Database,
	orgId: string,
	filter: AnnotationFilter,
): Promise<{ rows: AnnotationRow[]; next: ListPosition | null }> {
	const conditions = [sql`a.org_id = ${orgId}`];
	if (filter.from !== undefined) conditions.push(sql`a.time >= ${filter.from}`);
	if (filter.to !== undefined) conditions.push(sql`a.time <= ${filter.to}`);
	if (filter.service !== undefined) conditions.push(sql`a.service = ${filter.service}`);
	if (filter.environment !== undefined) conditions.push(sql`a.environment = ${filter.environment}`);
	if (filter.after) {
		conditions.push(
			sql`(a.time < ${filter.after.time} OR (a.time = ${filter.after.time} AND a.id < ${filter.after.id}))`,
		);
	}
	const tags = [...new Set(filter.tags ?? [])];
	if (tags.length > 0) {
		const tagList = sql.join(
			tags.map((tag) => sql`${tag}`),
			sql`, `,
		);
		const having = filter.match === "all" ? sql` HAVING count(*) = ${tags.length}` : sql``;
		conditions.push(
			sql`a.id IN (SELECT t.annotation_id FROM annotation_tags t WHERE t.org_id = ${orgId} AND t.tag IN (${tagList}) GROUP BY t.annotation_id${having})`,
		);
	}
	const rows = await db.all<RawAnnotation>(
		sql`SELECT a.* FROM annotations a WHERE ${sql.join(conditions, sql` AND `)} ORDER BY a.time DESC, a.id DESC LIMIT ${filter.limit + 1}`,
	);
	const page = rows.slice(0, filter.limit).map(fromRaw);
	const last = page.at(-1);
	return { rows: page, next: rows.length > filter.limit && last ? { time: last.time, id: last.id } : null };
}

/** `db.all` returns column names as stored. */
interface RawAnnotation {
	id: string;
	org_id: string;
	title: string;
	text: string | null;
	tags: string;
	time: number;
	time_end: number | null;
	service: string | null;
	environment: string | null;
	version: string | null;
	url: string | null;
	external_id: string | null;
	created_at: number;
	updated_at: number;
	created_by_type: "api_key" | "user";
	created_by_id: string;
	created_by_name: string | null;
}

function fromRaw(raw: RawAnnotation): AnnotationRow {
	return {
		id: raw.id,
		orgId: raw.org_id,
		title: raw.title,
		text: raw.text,
		tags: raw.tags,
		time: Number(raw.time),
		timeEnd: raw.time_end === null ? null : Number(raw.time_end),
		service: raw.service,
		environment: raw.environment,
		version: raw.version,
		url: raw.url,
		externalId: raw.external_id,
		createdAt: Number(raw.created_at),
		updatedAt: Number(raw.updated_at),
		createdByType: raw.created_by_type,
		createdById: raw.created_by_id,
		createdByName: raw.created_by_name,
	};
}
