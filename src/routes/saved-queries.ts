import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";
import { sessionAccess, sessionActor } from "../auth/session-access.js";
import { SAVED_QUERY_VISIBILITIES } from "../db/schema.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { jsonBody, optionalJsonBody } from "../http/json-body.js";
import { ErrorSchema, errorResponses, idParams, pageQueryShape, validationHook } from "../http/openapi.js";
import { toRfc3339 } from "../http/time.js";
import { Description, LIMITS } from "../services/dashboards-model.js";
import { checkOql, runQuery } from "../services/dashboards-oql.js";
import {
	createSavedQuery,
	deleteSavedQuery,
	getSavedQuery,
	listSavedQueries,
	replaceSavedQuery,
	type SavedQueryWithOwner,
	savedQueryNotFound,
} from "../services/dashboards-saved-queries.js";
import { limitNote, orgLimit } from "../services/org-limits.js";
import {
	oqlErrorResponses as dslOqlErrorResponses,
	FROM_BEFORE_TO,
	OqlResultSchema,
	RUN_OPTION_FIELDS,
} from "./dsl.js";

/** The 400 of a route that checks OQL on save (as `POST /api/v1/dsl` answers), with an example. */
export const oqlCheckResponses = {
	400: {
		description:
			"Invalid request (`invalid_request`) or query (`oql_syntax_error` with `position`, `oql_invalid_query`, `oql_range_too_large`)",
		content: {
			"application/json": {
				schema: ErrorSchema,
				example: {
					error: {
						code: "oql_syntax_error",
						message: "Expected FROM, found 'FORM'. Did you mean FROM? (line 1, column 17)",
						request_id: "9f2c1e0a-5b7d-4c3e-8a1f-2d6b0e4c9a71",
						position: { line: 1, column: 17 },
					},
				},
			},
		},
	},
};

const Name = z
	.string()
	.min(1)
	.max(LIMITS.title)
	.refine((v) => v.trim().length > 0, "name must not be blank")
	.openapi({ example: "Checkout errors" });
const Query = z.string().min(1).max(LIMITS.query).openapi({
	example: "SELECT count(*) FROM logs WHERE level = 'error' AND service = 'checkout' TIMESERIES",
});
const Visibility = z.enum(SAVED_QUERY_VISIBILITIES).openapi({
	description: "`org`: every user of the organization reads it; `private`: only its owner sees it",
	example: "org",
});

const CreateBody = z
	.strictObject({ name: Name, description: Description, query: Query, visibility: Visibility.default("org") })
	.openapi("SavedQueryCreate", {
		example: {
			name: "Checkout errors",
			description: "Errors of the checkout service, per 5 minutes",
			query: "SELECT count(*) FROM logs WHERE level = 'error' AND service = 'checkout' TIMESERIES 5m",
			visibility: "org",
		},
	});

const ReplaceBody = z
	.strictObject({ name: Name, description: Description, query: Query, visibility: Visibility.optional() })
	.openapi("SavedQueryReplace", {
		description:
			"Replaces name, description (left out: null) and query. `visibility` left out stays as it is; only the owner may change it.",
		example: {
			name: "Checkout errors",
			query:
				"SELECT count(*) FROM logs WHERE level IN ('error', 'fatal') AND service = 'checkout' TIMESERIES 5m",
		},
	});

const RunBody = z
	.strictObject(RUN_OPTION_FIELDS)
	.refine(...FROM_BEFORE_TO)
	.openapi("SavedQueryRun", {
		description:
			"All optional. `from`/`to` replace the query's own time range; `variables` bind `$name` placeholders as string literals.",
		example: {
			from: "2026-11-28T06:00:00.000Z",
			to: "2026-11-28T07:00:00.000Z",
			variables: { service: "checkout" },
		},
	});

const SavedQuerySchema = z
	.object({
		id: z.string().openapi({ example: "sq_3xQp9LrT0aVb6nKd2sWf" }),
		name: z.string(),
		description: z.string().nullable(),
		query: z.string(),
		visibility: Visibility,
		owner: z.object({
			id: z.string().openapi({ example: "usr_4kTn8QpZ2xLc7VbR0mWs" }),
			name: z.string().nullable().openapi({ example: "Ada Lovelace" }),
		}),
		created_at: z.string().openapi({ example: "2026-11-28T06:30:00.000Z" }),
		updated_at: z.string().openapi({ example: "2026-11-28T06:30:00.000Z" }),
	})
	.openapi("SavedQuery", {
		example: {
			id: "sq_3xQp9LrT0aVb6nKd2sWf",
			name: "Checkout errors",
			description: "Errors of the checkout service, per 5 minutes",
			query: "SELECT count(*) FROM logs WHERE level = 'error' AND service = 'checkout' TIMESERIES 5m",
			visibility: "org",
			owner: { id: "usr_4kTn8QpZ2xLc7VbR0mWs", name: "Ada Lovelace" },
			created_at: "2026-11-28T06:30:00.000Z",
			updated_at: "2026-11-28T06:30:00.000Z",
		},
	});

const ListQuery = z.strictObject({
	visibility: Visibility.optional().openapi({ description: "Only shared (`org`) or only private queries" }),
	owner: z.enum(["me"]).optional().openapi({ description: "`me`: only the caller's own queries" }),
	...pageQueryShape,
});

const ListResponse = z
	.object({ data: z.array(SavedQuerySchema), next_cursor: z.string().nullable() })
	.openapi("SavedQueryList");

