import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";
import { type SessionActor, sessionAccess, sessionActor } from "../auth/session-access.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { jsonBody, optionalJsonBody } from "../http/json-body.js";
import { ErrorSchema, errorResponses, idParams, pageQueryShape, validationHook } from "../http/openapi.js";
import { queryInstantSchema, toRfc3339 } from "../http/time.js";
import { oqlSettingsOf } from "../oql/execute.js";
import {
	checkSavedQueryRefs,
	createDashboard,
	type Dashboard,
	dashboardNotFound,
	deleteDashboard,
	duplicateDashboard,
	getDashboard,
	listDashboards,
	updateDashboard,
	versionConflict,
} from "../services/dashboards.js";
import {
	checkDashboard,
	type DashboardContent,
	DEFAULT_TIME_RANGE,
	dashboardFieldsShape,
	LayoutInput,
	LIMITS,
	PANEL_KINDS,
	type PanelInputValue,
	VariableInput,
} from "../services/dashboards-model.js";
import { checkOql } from "../services/dashboards-oql.js";
import { parseDataQuery, runDashboard } from "../services/dashboards-run.js";
import { limitNote, orgLimit } from "../services/org-limits.js";
import { OqlResultSchema } from "./dsl.js";
import { oqlCheckResponses } from "./saved-queries.js";

const EXAMPLE_PANELS = [
	{
		id: "errors",
		title: "Errors",
		kind: "timeseries",
		query: "SELECT count(*) FROM logs WHERE level = 'error' AND service = $service TIMESERIES",
		layout: { x: 0, y: 0, w: 16, h: 4 },
	},
	{
		id: "p95",
		title: "p95 latency (ms)",
		kind: "number",
		query: "SELECT p95(duration_ms) FROM spans WHERE service = $service",
		layout: { x: 16, y: 0, w: 8, h: 4 },
	},
	{
		id: "saved",
		title: "Checkout errors",
		kind: "table",
		saved_query_id: "sq_3xQp9LrT0aVb6nKd2sWf",
		layout: { x: 0, y: 4, w: 24, h: 6 },
	},
];

const EXAMPLE_CONTENT = {
	title: "Checkout",
	description: "Errors and latency of the checkout path",
	tags: ["team:payments"],
	time: { last: "6h" },
	variables: [
		{ name: "service", label: "Service", source: { source: "logs", field: "service" }, default: "checkout" },
	],
	panels: EXAMPLE_PANELS,
};

const CreateBody = z
	.strictObject(dashboardFieldsShape)
	.openapi("DashboardCreate", { example: EXAMPLE_CONTENT });

const Version = z.number().int().min(1).openapi({
	description: "The version the change is based on; another write since then answers 409 `version_conflict`",
	example: 3,
});

const ReplaceBody = z
	.strictObject({ ...dashboardFieldsShape, version: Version })
	.openapi("DashboardReplace", { example: { ...EXAMPLE_CONTENT, version: 3 } });

const PatchBody = z
	.strictObject({
		title: dashboardFieldsShape.title.optional(),
		description: dashboardFieldsShape.description,
		tags: dashboardFieldsShape.tags,
		time: dashboardFieldsShape.time,
		variables: dashboardFieldsShape.variables,
		panels: dashboardFieldsShape.panels,
		version: Version,
	})
	.refine((b) => Object.keys(b).some((k) => k !== "version"), {
		message: "Send at least one field besides version",
	})
	.openapi("DashboardPatch", {
		description:
			"A JSON merge of top-level fields: each field sent replaces the stored one whole (`panels` and `variables` are arrays, replaced whole); `description: null` clears it; fields left out stay.",
		example: { title: "Checkout (prod)", version: 3 },
	});

const DuplicateBody = z
	.strictObject({ title: dashboardFieldsShape.title.optional() })
	.openapi("DashboardDuplicate", { example: { title: "Checkout — staging" } });

const Person = z.object({
	id: z.string().openapi({ example: "usr_4kTn8QpZ2xLc7VbR0mWs" }),
	name: z.string().nullable().openapi({ example: "Ada Lovelace" }),
});

const TimeRangeOut = z
	.union([z.object({ last: z.string() }), z.object({ from: z.string(), to: z.string() })])
	.openapi({ example: { last: "6h" } });

const PanelOut = z
	.object({
		id: z.string(),
		title: z.string(),
		description: z.string().nullable().optional(),
		kind: z.enum(PANEL_KINDS),
		query: z.string().optional(),
		saved_query_id: z.string().optional(),
		layout: LayoutInput,
		options: z.record(z.string(), z.unknown()).optional(),
	})
	.openapi("DashboardPanelOut");

