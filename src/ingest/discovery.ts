import type { InValue } from "@libsql/client";
import { LruCache } from "../auth/lru.js";
import type { Clock } from "../clock.js";
import type { AttributeNamespace, MetricKind, TelemetrySource } from "../db/schema-telemetry.js";
import type { DecodedValue } from "./attributes.js";

/**
 * Schema discovery: which attribute keys an org sends, their value types, a few example values and
 * when they were last seen; and the metric names with kind and unit.
 *
 * Cheap by construction: a request aggregates what it saw in memory (one entry per distinct key,
 * however many records), and a per-isolate memory of what was written recently drops every key
 * that brings nothing new, so a steady stream writes each key about once per REFRESH_MS. What is
 * left goes into one multi-row upsert inside the request's transaction. Bounded: at most
 * MAX_KEYS_PER_ORG keys (and metric names) per org, plus the new keys of the request that reaches it.
 */
export const DISCOVERY_LIMITS = {
	maxKeysPerOrg: 2_000,
	maxMetricNamesPerOrg: 2_000,
	maxKeysPerRequest: 500,
	maxKeyLength: 256,
	/** A metric's unit and description are cut to these (they are part of what the memory keeps). */
	maxUnitLength: 64,
	maxDescriptionLength: 1_000,
	maxExamples: 5,
	/** A key already written is written again after this long, to move its last_seen on. */
	refreshMs: 5 * 60_000,
	memoryEntries: 50_000,
};

interface KeySeen {
	namespace: AttributeNamespace;
	key: string;
	types: number;
	examples: string[];
}

interface MetricSeen {
	name: string;
	kind: MetricKind;
	unit: string | null;
	description: string | null;
}

/** What one request saw. */
export class DiscoveryCollector {
	readonly keys = new Map<string, KeySeen>();
	readonly metrics = new Map<string, MetricSeen>();

	constructor(
		readonly orgId: string,
		readonly source: TelemetrySource,
		readonly nowMs: number,
	) {}

	observe(namespace: AttributeNamespace, key: string, value: DecodedValue): void {
		const id = `${namespace}\u0000${key}`;
		let seen = this.keys.get(id);
		if (!seen) {
			if (this.keys.size >= DISCOVERY_LIMITS.maxKeysPerRequest || key.length > DISCOVERY_LIMITS.maxKeyLength)
				return;
			seen = { namespace, key, types: 0, examples: [] };
			this.keys.set(id, seen);
		}
		seen.types |= value.type;
		if (
			value.example !== null &&
			seen.examples.length < DISCOVERY_LIMITS.maxExamples &&
			!seen.examples.includes(value.example)
		) {
			seen.examples.push(value.example);
		}
	}

	/**
	 * A metric name longer than a key may be is not recorded (as keys); a unit or description is cut
	 * (a 32 KB description on each of 500 metrics a request was held whole, up to 50,000 of them).
	 */
	observeMetric(name: string, kind: MetricKind, unit: string | null, description: string | null): void {
		if (
			this.metrics.size >= DISCOVERY_LIMITS.maxKeysPerRequest ||
			name.length > DISCOVERY_LIMITS.maxKeyLength ||
			this.metrics.has(name)
		)
			return;
		this.metrics.set(name, {
			name,
			kind,
			unit: unit?.slice(0, DISCOVERY_LIMITS.maxUnitLength) ?? null,
			description: description?.slice(0, DISCOVERY_LIMITS.maxDescriptionLength) ?? null,
		});
	}
}

interface KeyMemory {
	types: number;
	examples: string[];
}

/**
 * The per-isolate memory of what was written, so repeated keys cost nothing. `plan` returns the
 * statements and a `commit` to call once they are durably written.
 */
export class DiscoveryMemory {
	readonly #keys: LruCache<KeyMemory>;
	readonly #metrics: LruCache<string>;

	constructor(clock: Clock) {
		this.#keys = new LruCache(DISCOVERY_LIMITS.memoryEntries, clock);
		this.#metrics = new LruCache(DISCOVERY_LIMITS.memoryEntries, clock);
	}

