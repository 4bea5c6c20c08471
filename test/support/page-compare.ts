import { attributeMap } from "../../src/clickhouse/rows.js";

/**
 * A page's answer as compared between libSQL and ClickHouse (docs/scale-out.md, "The pages on
 * ClickHouse"): row ids dropped (each store's own: libSQL's rowid, ClickHouse's content hash) and
 * attribute maps (keys `attributes`, `resource`) as text, as ClickHouse keeps them.
 */
export function comparablePage(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(comparablePage);
	if (value && typeof value === "object") {
		return Object.fromEntries(
			Object.entries(value)
				.filter(([key]) => key !== "id")
				.map(([key, v]) => [
					key,
					key === "attributes" || key === "resource" ? attributeMap(v) : comparablePage(v),
				]),
		);
	}
	return value;
}