const common = {
	id: z.string().openapi({ example: "dash_8RtQ2nVx5LpK0cZb7mWs" }),
	title: z.string(),
	description: z.string().nullable(),
	tags: z.array(z.string()),
	version: z.number().int(),
	created_by: Person,
	updated_by: Person,
	created_at: z.string().openapi({ example: "2026-11-28T06:30:00.000Z" }),
	updated_at: z.string().openapi({ example: "2026-11-28T07:05:00.000Z" }),
};

const EXAMPLE_META = {
	id: "dash_8RtQ2nVx5LpK0cZb7mWs",
	version: 4,
	created_by: { id: "usr_4kTn8QpZ2xLc7VbR0mWs", name: "Ada Lovelace" },
	updated_by: { id: "usr_4kTn8QpZ2xLc7VbR0mWs", name: "Ada Lovelace" },
	created_at: "2026-11-28T06:30:00.000Z",
	updated_at: "2026-11-28T07:05:00.000Z",
};

const DashboardSchema = z
	.object({
		...common,
		time: TimeRangeOut,
		variables: z.array(VariableInput),
		panels: z.array(PanelOut),
	})
	.openapi("Dashboard", { example: { ...EXAMPLE_META, ...EXAMPLE_CONTENT } });

const DashboardSummarySchema = z
	.object({ ...common, panel_count: z.number().int() })
	.openapi("DashboardSummary", {
		example: {
			...EXAMPLE_META,
			title: EXAMPLE_CONTENT.title,
			description: EXAMPLE_CONTENT.description,
			tags: EXAMPLE_CONTENT.tags,
			panel_count: 3,
		},
	});

const ListQuery = z.strictObject({
	tag: z
		.string()
		.max(64)
		.optional()
		.openapi({ description: "Only dashboards with this tag", example: "team:payments" }),
	q: z
		.string()
		.min(1)
		.max(200)
		.optional()
		.openapi({ description: "Title contains (any case)", example: "check" }),
	...pageQueryShape,
});

const ListResponse = z
	.object({ data: z.array(DashboardSummarySchema), next_cursor: z.string().nullable() })
	.openapi("DashboardList");

const IdParams = idParams("dash_8RtQ2nVx5LpK0cZb7mWs");

const DataQuery = z.object({
	from: queryInstantSchema
		.optional()
		.openapi({ description: "Start (default: from the dashboard's time range)" }),
	to: queryInstantSchema
		.optional()
		.openapi({ description: "End (default: now, or the dashboard's fixed end)" }),
	"var.service": z.string().optional().openapi({
		description:
			"`var.<name>=<value>` sets a dashboard variable (here one named `service`); one parameter per variable. Unknown names answer 400.",
		example: "checkout",
	}),
});

const PanelErrorSchema = z.object({
	code: z.string().openapi({ example: "oql_invalid_query" }),
	message: z.string(),
	position: z.object({ line: z.number().int(), column: z.number().int() }).optional(),
});

const DashboardDataSchema = z
	.object({
		dashboard: z.object({ id: z.string(), version: z.number().int() }),
		time: z.object({ from: z.string(), to: z.string() }),
		variables: z.record(z.string(), z.string().nullable()),
		panels: z.record(
			z.string(),
			z.union([z.object({ data: OqlResultSchema }), z.object({ error: PanelErrorSchema })]),
		),
	})
	.openapi("DashboardData", {
		example: {
			dashboard: { id: "dash_8RtQ2nVx5LpK0cZb7mWs", version: 4 },
			time: { from: "2026-11-28T06:00:00.000Z", to: "2026-11-28T07:00:00.000Z" },
			variables: { service: "checkout" },
			panels: {
				p95: {
					data: {
						columns: [{ name: "p95(duration_ms)", type: "number" }],
						rows: [[182.5]],
						meta: {
							from: "2026-11-28T06:00:00.000Z",
							to: "2026-11-28T07:00:00.000Z",
							row_count: 1,
							truncated: false,
							elapsed_ms: 4,
							source: "rollup_1h",
						},
					},
				},
				errors: {
					error: {
						code: "oql_invalid_query",
						message: "Unknown field 'sevrity' on logs. Did you mean severity? (line 1, column 36)",
						position: { line: 1, column: 36 },
					},
				},
			},
		},
	});

function person(p: { id: string; name: string | null }) {
	return { id: p.id, name: p.name };
}

function timeJson(time: Dashboard["time"]) {
	return "last" in time ? { last: time.last } : { from: toRfc3339(time.from), to: toRfc3339(time.to) };
}