	plan(collector: DiscoveryCollector): {
		statements: { sql: string; args: InValue[] }[];
		commit: () => void;
	} {
		const { orgId, source, nowMs } = collector;
		const keyRows: { id: string; seen: KeySeen; merged: KeyMemory }[] = [];
		for (const seen of collector.keys.values()) {
			const id = `${orgId}\u0000${source}\u0000${seen.namespace}\u0000${seen.key}`;
			const known = this.#keys.get(id);
			const newExamples = seen.examples.filter((e) => !known?.examples.includes(e));
			if (
				known &&
				(seen.types & ~known.types) === 0 &&
				(known.examples.length >= DISCOVERY_LIMITS.maxExamples || newExamples.length === 0)
			) {
				continue;
			}
			const merged = {
				types: (known?.types ?? 0) | seen.types,
				examples: [...(known?.examples ?? []), ...newExamples].slice(0, DISCOVERY_LIMITS.maxExamples),
			};
			keyRows.push({ id, seen, merged });
		}
		const metricRows: { id: string; seen: MetricSeen; signature: string }[] = [];
		for (const seen of collector.metrics.values()) {
			const id = `${orgId}\u0000${seen.name}`;
			const signature = JSON.stringify([seen.kind, seen.unit, seen.description]);
			if (this.#metrics.get(id) === signature) continue;
			metricRows.push({ id, seen, signature });
		}

		const statements: { sql: string; args: InValue[] }[] = [];
		if (keyRows.length > 0) {
			const args: InValue[] = [];
			for (const { seen } of keyRows) {
				args.push(orgId, source, seen.namespace, seen.key, seen.types, JSON.stringify(seen.examples), nowMs);
			}
			args.push(orgId, DISCOVERY_LIMITS.maxKeysPerOrg);
			statements.push({ sql: upsertKeysSql(keyRows.length), args });
		}
		if (metricRows.length > 0) {
			const args: InValue[] = [];
			for (const { seen } of metricRows) {
				args.push(orgId, seen.name, seen.kind, seen.unit, seen.description, nowMs);
			}
			args.push(orgId, DISCOVERY_LIMITS.maxMetricNamesPerOrg);
			statements.push({ sql: upsertMetricNamesSql(metricRows.length), args });
		}
		return {
			statements,
			commit: () => {
				for (const { id, merged } of keyRows) this.#keys.set(id, merged, DISCOVERY_LIMITS.refreshMs);
				for (const { id, signature } of metricRows)
					this.#metrics.set(id, signature, DISCOVERY_LIMITS.refreshMs);
			},
		};
	}
}

const tuples = (rows: number, columns: number) =>
	Array.from({ length: rows }, () => `(${Array.from({ length: columns }, () => "?").join(",")})`).join(",");

/**
 * New keys only while the org is under its cap (checked once per statement); known keys always get
 * their types OR-ed in, up to five distinct examples and a later last_seen.
 */
function upsertKeysSql(rows: number): string {
	return `INSERT INTO attribute_keys (org_id, source, namespace, key, value_types, examples, first_seen, last_seen)
SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column7
FROM (VALUES ${tuples(rows, 7)}) AS v
WHERE (SELECT count(*) FROM attribute_keys WHERE org_id = ?) < ?
  OR EXISTS (SELECT 1 FROM attribute_keys AS k
    WHERE k.org_id = v.column1 AND k.source = v.column2 AND k.namespace = v.column3 AND k.key = v.column4)
ON CONFLICT (org_id, source, namespace, key) DO UPDATE SET
  value_types = attribute_keys.value_types | excluded.value_types,
  examples = CASE WHEN json_array_length(attribute_keys.examples) >= ${DISCOVERY_LIMITS.maxExamples}
    THEN attribute_keys.examples
    ELSE (SELECT json_group_array(value) FROM (
      SELECT value FROM json_each(attribute_keys.examples)
      UNION SELECT value FROM json_each(excluded.examples)
      LIMIT ${DISCOVERY_LIMITS.maxExamples}))
    END,
  last_seen = max(attribute_keys.last_seen, excluded.last_seen)`;
}

function upsertMetricNamesSql(rows: number): string {
	return `INSERT INTO metric_names (org_id, name, kind, unit, description, first_seen, last_seen)
SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column6
FROM (VALUES ${tuples(rows, 6)}) AS v
WHERE (SELECT count(*) FROM metric_names WHERE org_id = ?) < ?
  OR EXISTS (SELECT 1 FROM metric_names AS m WHERE m.org_id = v.column1 AND m.name = v.column2)
ON CONFLICT (org_id, name) DO UPDATE SET
  kind = excluded.kind,
  unit = excluded.unit,
  description = coalesce(excluded.description, metric_names.description),
  last_seen = max(metric_names.last_seen, excluded.last_seen)`;
}