const IdParams = idParams("sq_3xQp9LrT0aVb6nKd2sWf");

function toJson(row: SavedQueryWithOwner): z.infer<typeof SavedQuerySchema> {
	return {
		id: row.id,
		name: row.name,
		description: row.description,
		query: row.query,
		visibility: row.visibility,
		owner: { id: row.ownerId, name: row.ownerName },
		created_at: toRfc3339(row.createdAt),
		updated_at: toRfc3339(row.updatedAt),
	};
}

/** Saved queries (docs/dashboards.md): viewers read and run them; members write them. */
export function savedQueryRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const write = sessionAccess(deps, "member");
	const tags = ["Saved queries"];
	const security = [{ Bearer: [] }];
	const invisible = "A private query of another user answers 404, like an id of another organization.";

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List the saved queries the caller can see, newest first",
			description: "The org's shared queries and the caller's own private ones. Pages with `next_cursor`.",
			middleware: [read] as const,
			request: { query: ListQuery },
			responses: {
				200: {
					description: "A page of saved queries",
					content: { "application/json": { schema: ListResponse } },
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const query = c.req.valid("query");
			const page = await listSavedQueries(deps.db, sessionActor(c), {
				visibility: query.visibility,
				mine: query.owner === "me",
				limit: query.limit,
				...(query.cursor !== undefined && { after: decodeCursor(query.cursor) }),
			});
			return c.json(
				{ data: page.rows.map(toJson), next_cursor: page.next ? encodeCursor(page.next) : null },
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
			summary: "Save a query",
			description: `The query is parsed and checked first: a broken one answers 400 with the OQL error (\`oql_syntax_error\` with \`position\`, \`oql_invalid_query\`, \`oql_range_too_large\`). The caller becomes its owner. ${limitNote("savedQueries")}`,
			middleware: [write, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
			responses: {
				201: { description: "Saved", content: { "application/json": { schema: SavedQuerySchema } } },
				...oqlCheckResponses,
				...errorResponses(401, 403, 409, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			checkOql(deps, sessionActor(c).orgId, body.query, "query");
			const row = await createSavedQuery(
				deps.db,
				deps.clock,
				sessionActor(c),
				{
					name: body.name,
					description: body.description ?? null,
					query: body.query,
					visibility: body.visibility,
				},
				orgLimit(deps.config.orgLimits, "savedQueries"),
			);
			return c.json(toJson(row), 201);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{id}",
			tags,
			security,
			summary: "Get a saved query",
			description: invisible,
			middleware: [read] as const,
			request: { params: IdParams },
			responses: {
				200: {
					description: "The saved query",
					content: { "application/json": { schema: SavedQuerySchema } },
				},
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const row = await getSavedQuery(deps.db, sessionActor(c), c.req.valid("param").id);
			if (!row) throw savedQueryNotFound();
			return c.json(toJson(row), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "put",
			path: "/{id}",
			tags,
			security,
			summary: "Replace a saved query",
			description: `Any member edits a shared query; a private one only its owner. Only the owner changes \`visibility\` (403 \`not_owner\`); a query that dashboard panels use cannot become private (409 \`conflict\`). ${invisible}`,
			middleware: [write, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: ReplaceBody } } },
			},
			responses: {
				200: {
					description: "The replaced query",
					content: { "application/json": { schema: SavedQuerySchema } },
				},
				...oqlCheckResponses,
				...errorResponses(401, 403, 404, 409, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			checkOql(deps, sessionActor(c).orgId, body.query, "query");
			const row = await replaceSavedQuery(deps.db, deps.clock, sessionActor(c), c.req.valid("param").id, {
				name: body.name,
				description: body.description ?? null,
				query: body.query,
				visibility: body.visibility,
			});
			if (!row) throw savedQueryNotFound();
			return c.json(toJson(row), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}",
			tags,
			security,
			summary: "Delete a saved query",
			description: `Refused with 409 \`conflict\` while a dashboard panel uses it (\`details\` lists the dashboards). ${invisible}`,
			middleware: [write] as const,
			request: { params: IdParams },
			responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 409) },
		}),
		async (c) => {
			if (!(await deleteSavedQuery(deps.db, sessionActor(c), c.req.valid("param").id))) {
				throw savedQueryNotFound();
			}
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/{id}/run",
			tags,
			security,
			summary: "Run a saved query",
			description: `Answers as \`POST /api/v1/dsl\` does. Reading, so viewers may run it. ${invisible}`,
			middleware: [read, optionalJsonBody] as const,
			request: {
				params: IdParams,
				body: {
					required: false,
					description:
						"Optional: no body, or an empty one (even with a JSON Content-Type), is the same as `{}`.",
					content: { "application/json": { schema: RunBody } },
				},
			},
			responses: {
				200: { description: "The result", content: { "application/json": { schema: OqlResultSchema } } },
				...dslOqlErrorResponses,
				...oqlCheckResponses,
				...errorResponses(401, 403, 404, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const row = await getSavedQuery(deps.db, actor, c.req.valid("param").id);
			if (!row) throw savedQueryNotFound();
			const body = c.req.valid("json") ?? {};
			const result = await runQuery(deps, actor.orgId, row.query, {
				...(body.from !== undefined && { from: body.from }),
				...(body.to !== undefined && { to: body.to }),
				...(body.variables !== undefined && { variables: body.variables }),
			});
			return c.json(result, 200);
		},
	);

	return app;
}