function commonJson(d: Dashboard) {
	return {
		id: d.id,
		title: d.title,
		description: d.description,
		tags: d.tags,
		version: d.version,
		created_by: person(d.createdBy),
		updated_by: person(d.updatedBy),
		created_at: toRfc3339(d.createdAt),
		updated_at: toRfc3339(d.updatedAt),
	};
}

function toJson(d: Dashboard): z.infer<typeof DashboardSchema> {
	return { ...commonJson(d), time: timeJson(d.time), variables: d.variables, panels: d.panels };
}

type Fields = Partial<Omit<DashboardContent, "panels">> & { panels?: PanelInputValue[] | undefined };

/**
 * Body fields → checked content: the cross-field rules, every inline panel query parsed and checked
 * (its `$variables` must be the dashboard's), and saved-query references shared in the org.
 * `checkQueries: false` skips the queries when neither panels nor variables change (PATCH of a title).
 */
async function contentFrom(
	deps: AppDeps,
	actor: SessionActor,
	fields: Fields & { title: string },
	checkQueries = true,
): Promise<DashboardContent> {
	const content = checkDashboard(
		{
			title: fields.title,
			description: fields.description ?? null,
			tags: [...new Set(fields.tags ?? [])],
			time: fields.time ?? DEFAULT_TIME_RANGE,
			variables: fields.variables ?? [],
			panels: fields.panels ?? [],
		},
		oqlSettingsOf(deps).maxRangeDays * 86_400_000,
	);
	if (checkQueries) {
		const declared = content.variables.map((v) => ({
			name: v.name,
			value: v.default ?? v.values?.[0] ?? null,
		}));
		content.panels.forEach((panel, i) => {
			if (panel.query !== undefined) checkOql(deps, actor.orgId, panel.query, `panels.${i}.query`, declared);
		});
		await checkSavedQueryRefs(deps.db, actor.orgId, content.panels);
	}
	return content;
}

