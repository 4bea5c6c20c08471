import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";
import { apiKeyOrSession, requireAccess } from "../auth/credentials.js";
import { jsonBody } from "../http/json-body.js";
import { apiKeyOrBearerSecurity, ErrorSchema, errorResponses, validationHook } from "../http/openapi.js";
import { instantSchema } from "../http/time.js";
import { LIMITS, VARIABLE_NAME } from "../services/dashboards-model.js";
import { runTelemetryOql } from "../telemetry/store.js";

/**
 * What a run of OQL may add to the query's text: a time range that replaces the query's own and
 * values for its `$name` placeholders (bound as string literals). `POST /api/v1/dsl` and a saved
 * query's run take the same fields.
 */
export const RUN_OPTION_FIELDS = {
	from: instantSchema.optional().openapi({
		description: "Replaces the query's start (RFC 3339 with a zone, or epoch ms).",
	}),
	to: instantSchema.optional().openapi({ description: "Replaces the query's end." }),
	variables: z
		.record(
			z
				.string()
				.regex(
					VARIABLE_NAME,
					'a variable name must be 1–64 characters: letters, digits and "_", not starting with a digit',
				),
			z.string().max(LIMITS.variableValueLength),
		)
		.refine((v) => Object.keys(v).length <= LIMITS.variables, `at most ${LIMITS.variables} variables`)
		.optional()
		.openapi({ description: "Values of the query's `$name` placeholders, each bound as a string literal." }),
};

export const FROM_BEFORE_TO: [
	(b: { from?: number | undefined; to?: number | undefined }) => boolean,
	{ message: string; path: string[] },
] = [
	(b) => b.from === undefined || b.to === undefined || b.from < b.to,
	{ message: "from must be before to", path: ["to"] },
];

const QueryBody = z
	.strictObject({
		query: z.string().openapi({
			description: "One OQL query (docs/oql.md). Its time range defaults to LAST 1h.",
			example: "SELECT count(*) FROM logs WHERE level = 'error' LAST 1h",
		}),
		...RUN_OPTION_FIELDS,
	})
	.refine(...FROM_BEFORE_TO)
	.openapi("OqlQuery", {
		description:
			"`query` is required. `from`/`to` replace the query's own time range (as a dashboard's time picker does); `variables` bind its `$name` placeholders. A query with placeholders and no value for one answers 400 `oql_invalid_query`.",
	});

/** The contract's answer (§4), shared with the routes that run saved queries. */
export const OqlResultSchema = z
	.object({
		columns: z.array(
			z.object({
				name: z.string().openapi({ example: "count(*)" }),
				type: z.enum(["number", "string", "time", "bool", "any", "json"]),
			}),
		),
		rows: z.array(z.array(z.unknown())).openapi({ example: [[42]] }),
		meta: z.object({
			from: z.string().openapi({ example: "2026-11-28T11:00:00.000Z" }),
			to: z.string().openapi({ example: "2026-11-28T12:00:00.000Z" }),
			row_count: z.number().int(),
			truncated: z.boolean(),
			elapsed_ms: z.number(),
			source: z.enum(["rollup_1h", "rollup_1m", "raw"]).openapi({
				description:
					'What answered: a rollup level (`rollup_1h` when whole hours were read from the hourly rollup, else `rollup_1m`; partial minutes at the window\'s edges always come from raw rows) or `raw` rows. Counts, sums, averages, minima and maxima from a rollup equal the raw answer; percentiles are within 4.4 % of it (docs/oql.md, "Rollups"). The same with telemetry in ClickHouse (TELEMETRY_URL): its rollup tables answer the same shapes.',
				example: "rollup_1h",
			}),
		}),
	})
	.openapi("OqlResult");

/** The OQL error answers, for the OpenAPI document of every route that runs a query. */
export const oqlErrorResponses = {
	400: {
		description:
			"`oql_syntax_error` (with `position`), `oql_invalid_query` (times outside 1970…2262-04-11 included), `oql_range_too_large` (a window over the maximum, or MATCHES work over `OQL_MAX_MATCH_COST`), `invalid_request`",
		content: { "application/json": { schema: ErrorSchema } },
	},
	429: {
		description:
			"`rate_limited` (with `Retry-After`): the org (HEAVY_READS_PER_ORG) or the server (HEAVY_READS_TOTAL) already has its limit of queries in flight",
		content: { "application/json": { schema: ErrorSchema } },
	},
	503: {
		description:
			"`query_timeout` (with `Retry-After`): the query outlived OQL_TIMEOUT_MS and was stopped; `storage_unavailable` (with `Retry-After`)",
		content: { "application/json": { schema: ErrorSchema } },
	},
};

export function dslRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const run = createRoute({
		method: "post",
		path: "/",
		tags: ["OQL"],
		summary: "Run an OQL query",
		description:
			"Reads the caller's org only. Every value in the query is a bound parameter; the org filter and the time window are added by the compiler. The window is at most 31 days (configurable); the work of MATCHES (characters in the window × pattern cost) is bounded before the statement runs; a statement past the timeout is stopped and answers 503 `query_timeout`; beyond the limit of queries in flight per org or in total, 429 `rate_limited`. Limits: docs/limits.md.",
		security: apiKeyOrBearerSecurity,
		middleware: [requireAccess(deps, apiKeyOrSession("viewer")), jsonBody] as const,
		request: { body: { required: true, content: { "application/json": { schema: QueryBody } } } },
		responses: {
			200: { description: "The result", content: { "application/json": { schema: OqlResultSchema } } },
			...errorResponses(401, 403, 413, 415),
			...oqlErrorResponses,
		},
	});
	app.openapi(run, async (c) => {
		const { query, from, to, variables } = c.req.valid("json");
		const options = {
			...(from !== undefined && { from }),
			...(to !== undefined && { to }),
			...(variables !== undefined && { variables }),
		};
		return c.json(await runTelemetryOql(deps, c.var.principal.orgId, query, options), 200);
	});
	return app;
}
