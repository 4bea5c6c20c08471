import { z } from "@hono/zod-openapi";
import { randomBase62 } from "../auth/api-key.js";
import { ApiError } from "../errors.js";
import { tagSchema } from "../http/name-rules.js";
import { instantSchema } from "../http/time.js";
import { fieldOf, SOURCES, type SourceName } from "../oql/fields.js";

/**
 * The dashboard document (docs/dashboards.md): its JSON shape, its limits and the rules that span
 * fields (panel ids, grid overlap, variable names). The routes validate bodies with these schemas;
 * `checkDashboard` then applies the cross-field rules and gives every panel an id.
 */

export const LIMITS = {
	title: 200,
	description: 2000,
	tags: 20,
	variables: 20,
	variableValues: 100,
	variableValueLength: 1000,
	panels: 50,
	/** OQL's own limit on query text. */
	query: 20_000,
	/** Serialized `options` of one panel. */
	panelOptionsBytes: 16 * 1024,
	gridColumns: 24,
	gridRows: 1000,
	panelHeight: 100,
} as const;

export const PANEL_KINDS = ["timeseries", "bar", "number", "table", "logs"] as const;
export type PanelKind = (typeof PANEL_KINDS)[number];

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const PANEL_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const DURATION = /^([1-9][0-9]{0,6})([smhdw])$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30s`, `15m`, `1h`, `7d`, `2w` → milliseconds, or null. */
export function durationMs(text: string): number | null {
	const match = DURATION.exec(text);
	if (!match) return null;
	return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

const nonBlank = (max: number) =>
	z
		.string()
		.min(1)
		.max(max)
		.refine((v) => v.trim().length > 0, "must not be blank");

export const Description = z.string().max(LIMITS.description).nullable().optional();

const LastRange = z
	.strictObject({
		last: z
			.string()
			.refine((v) => durationMs(v) !== null, "a whole number and a unit s, m, h, d or w, e.g. 1h"),
	})
	.openapi({ example: { last: "1h" } });

const FixedRange = z
	.strictObject({ from: instantSchema, to: instantSchema })
	.refine((r) => r.from < r.to, { message: "from must be before to", path: ["to"] })
	.openapi({ example: { from: "2026-11-28T00:00:00.000Z", to: "2026-11-28T06:00:00.000Z" } });

export const TimeRangeInput = z.union([LastRange, FixedRange]).openapi("DashboardTimeRange", {
	description:
		"The default time range: rolling (`last`, ending now) or fixed (`from`/`to`, RFC 3339 or epoch ms), at most the widest range OQL allows (31 days by default).",
	example: { last: "1h" },
});

const VariableSource = z
	.strictObject({
		source: z.enum(Object.keys(SOURCES) as [SourceName, ...SourceName[]]).openapi({ example: "logs" }),
		field: z.string().min(1).max(64).openapi({ example: "service" }),
	})
	.refine((s) => fieldOf(s.source, s.field)?.type === "string", {
		message: "field must be a string field of the source (e.g. service, host, level)",
		path: ["field"],
	})
	.openapi({ description: "Offer the values of this field, as schema discovery sees them" });

export const VariableInput = z
	.strictObject({
		name: z
			.string()
			.regex(
				VARIABLE_NAME,
				'a variable name must be 1–64 characters: letters, digits and "_", not starting with a digit',
			)
			.openapi({ example: "service" }),
		label: z.string().max(LIMITS.title).nullable().optional().openapi({ example: "Service" }),
		source: VariableSource.nullable().optional(),
		values: z
			.array(z.string().max(LIMITS.variableValueLength))
			.min(1)
			.max(LIMITS.variableValues)
			.nullable()
			.optional()
			.openapi({ description: "A fixed list of values to offer", example: ["checkout", "cart"] }),
		default: z
			.string()
			.max(LIMITS.variableValueLength)
			.nullable()
			.optional()
			.openapi({ example: "checkout" }),
	})
	.refine((v) => v.source == null || v.values == null, {
		message: "Give either source or values, not both",
		path: ["values"],
	})
	.refine((v) => v.values == null || v.default == null || v.values.includes(v.default), {
		message: "default must be one of values",
		path: ["default"],
	})
	.openapi("DashboardVariable", {
		description:
			"A `$name` placeholder in panel queries, bound as a string literal at run time. Without `source` or `values` it is free text.",
		example: {
			name: "service",
			label: "Service",
			source: { source: "logs", field: "service" },
			default: "checkout",
		},
	});

export const LayoutInput = z
	.strictObject({
		x: z
			.number()
			.int()
			.min(0)
			.max(LIMITS.gridColumns - 1),
		y: z.number().int().min(0).max(LIMITS.gridRows),
		w: z.number().int().min(1).max(LIMITS.gridColumns),
		h: z.number().int().min(1).max(LIMITS.panelHeight),
	})
	.refine((l) => l.x + l.w <= LIMITS.gridColumns, {
		message: `x + w must be at most ${LIMITS.gridColumns} (a ${LIMITS.gridColumns}-column grid)`,
		path: ["w"],
	})
	.openapi("PanelLayout", { example: { x: 0, y: 0, w: 12, h: 4 } });

export const PanelInput = z
	.strictObject({
		id: z
			.string()
			.regex(
				PANEL_ID,
				'a panel id must be 1–64 characters: letters, digits, "-" and "_", starting with a letter or digit',
			)
			.optional()
			.openapi({ description: "Stable within the dashboard; assigned when left out", example: "errors" }),
		title: nonBlank(LIMITS.title).openapi({ example: "Errors by service" }),
		description: Description,
		kind: z.enum(PANEL_KINDS),
		query: z.string().min(1).max(LIMITS.query).optional().openapi({
			example: "SELECT count(*) FROM logs WHERE level = 'error' AND service = $service TIMESERIES",
		}),
		saved_query_id: z.string().min(1).max(64).optional().openapi({ example: "sq_3xQp9LrT0aVb6nKd2sWf" }),
		layout: LayoutInput,
		options: z
			.record(z.string(), z.unknown())
			.optional()
			.refine(
				(o) => o === undefined || JSON.stringify(o).length <= LIMITS.panelOptionsBytes,
				"at most 16 KiB",
			)
			.openapi({ description: "Display settings for the client (units, colours…), stored as they are" }),
	})
	.refine((p) => (p.query === undefined) !== (p.saved_query_id === undefined), {
		message: "Give exactly one of query and saved_query_id",
		path: ["query"],
	})
	.openapi("DashboardPanel");

/** The fields a dashboard is made of (create and PUT; PATCH takes each of them optionally). */
export const dashboardFieldsShape = {
	title: nonBlank(LIMITS.title).openapi({ example: "Checkout" }),
	description: Description.openapi({ example: "Errors and latency of the checkout path" }),
	tags: z
		.array(tagSchema)
		.max(LIMITS.tags)
		.optional()
		.openapi({ example: ["team:payments"] }),
	time: TimeRangeInput.optional(),
	variables: z.array(VariableInput).max(LIMITS.variables).optional(),
	panels: z.array(PanelInput).max(LIMITS.panels).optional(),
};

export type TimeRange = { last: string } | { from: number; to: number };
export type Variable = z.infer<typeof VariableInput>;
export type Layout = z.infer<typeof LayoutInput>;
export type PanelInputValue = z.infer<typeof PanelInput>;
export type Panel = PanelInputValue & { id: string };

/** A dashboard's content as stored, after `checkDashboard`. */
export interface DashboardContent {
	title: string;
	description: string | null;
	tags: string[];
	time: TimeRange;
	variables: Variable[];
	panels: Panel[];
}

export const DEFAULT_TIME_RANGE: TimeRange = { last: "1h" };

function invalid(details: { path: string; message: string }[]): ApiError {
	return new ApiError(400, "invalid_request", "The request is invalid.", { details });
}

function overlaps(a: Layout, b: Layout): boolean {
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * The rules across fields: unique variable names and panel ids, no two panels on the same grid cell.
 * Panels without an id get a fresh one. Throws 400 `invalid_request` listing every problem.
 */
export function checkDashboard(
	content: Omit<DashboardContent, "panels"> & { panels: PanelInputValue[] },
	maxRangeMs: number,
) {
	const details: { path: string; message: string }[] = [];
	const span =
		"last" in content.time ? (durationMs(content.time.last) ?? 0) : content.time.to - content.time.from;
	if (span > maxRangeMs) {
		details.push({
			path: "time",
			message: `at most ${maxRangeMs / 86_400_000} days, the widest range OQL allows`,
		});
	}
	const names = new Set<string>();
	content.variables.forEach((variable, i) => {
		if (names.has(variable.name)) {
			details.push({ path: `variables.${i}.name`, message: `duplicate variable ${variable.name}` });
		}
		names.add(variable.name);
	});
	const ids = new Set(content.panels.flatMap((p) => (p.id === undefined ? [] : [p.id])));
	const seen = new Set<string>();
	const panels: Panel[] = content.panels.map((panel, i) => {
		let id = panel.id;
		if (id === undefined) {
			do id = `p_${randomBase62(8)}`;
			while (ids.has(id));
			ids.add(id);
		} else if (seen.has(id)) {
			details.push({ path: `panels.${i}.id`, message: `duplicate panel id ${id}` });
		}
		seen.add(id);
		return { ...panel, id };
	});
	for (let i = 0; i < panels.length; i++) {
		for (let j = 0; j < i; j++) {
			const a = panels[i] as Panel;
			const b = panels[j] as Panel;
			if (overlaps(a.layout, b.layout)) {
				details.push({ path: `panels.${i}.layout`, message: `overlaps panel ${b.id} (panels.${j})` });
			}
		}
	}
	if (details.length > 0) throw invalid(details);
	return { ...content, panels } satisfies DashboardContent;
}
