import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";
import { sessionAccess, sessionActor } from "../auth/session-access.js";
import { ApiError } from "../errors.js";
import { errorResponses, queryNumber, validationHook } from "../http/openapi.js";
import { oqlSettingsOf } from "../oql/execute.js";
import { libsqlPageBackend, type PageBackend } from "../pages/backend.js";
import { hostDetail, hostsPage } from "../pages/hosts.js";
import { logsPage } from "../pages/logs.js";
import { OVERVIEW_TOP, overview } from "../pages/overview.js";
import { schemaPage } from "../pages/schema.js";
import { type PageSource, pageReader } from "../pages/store.js";
import { traceDetail, tracesPage } from "../pages/traces.js";
import {
	decodePageCursor,
	encodePageCursor,
	isHostPosition,
	isTimeIdPosition,
	type PageWindow,
	resolveWindow,
	timeIdInsideWindow,
	windowJson,
	windowShape,
} from "../pages/window.js";
import { listAnnotations } from "../services/annotations.js";
import { toAnnotationJson } from "./annotations.js";

// ---------------------------------------------------------------------------------------------
// Shared schemas

const RangeSchema = z
	.object({ from: z.string(), to: z.string() })
	.openapi("PageRange", { example: { from: "2026-11-28T11:00:00.000Z", to: "2026-11-28T12:00:00.000Z" } });

const cursorParam = z
	.string()
	.max(4096)
	.optional()
	.openapi({ description: "`next_cursor` from the previous page, with the same filters" });

const limitParam = (fallback: number, max: number) =>
	z
		.preprocess(queryNumber(), z.number().int().min(1).max(max))
		.default(fallback)
		.openapi({ description: `Rows per page (1–${max}, default ${fallback})` });

const label = (description: string, example: string) =>
	z.string().min(1).max(200).optional().openapi({ description, example });

const JsonMap = z.record(z.string(), z.unknown());
const CountsSchema = z.object({ count: z.number(), errors: z.number(), error_rate: z.number().nullable() });

const HistogramSchema = z
	.object({
		interval_ms: z.number(),
		oql: z.string(),
		buckets: z.array(z.object({ time: z.string(), count: z.number() })),
	})
	.openapi("PageHistogram", {
		example: {
			interval_ms: 60_000,
			oql: "SELECT count(*) FROM logs WHERE level IN ('error', 'fatal') TIMESERIES AUTO SINCE '2026-11-28T11:00:00.000Z' UNTIL '2026-11-28T12:00:00.000Z'",
			buckets: [
				{ time: "2026-11-28T11:00:00.000Z", count: 12 },
				{ time: "2026-11-28T11:01:00.000Z", count: 9 },
			],
		},
	});

const LogSchema = z
	.object({
		id: z.string(),
		time: z.string(),
		time_unix_nano: z.string(),
		observed_time_unix_nano: z.string(),
		level: z.string().nullable(),
		severity_number: z.number().nullable(),
		severity_text: z.string().nullable(),
		body: z.string().nullable(),
		service: z.string().nullable(),
		host: z.string().nullable(),
		trace_id: z.string().nullable(),
		span_id: z.string().nullable(),
		event_name: z.string().nullable(),
		attributes: JsonMap,
		resource: JsonMap,
	})
	.openapi("PageLog", {
		example: {
			id: "981723",
			time: "2026-11-28T11:59:58.123Z",
			time_unix_nano: "1795867198123456789",
			observed_time_unix_nano: "1795867198124000000",
			level: "error",
			severity_number: 17,
			severity_text: "ERROR",
			body: "Connection reset by peer (ECONNRESET)",
			service: "checkout",
			host: "web-1.prod",
			trace_id: "5b8efff798038103d269b633813fc60c",
			span_id: "eee19b7ec3c1b174",
			event_name: null,
			attributes: { "http.route": "/api/orders" },
			resource: { "service.name": "checkout", "host.name": "web-1.prod" },
		},
	});

// ---------------------------------------------------------------------------------------------
// Overview