/** Dashboards (docs/dashboards.md): viewers read them and their data; members write them. */
export function dashboardRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const write = sessionAccess(deps, "member");
	const tags = ["Dashboards"];
	const security = [{ Bearer: [] }];
	const conflict = {
		409: {
			description: "`version` is not the current one (`version_conflict`; `details.current_version`)",
			content: { "application/json": { schema: ErrorSchema } },
		},
	};

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List dashboards, newest first",
			description:
				"Summaries without panels. Filters by one tag and a title substring; pages with `next_cursor`.",
			middleware: [read] as const,
			request: { query: ListQuery },
			responses: {
				200: {
					description: "A page of dashboards",
					content: { "application/json": { schema: ListResponse } },
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const query = c.req.valid("query");
			const page = await listDashboards(deps.db, sessionActor(c).orgId, {
				tag: query.tag,
				q: query.q,
				limit: query.limit,
				after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
			});
			return c.json(
				{
					data: page.rows.map((d) => ({ ...commonJson(d), panel_count: d.panels.length })),
					next_cursor: page.next ? encodeCursor(page.next) : null,
				},
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/",
			tags,
			security,
			summary: "Create a dashboard",
			description: `At most ${LIMITS.panels} panels on a ${LIMITS.gridColumns}-column grid, as in Grafana (x + w ≤ ${LIMITS.gridColumns}, no overlaps) and ${LIMITS.variables} variables. Panel queries are parsed and checked (400 with the OQL error, \`position\` and the panel's path in \`details\`); \`saved_query_id\` must name a query shared with the org. Starts at version 1. ${limitNote("dashboards")}`,
			middleware: [write, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
			responses: {
				201: { description: "Created", content: { "application/json": { schema: DashboardSchema } } },
				...oqlCheckResponses,
				...errorResponses(401, 403, 409, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const content = await contentFrom(deps, actor, c.req.valid("json"));
			const limit = orgLimit(deps.config.orgLimits, "dashboards");
			return c.json(toJson(await createDashboard(deps.db, deps.clock, actor, content, limit)), 201);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{id}",
			tags,
			security,
			summary: "Get a dashboard",
			middleware: [read] as const,
			request: { params: IdParams },
			responses: {
				200: { description: "The dashboard", content: { "application/json": { schema: DashboardSchema } } },
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const dashboard = await getDashboard(deps.db, sessionActor(c).orgId, c.req.valid("param").id);
			if (!dashboard) throw dashboardNotFound();
			return c.json(toJson(dashboard), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "put",
			path: "/{id}",
			tags,
			security,
			summary: "Replace a dashboard",
			description:
				"Takes the fields of create plus the `version` it is based on. Fields left out take their defaults. Answers the dashboard at its new version (+1).",
			middleware: [write, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: ReplaceBody } } },
			},
			responses: {
				200: {
					description: "The replaced dashboard",
					content: { "application/json": { schema: DashboardSchema } },
				},
				...oqlCheckResponses,
				...errorResponses(401, 403, 404, 413, 415),
				...conflict,
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const { id } = c.req.valid("param");
			const { version, ...fields } = c.req.valid("json");
			const current = await getDashboard(deps.db, actor.orgId, id);
			if (!current) throw dashboardNotFound();
			// A stale version is refused before the content is checked: its problems may be someone else's.
			if (current.version !== version) throw versionConflict(current.version);
			const content = await contentFrom(deps, actor, fields);
			return c.json(toJson(await updateDashboard(deps.db, deps.clock, actor, id, version, content)), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/{id}",
			tags,
			security,
			summary: "Change some fields of a dashboard",
			description:
				"A JSON merge of top-level fields with the `version` it is based on: each field sent replaces the stored one whole; `description: null` clears it. Answers the dashboard at its new version (+1).",
			middleware: [write, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: PatchBody } } },
			},
			responses: {
				200: {
					description: "The changed dashboard",
					content: { "application/json": { schema: DashboardSchema } },
				},
				...oqlCheckResponses,
				...errorResponses(401, 403, 404, 413, 415),
				...conflict,
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const { id } = c.req.valid("param");
			const { version, ...patch } = c.req.valid("json");
			const current = await getDashboard(deps.db, actor.orgId, id);
			if (!current) throw dashboardNotFound();
			if (current.version !== version) throw versionConflict(current.version);
			const merged: Fields & { title: string } = {
				title: patch.title ?? current.title,
				description: patch.description === undefined ? current.description : patch.description,
				tags: patch.tags ?? current.tags,
				time: patch.time ?? current.time,
				variables: patch.variables ?? current.variables,
				panels: patch.panels ?? current.panels,
			};
			const checkQueries = patch.panels !== undefined || patch.variables !== undefined;
			const content = await contentFrom(deps, actor, merged, checkQueries);
			return c.json(toJson(await updateDashboard(deps.db, deps.clock, actor, id, version, content)), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}",
			tags,
			security,
			summary: "Delete a dashboard",
			middleware: [write] as const,
			request: { params: IdParams },
			responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			if (!(await deleteDashboard(deps.db, sessionActor(c).orgId, c.req.valid("param").id))) {
				throw dashboardNotFound();
			}
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/{id}/duplicate",
			tags,
			security,
			summary: "Duplicate a dashboard",
			description: `A new dashboard with the same content: a new id, version 1, the caller as creator, titled "<title> (copy)" unless the body names a title. It counts toward the organization's dashboards: ${limitNote("dashboards")}`,
			middleware: [write, optionalJsonBody] as const,
			request: {
				params: IdParams,
				body: {
					required: false,
					description:
						"Optional: no body, or an empty one (even with a JSON Content-Type), is the same as `{}`.",
					content: { "application/json": { schema: DuplicateBody } },
				},
			},
			responses: {
				201: { description: "The copy", content: { "application/json": { schema: DashboardSchema } } },
				...errorResponses(400, 401, 403, 404, 409, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json") ?? {};
			const copy = await duplicateDashboard(
				deps.db,
				deps.clock,
				sessionActor(c),
				c.req.valid("param").id,
				body.title,
				orgLimit(deps.config.orgLimits, "dashboards"),
			);
			if (!copy) throw dashboardNotFound();
			return c.json(toJson(copy), 201);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{id}/data",
			tags,
			security,
			summary: "Run every panel of a dashboard",
			description:
				"Runs the panels in parallel over one time range (`from`/`to` as RFC 3339 or epoch ms, else the dashboard's default) with the variables bound (`var.<name>=`, else their defaults). Each panel answers on its own: `{data}` (as `POST /api/v1/dsl` answers) or `{error: {code, message, position?}}`, so one broken panel never hides the others. Unknown parameters or variable names answer 400.",
			middleware: [read] as const,
			request: { params: IdParams, query: DataQuery },
			responses: {
				200: {
					description: "The results, keyed by panel id",
					content: { "application/json": { schema: DashboardDataSchema } },
				},
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const dashboard = await getDashboard(deps.db, actor.orgId, c.req.valid("param").id);
			if (!dashboard) throw dashboardNotFound();
			const query = parseDataQuery(c.req.queries(), dashboard, deps.clock.now());
			return c.json(await runDashboard(deps, actor, dashboard, query), 200);
		},
	);

	return app;
}
