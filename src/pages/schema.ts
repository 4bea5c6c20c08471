import type { InStatement } from "@libsql/client";
import { and, asc, eq } from "drizzle-orm";
import { type AttributeNamespace, attributeKeys, metricNames } from "../db/schema-telemetry.js";
import { toRfc3339 } from "../http/time.js";
import { valueTypeNames } from "../ingest/attributes.js";
import { type FieldType, SOURCES } from "../oql/fields.js";
import { metadataStatement, type PageSql } from "./backend.js";
import {
	exactTime,
	nsTime,
	orgOnly,
	type PageReader,
	type PageSource,
	readBatch,
	Statement,
	table,
} from "./store.js";

/** Distinct values listed per indexed field (from its index, so free of a scan). */
export const FIELD_VALUES_LIMIT = 20;

/**
 * Fields whose values are listed: those leading an (org_id, field, timestamp) index, walked one
 * value per seek. Other fields (span names, bodies) would need a scan and get no values.
 */
export const VALUE_FIELDS: Record<PageSource, string[]> = {
	logs: ["level", "service", "host"],
	spans: ["service", "host"],
	metrics: ["service"],
};

export interface SchemaFieldJson {
	name: string;
	type: FieldType;
	description: string;
	/** How OQL names it. */
	oql: string;
	/** Distinct values seen (up to 20, sorted) for indexed fields; null for the others. */
	values: string[] | null;
}

export interface SchemaAttributeJson {
	namespace: AttributeNamespace;
	key: string;
	/** How OQL reads it; null for scope attributes, which OQL does not expose. */
	oql: string | null;
	types: string[];
	examples: string[];
	first_seen: string;
	last_seen: string;
}

export interface SchemaMetricJson {
	name: string;
	kind: string;
	unit: string | null;
	description: string | null;
	first_seen: string;
	last_seen: string;
}

export interface SchemaSourceJson {
	source: PageSource;
	/** The newest row of the source; null when it has none. */
	last_seen: { time: string; time_unix_nano: string } | null;
	fields: SchemaFieldJson[];
	attributes: SchemaAttributeJson[];
	/** Metric names with kind and unit (source `metrics` only). */
	metrics?: SchemaMetricJson[];
}

/**
 * The first FIELD_VALUES_LIMIT distinct values of an indexed field, sorted. libSQL walks its
 * (org_id, field, timestamp) index one value per seek; ClickHouse (no such index: its sort key is
 * the org and time) reads the column for the org, which a columnar engine does quickly.
 */
function distinctValues(sql: PageSql, source: PageSource, field: string, orgId: string): InStatement {
	const statement = new Statement(sql);
	const t = table(sql, source, "t");
	const column = t.field(field);
	if (sql.kind === "clickhouse") {
		return statement.done(
			`SELECT DISTINCT ${column} AS x FROM ${t.from} WHERE ${orgOnly(statement, t, orgId)} AND ${column} IS NOT NULL` +
				` ORDER BY x LIMIT ${statement.param(BigInt(FIELD_VALUES_LIMIT))}`,
		);
	}
	const walk = statement.quote("v");
	const next = (bound: string | null) =>
		`(SELECT min(${column}) FROM ${t.from} WHERE ${orgOnly(statement, t, orgId)}${bound === null ? "" : ` AND ${column} > ${bound}`})`;
	return statement.done(
		`WITH RECURSIVE ${walk}(x, n) AS (SELECT ${next(null)}, 1 UNION ALL SELECT ${next(`${walk}.x`)}, ${walk}.n + 1` +
			` FROM ${walk} WHERE ${walk}.x IS NOT NULL AND ${walk}.n < ${statement.param(BigInt(FIELD_VALUES_LIMIT))})` +
			` SELECT x FROM ${walk} WHERE x IS NOT NULL`,
	);
}

function lastSeenStatement(sql: PageSql, source: PageSource, orgId: string): InStatement {
	const statement = new Statement(sql);
	const t = table(sql, source, "t");
	return statement.done(
		`SELECT ${exactTime(t, `max(${t.time})`)} AS last FROM ${t.from} WHERE ${orgOnly(statement, t, orgId)}`,
	);
}

/** A drizzle query over libSQL metadata (attribute keys, metric names): libSQL on every backend. */
const drizzleStatement = (query: { toSQL(): { sql: string; params: unknown[] } }): InStatement => {
	const { sql, params } = query.toSQL();
	return metadataStatement({ sql, args: params as never });
};

export async function schemaPage(
	reader: PageReader,
	orgId: string,
	sources: PageSource[],
): Promise<SchemaSourceJson[]> {
	const statements: InStatement[] = [];
	const plan = sources.map((source) => {
		const first = statements.length;
		statements.push(lastSeenStatement(reader.sql, source, orgId));
		statements.push(
			drizzleStatement(
				reader.db
					.select()
					.from(attributeKeys)
					.where(and(eq(attributeKeys.orgId, orgId), eq(attributeKeys.source, source)))
					.orderBy(asc(attributeKeys.namespace), asc(attributeKeys.key)),
			),
		);
		for (const field of VALUE_FIELDS[source])
			statements.push(distinctValues(reader.sql, source, field, orgId));
		if (source === "metrics") {
			statements.push(
				drizzleStatement(
					reader.db
						.select()
						.from(metricNames)
						.where(eq(metricNames.orgId, orgId))
						.orderBy(asc(metricNames.name)),
				),
			);
		}
		return { source, first };
	});
	const results = await readBatch(reader, statements);
	return plan.map(({ source, first }) => {
		let at = first;
		const last = results[at++]?.rows[0]?.last;
		const keys = results[at++]?.rows ?? [];
		const values = new Map<string, string[]>();
		for (const field of VALUE_FIELDS[source]) {
			values.set(
				field,
				(results[at++]?.rows ?? []).map((row) => String(row.x)),
			);
		}
		const fields = Object.entries(SOURCES[source].fields).map(([name, info]) => ({
			name,
			type: info.type,
			description: info.description,
			oql: name,
			values: values.get(name) ?? null,
		}));
		const json: SchemaSourceJson = {
			source,
			last_seen: typeof last === "string" ? nsTime(last) : null,
			fields,
			attributes: keys.map((row) => {
				const namespace = String(row.namespace) as AttributeNamespace;
				const key = String(row.key);
				const oqlKey = `['${key.replaceAll("'", "''")}']`;
				return {
					namespace,
					key,
					oql:
						namespace === "attributes"
							? `attributes${oqlKey}`
							: namespace === "resource"
								? `resource${oqlKey}`
								: null,
					types: valueTypeNames(Number(row.value_types)),
					examples: parseExamples(row.examples),
					first_seen: toRfc3339(Number(row.first_seen)),
					last_seen: toRfc3339(Number(row.last_seen)),
				};
			}),
		};
		if (source === "metrics") {
			json.metrics = (results[at++]?.rows ?? []).map((row) => ({
				name: String(row.name),
				kind: String(row.kind),
				unit: row.unit === null ? null : String(row.unit),
				description: row.description === null ? null : String(row.description),
				first_seen: toRfc3339(Number(row.first_seen)),
				last_seen: toRfc3339(Number(row.last_seen)),
			}));
		}
		return json;
	});
}

function parseExamples(value: unknown): string[] {
	try {
		const parsed: unknown = JSON.parse(String(value));
		return Array.isArray(parsed) ? parsed.map(String) : [];
	} catch {
		return [];
	}
}