const OverviewQuery = z.strictObject({ ...windowShape });
const OverviewSchema = z
	.object({
		range: RangeSchema,
		logs: CountsSchema,
		spans: CountsSchema,
		metric_points: z.object({ count: z.number() }),
		error_rate: z.number().nullable(),
		top_services: z.array(
			z.object({
				service: z.string().nullable(),
				errors: z.number(),
				log_errors: z.number(),
				span_errors: z.number(),
			}),
		),
		slowest_operations: z.array(
			z.object({ service: z.string().nullable(), name: z.string(), p95_ms: z.number(), spans: z.number() }),
		),
		heartbeats: z.object({
			total: z.number(),
			new: z.number(),
			up: z.number(),
			late: z.number(),
			down: z.number(),
			paused: z.number(),
		}),
		annotations: z.array(z.unknown()),
	})
	.openapi("PageOverview", {
		example: {
			range: { from: "2026-11-28T11:00:00.000Z", to: "2026-11-28T12:00:00.000Z" },
			logs: { count: 41660, errors: 3329, error_rate: 0.0799 },
			spans: { count: 41660, errors: 279, error_rate: 0.0067 },
			metric_points: { count: 4166 },
			error_rate: 0.0433,
			top_services: [{ service: "checkout", errors: 335, log_errors: 302, span_errors: 33 }],
			slowest_operations: [{ service: "checkout", name: "POST /api/orders", p95_ms: 707.1, spans: 565 }],
			heartbeats: { total: 4, new: 0, up: 3, late: 0, down: 1, paused: 0 },
			annotations: [],
		},
	});

// ---------------------------------------------------------------------------------------------
// Hosts

const HostsQuery = z.strictObject({ ...windowShape, cursor: cursorParam, limit: limitParam(50, 200) });
const HostQuery = z.strictObject({ ...windowShape });
const HostParams = z.object({
	host: z
		.string()
		.min(1)
		.max(1024)
		.openapi({ param: { name: "host", in: "path" }, example: "web-1.prod" }),
});
const hostShape = {
	host: z.string(),
	last_seen: z.string(),
	last_seen_unix_nano: z.string(),
	services: z.array(z.string()),
	logs: CountsSchema,
	spans: CountsSchema,
	metric_points: z.object({ count: z.number() }),
	error_rate: z.number().nullable(),
};
const hostExample = {
	host: "web-1.prod",
	last_seen: "2026-11-28T11:59:59.812Z",
	last_seen_unix_nano: "1795867199812000123",
	services: ["checkout", "payments"],
	logs: { count: 1736, errors: 140, error_rate: 0.0806 },
	spans: { count: 1807, errors: 12, error_rate: 0.0066 },
	metric_points: { count: 180 },
	error_rate: 0.0429,
};
const HostSchema = z.object(hostShape).openapi("PageHost", { example: hostExample });
const HostsSchema = z
	.object({ range: RangeSchema, data: z.array(HostSchema), next_cursor: z.string().nullable() })
	.openapi("PageHosts", {
		example: {
			range: { from: "2026-11-28T11:00:00.000Z", to: "2026-11-28T12:00:00.000Z" },
			data: [hostExample],
			next_cursor: "eyJrIjoiaG9zdHMiLCJmIjoxNzk1ODYzNjAwMDAwfQ",
		},
	});
const HostDetailSchema = z
	.object({
		range: RangeSchema,
		...hostShape,
		by_service: z.array(
			z.object({
				service: z.string().nullable(),
				logs: CountsSchema,
				spans: CountsSchema,
				metric_points: z.object({ count: z.number() }),
				last_seen: z.string(),
				last_seen_unix_nano: z.string(),
			}),
		),
		histogram: z.object({ logs: HistogramSchema, spans: HistogramSchema }),
		recent_errors: z.array(LogSchema),
	})
	.openapi("PageHostDetail");

// ---------------------------------------------------------------------------------------------
// Logs

const LEVEL = /^[a-z0-9_.-]{1,32}$/;
const LogsQuery = z.strictObject({
	q: z.string().min(1).max(500).optional().openapi({
		description: "Substring of the body, case-insensitive (ASCII letters)",
		example: "econnreset",
	}),
	level: z
		.string()
		.max(400)
		.optional()
		.openapi({ description: "One level or several, comma-separated (any of them)", example: "error,fatal" }),
	service: label("Exact service name", "checkout"),
	host: label("Exact host name", "web-1.prod"),
	...windowShape,
	cursor: cursorParam,
	limit: limitParam(100, 1000),
});
const LogsSchema = z
	.object({
		range: RangeSchema,
		data: z.array(LogSchema),
		next_cursor: z.string().nullable(),
		histogram: HistogramSchema.nullable().openapi({
			description: "Counts per bucket; first page only (null with a cursor)",
		}),
	})
	.openapi("PageLogs");

function parseLevels(raw: string | undefined): string[] | undefined {
	if (raw === undefined || raw.trim() === "") return undefined;
	const levels = [...new Set(raw.split(",").map((level) => level.trim().toLowerCase()))];
	const bad = levels.filter((level) => !LEVEL.test(level));
	if (bad.length > 0 || levels.length > 10) {
		throw new ApiError(400, "invalid_request", "The request is invalid.", {
			details: [{ path: "level", message: "Up to 10 comma-separated levels such as error,fatal" }],
		});
	}
	return levels;
}

// ---------------------------------------------------------------------------------------------
// Traces

const TracesQuery = z.strictObject({
	service: label("The root span's service", "checkout"),
	min_duration_ms: z
		.preprocess(queryNumber(true), z.number().min(0).max(1e12))
		.optional()
		.openapi({ description: "The root span lasted at least this long", example: 250 }),
	status: z
		.enum(["error", "ok"])
		.optional()
		.openapi({ description: "`error`: some span of the trace failed; `ok`: none did" }),
	...windowShape,
	cursor: cursorParam,
	limit: limitParam(50, 500),
});
const TraceSummarySchema = z
	.object({
		trace_id: z.string(),
		time: z.string(),
		time_unix_nano: z.string(),
		duration_ms: z.number(),
		root: z.object({
			span_id: z.string(),
			name: z.string(),
			service: z.string().nullable(),
			host: z.string().nullable(),
			kind: z.string(),
			status: z.string(),
		}),
		span_count: z.number(),
		error_count: z.number(),
		error: z.boolean(),
		services: z.array(z.string()),
	})
	.openapi("PageTraceSummary", {
		example: {
			trace_id: "5b8efff798038103d269b633813fc60c",
			time: "2026-11-28T11:59:58.100Z",
			time_unix_nano: "1795867198100000000",
			duration_ms: 412.5,
			root: {
				span_id: "eee19b7ec3c1b173",
				name: "POST /api/orders",
				service: "checkout",
				host: "web-1.prod",
				kind: "server",
				status: "error",
			},
			span_count: 9,
			error_count: 1,
			error: true,
			services: ["checkout", "payments"],
		},
	});
const TracesSchema = z
	.object({ range: RangeSchema, data: z.array(TraceSummarySchema), next_cursor: z.string().nullable() })
	.openapi("PageTraces");
const TraceParams = z.object({
	trace_id: z
		.string()
		.regex(/^[0-9a-fA-F]{32}$/, "32 hex digits")
		.openapi({ param: { name: "trace_id", in: "path" }, example: "5b8efff798038103d269b633813fc60c" }),
});
const SpanSchema = z.object({
	span_id: z.string(),
	parent_span_id: z.string().nullable(),
	name: z.string(),
	service: z.string().nullable(),
	host: z.string().nullable(),
	kind: z.string(),
	status: z.string(),
	status_message: z.string().nullable(),
	time: z.string().optional().openapi({ description: "Left out with `view=summary`." }),
	time_unix_nano: z.string().optional().openapi({ description: "Left out with `view=summary`." }),
	start_offset_ms: z.number(),
	duration_ms: z.number(),
	depth: z.number(),
	children: z.array(z.string()),
	missing_parent: z.boolean(),
	scope: z
		.object({ name: z.string().nullable(), version: z.string().nullable() })
		.optional()
		.openapi({ description: "Left out with `view=summary`." }),
	attributes: JsonMap.optional().openapi({ description: "Left out with `view=summary`." }),
	resource: JsonMap.optional().openapi({ description: "Left out with `view=summary`." }),
	events: z
		.array(
			z.object({
				name: z.string(),
				time: z.string(),
				time_unix_nano: z.string(),
				offset_ms: z.number(),
				attributes: JsonMap,
			}),
		)
		.optional()
		.openapi({ description: "Left out with `view=summary`." }),
	links: z.array(z.unknown()).optional().openapi({ description: "Left out with `view=summary`." }),
});
const TraceQuery = z.strictObject({
	view: z.enum(["full", "summary"]).default("full").openapi({
		description:
			"`full` (default): every span with its attributes, resource, events and links. `summary`: the same tree without those four fields — what a waterfall needs to draw, a fraction of the size for a large trace.",
	}),
});
const TraceSchema = z
	.object({
		trace_id: z.string(),
		time: z.string(),
		time_unix_nano: z.string(),
		duration_ms: z.number(),
		span_count: z.number(),
		error_count: z.number(),
		services: z.array(z.string()),
		root_span_id: z.string().nullable(),
		spans: z.array(SpanSchema),
		logs: z.array(LogSchema),
		truncated: z.object({ spans: z.boolean(), logs: z.boolean() }),
	})
	.openapi("PageTrace", {
		example: {
			trace_id: "5b8efff798038103d269b633813fc60c",
			time: "2026-11-28T11:59:58.100Z",
			time_unix_nano: "1795867198100000000",
			duration_ms: 412.5,
			span_count: 2,
			error_count: 1,
			services: ["checkout", "payments"],
			root_span_id: "eee19b7ec3c1b173",
			spans: [
				{
					span_id: "eee19b7ec3c1b173",
					parent_span_id: null,
					name: "POST /api/orders",
					service: "checkout",
					host: "web-1.prod",
					kind: "server",
					status: "unset",
					status_message: null,
					time: "2026-11-28T11:59:58.100Z",
					time_unix_nano: "1795867198100000000",
					start_offset_ms: 0,
					duration_ms: 412.5,
					depth: 0,
					children: ["0f1e2d3c4b5a6978"],
					missing_parent: false,
					scope: { name: "@opentelemetry/instrumentation-http", version: "0.57.0" },
					attributes: { "http.route": "/api/orders" },
					resource: { "service.name": "checkout" },
					events: [],
					links: [],
				},
				{
					span_id: "0f1e2d3c4b5a6978",
					parent_span_id: "eee19b7ec3c1b173",
					name: "charge card",
					service: "payments",
					host: "pay-2.prod",
					kind: "client",
					status: "error",
					status_message: "card declined",
					time: "2026-11-28T11:59:58.150Z",
					time_unix_nano: "1795867198150000000",
					start_offset_ms: 50,
					duration_ms: 300,
					depth: 1,
					children: [],
					missing_parent: false,
					scope: { name: "payments", version: null },
					attributes: {},
					resource: { "service.name": "payments" },
					events: [
						{
							name: "exception",
							time: "2026-11-28T11:59:58.440Z",
							time_unix_nano: "1795867198440000000",
							offset_ms: 340,
							attributes: { "exception.message": "card declined" },
						},
					],
					links: [],
				},
			],
			logs: [],
			truncated: { spans: false, logs: false },
		},
	});

// ---------------------------------------------------------------------------------------------
// Schema discovery

const SchemaQuery = z.strictObject({
	source: z
		.enum(["logs", "spans", "metrics"])
		.optional()
		.openapi({ description: "One source; all three when left out" }),
});
const SchemaSourceSchema = z
	.object({
		source: z.enum(["logs", "spans", "metrics"]),
		last_seen: z.object({ time: z.string(), time_unix_nano: z.string() }).nullable(),
		fields: z.array(
			z.object({
				name: z.string(),
				type: z.enum(["number", "string", "time", "bool"]),
				description: z.string(),
				oql: z.string(),
				values: z.array(z.string()).nullable(),
			}),
		),
		attributes: z.array(
			z.object({
				namespace: z.enum(["resource", "scope", "attributes"]),
				key: z.string(),
				oql: z.string().nullable(),
				types: z.array(z.string()),
				examples: z.array(z.string()),
				first_seen: z.string(),
				last_seen: z.string(),
			}),
		),
		metrics: z
			.array(
				z.object({
					name: z.string(),
					kind: z.string(),
					unit: z.string().nullable(),
					description: z.string().nullable(),
					first_seen: z.string(),
					last_seen: z.string(),
				}),
			)
			.optional(),
	})
	.openapi("PageSchemaSource");
const SchemaSchema = z.object({ sources: z.array(SchemaSourceSchema) }).openapi("PageSchema", {
	example: {
		sources: [
			{
				source: "logs",
				last_seen: { time: "2026-11-28T11:59:59.812Z", time_unix_nano: "1795867199812000123" },
				fields: [
					{
						name: "level",
						type: "string",
						description: "trace, debug, info, warn, error or fatal …",
						oql: "level",
						values: ["error", "info", "warn"],
					},
				],
				attributes: [
					{
						namespace: "attributes",
						key: "http.route",
						oql: "attributes['http.route']",
						types: ["string"],
						examples: ["/api/orders", "/api/users/:id"],
						first_seen: "2026-11-27T08:00:00.000Z",
						last_seen: "2026-11-28T11:55:00.000Z",
					},
				],
			},
		],
	},
});

// ---------------------------------------------------------------------------------------------

/**
 * The built-in pages (docs/pages.md): read-only views over the telemetry of the caller's org, for
 * a signed-in user of any role (contract §6: viewers read; API keys get 403 `session_required`).
 * `backend`: where the telemetry is read (src/pages/backend.ts): libSQL unless given, e.g.
 * `clickHousePageBackend(client, deps)` for a ClickHouse telemetry store.
 */
export function pageRoutes(deps: AppDeps, backend: PageBackend = libsqlPageBackend(deps)) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const tags = ["Pages"];
	const security = [{ Bearer: [] }];
	const maxRangeMs = oqlSettingsOf(deps).maxRangeDays * 86_400_000;
	const windowOf = (query: { range?: string; from?: number; to?: number }): PageWindow =>
		resolveWindow(query, deps.clock.now(), maxRangeMs);
	const windowDescription =
		"The window is `[from, to)`: `to` defaults to now and `from` to `to` − `range` (default 1h); at most 31 days (`OQL_MAX_RANGE_DAYS`).";

	app.openapi(
		createRoute({
			method: "get",
			path: "/overview",
			tags,
			security,
			summary: "Overview: volumes, error rates, top failing services, slowest operations",
			description: `${windowDescription} Volumes of logs, spans and metric points; error rates (error logs are level error or fatal, error spans have status error); the ${OVERVIEW_TOP} services with the most errors and the ${OVERVIEW_TOP} slowest operations (service and span name) by exact p95; heartbeat monitors by status (now); the ${OVERVIEW_TOP} newest annotations in the window.`,
			middleware: [read] as const,
			request: { query: OverviewQuery },
			responses: {
				200: { description: "The overview", content: { "application/json": { schema: OverviewSchema } } },
				...errorResponses(400, 401, 403, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const window = windowOf(c.req.valid("query"));
			const [summary, annotations] = await Promise.all([
				overview(pageReader(deps, orgId, backend), orgId, window),
				listAnnotations(deps.db, orgId, {
					from: window.fromMs,
					to: window.toMs - 1,
					match: "all",
					limit: OVERVIEW_TOP,
				}),
			]);
			return c.json(
				{ range: windowJson(window), ...summary, annotations: annotations.rows.map(toAnnotationJson) },
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/hosts",
			tags,
			security,
			summary: "Hosts seen in the window (host.name), by name",
			description: `${windowDescription} A host is listed when it has a log, span or metric point in the window. Sorted by name and paged by name: \`last_seen\` moves while data arrives, a name does not.`,
			middleware: [read] as const,
			request: { query: HostsQuery },
			responses: {
				200: { description: "A page of hosts", content: { "application/json": { schema: HostsSchema } } },
				...errorResponses(400, 401, 403, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const { cursor, limit, ...filters } = c.req.valid("query");
			const position = cursor ? decodePageCursor("hosts", filters, cursor, isHostPosition, maxRangeMs) : null;
			const window = position?.window ?? windowOf(filters);
			const page = await hostsPage(pageReader(deps, orgId, backend), orgId, window, {
				limit,
				after: position?.after ?? null,
			});
			return c.json(
				{
					range: windowJson(window),
					data: page.rows,
					next_cursor:
						page.next === null ? null : encodePageCursor("hosts", filters, { window, after: page.next }),
				},
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/hosts/{host}",
			tags,
			security,
			summary: "One host: counts per service, histograms, recent errors",
			description: `${windowDescription} 404 when the host has no log, span or metric point in the window (another org's host is not found either).`,
			middleware: [read] as const,
			request: { params: HostParams, query: HostQuery },
			responses: {
				200: { description: "The host", content: { "application/json": { schema: HostDetailSchema } } },
				...errorResponses(400, 401, 403, 404, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const window = windowOf(c.req.valid("query"));
			const detail = await hostDetail(
				pageReader(deps, orgId, backend),
				orgId,
				window,
				c.req.valid("param").host,
			);
			if (!detail) throw new ApiError(404, "not_found", "No data from this host in the window.");
			return c.json({ range: windowJson(window), ...detail }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/logs",
			tags,
			security,
			summary: "Log records, newest first, with a histogram of the window",
			description: `${windowDescription} Filters combine with AND: \`q\` is a case-insensitive substring of the body (ASCII letters fold; \`%\` and \`_\` are literal), \`level\` one or more levels, \`service\` and \`host\` exact names. Paged by (timestamp, id) with \`next_cursor\`: no row is skipped or repeated while new ones arrive.`,
			middleware: [read] as const,
			request: { query: LogsQuery },
			responses: {
				200: {
					description: "A page of log records",
					content: { "application/json": { schema: LogsSchema } },
				},
				...errorResponses(400, 401, 403, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const { cursor, limit, ...filters } = c.req.valid("query");
			const position = cursor
				? decodePageCursor("logs", filters, cursor, isTimeIdPosition, maxRangeMs, timeIdInsideWindow)
				: null;
			const window = position?.window ?? windowOf(filters);
			const page = await logsPage(
				pageReader(deps, orgId, backend),
				orgId,
				window,
				{ q: filters.q, levels: parseLevels(filters.level), service: filters.service, host: filters.host },
				{ limit, after: position?.after ?? null },
			);
			return c.json(
				{
					range: windowJson(window),
					data: page.rows,
					next_cursor:
						page.next === null ? null : encodePageCursor("logs", filters, { window, after: page.next }),
					histogram: page.histogram,
				},
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/traces",
			tags,
			security,
			summary: "Traces, newest first: root span, duration, span count, error flag",
			description: `${windowDescription} One row per root span (a span without a parent) that started in the window; \`service\` and \`min_duration_ms\` apply to the root span, \`status\` to every span of the trace. Paged by the root's (timestamp, id) with \`next_cursor\`.`,
			middleware: [read] as const,
			request: { query: TracesQuery },
			responses: {
				200: { description: "A page of traces", content: { "application/json": { schema: TracesSchema } } },
				...errorResponses(400, 401, 403, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const { cursor, limit, ...filters } = c.req.valid("query");
			const position = cursor
				? decodePageCursor("traces", filters, cursor, isTimeIdPosition, maxRangeMs, timeIdInsideWindow)
				: null;
			const window = position?.window ?? windowOf(filters);
			const page = await tracesPage(
				pageReader(deps, orgId, backend),
				orgId,
				window,
				{ service: filters.service, minDurationMs: filters.min_duration_ms, status: filters.status },
				{ limit, after: position?.after ?? null },
			);
			return c.json(
				{
					range: windowJson(window),
					data: page.rows,
					next_cursor:
						page.next === null ? null : encodePageCursor("traces", filters, { window, after: page.next }),
				},
				200,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/traces/{trace_id}",
			tags,
			security,
			summary: "One trace: every span as a tree (waterfall-ready) and its logs",
			description:
				"Spans in depth-first order, children by start time, each with its depth, its children's ids, its start offset from the trace's earliest span and its duration (ms), its attributes, resource, events and links (left out with `view=summary`). At most 10,000 spans and 1,000 logs (`truncated`). 404 when the org has no span with this trace id.",
			middleware: [read] as const,
			request: { params: TraceParams, query: TraceQuery },
			responses: {
				200: { description: "The trace", content: { "application/json": { schema: TraceSchema } } },
				...errorResponses(400, 401, 403, 404, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const trace = await traceDetail(
				pageReader(deps, orgId, backend),
				orgId,
				c.req.valid("param").trace_id.toLowerCase(),
				c.req.valid("query").view,
			);
			if (!trace) throw new ApiError(404, "not_found", "No trace with that id.");
			return c.json(trace, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/schema",
			tags,
			security,
			summary: "Schema discovery: fields, attribute keys, metric names",
			description:
				"Per source: its OQL fields (with up to 20 distinct values for indexed ones), the attribute keys seen by ingest with their value types, up to 5 example values, first and last seen, and for metrics the metric names with kind and unit. Not paged: discovery keeps at most 2,000 keys and 2,000 metric names per org.",
			middleware: [read] as const,
			request: { query: SchemaQuery },
			responses: {
				200: { description: "The schema", content: { "application/json": { schema: SchemaSchema } } },
				...errorResponses(400, 401, 403, 429, 503),
			},
		}),
		async (c) => {
			const { orgId } = sessionActor(c);
			const source = c.req.valid("query").source;
			const sources: PageSource[] = source ? [source] : ["logs", "spans", "metrics"];
			return c.json({ sources: await schemaPage(pageReader(deps, orgId, backend), orgId, sources) }, 200);
		},
	);

	return app;
}
