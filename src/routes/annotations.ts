import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";
import { apiKeyOrSession, requireAccess } from "../auth/credentials.js";
import type { AnnotationRow } from "../db/schema.js";
import { ApiError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { jsonBody } from "../http/json-body.js";
import { nameRuleMessage, TAG_RULE, tagSchema } from "../http/name-rules.js";
import {
	apiKeyOrBearerSecurity,
	errorResponses,
	idParams,
	pageQueryShape,
	validationHook,
} from "../http/openapi.js";
import { instantSchema, queryInstantSchema, toRfc3339 } from "../http/time.js";
import {
	type AnnotationFields,
	createAnnotation,
	deleteAnnotation,
	getAnnotation,
	listAnnotations,
	replaceAnnotation,
} from "../services/annotations.js";

const label = (max: number) => z.string().min(1).max(max).nullable().optional();

const fieldsShape = {
	title: z
		.string()
		.min(1)
		.max(200)
		.refine((v) => v.trim().length > 0, "title must not be blank"),
	text: z.string().max(10_000).nullable().optional(),
	tags: z.array(tagSchema).max(20).optional(),
	time: instantSchema.optional(),
	time_end: instantSchema.nullable().optional(),
	service: label(200).openapi({ example: "checkout" }),
	environment: label(200).openapi({ example: "production" }),
	version: label(200).openapi({ example: "v2.14.1" }),
	url: z
		.url({ protocol: /^https?$/ })
		.max(2048)
		.nullable()
		.optional(),
};

function endNotBeforeStart(body: { time?: number | undefined; time_end?: number | null | undefined }) {
	return (
		body.time_end === undefined ||
		body.time_end === null ||
		body.time === undefined ||
		body.time_end >= body.time
	);
}
const endMessage = { message: "time_end must not be before time", path: ["time_end"] };

const CreateBody = z
	.strictObject({ ...fieldsShape, external_id: z.string().min(1).max(128).nullable().optional() })
	.refine(endNotBeforeStart, endMessage)
	.openapi("AnnotationCreate", {
		example: {
			title: "Deploy checkout v2.14.1",
			tags: ["deploy", "team:payments"],
			service: "checkout",
			environment: "production",
			version: "v2.14.1",
			external_id: "github-run-981273",
		},
	});

const ReplaceBody = z
	.strictObject({ ...fieldsShape, time: instantSchema })
	.refine(endNotBeforeStart, endMessage)
	.openapi("AnnotationReplace");

const AnnotationSchema = z
	.object({
		id: z.string().openapi({ example: "ann_3xQp9LrT0aVb6nKd2sWf" }),
		title: z.string(),
		text: z.string().nullable(),
		tags: z.array(z.string()),
		time: z.string().openapi({ example: "2026-11-28T06:30:00.000Z" }),
		time_end: z.string().nullable(),
		service: z.string().nullable(),
		environment: z.string().nullable(),
		version: z.string().nullable(),
		url: z.string().nullable(),
		external_id: z.string().nullable(),
		created_at: z.string(),
		updated_at: z.string(),
		created_by: z.object({
			type: z.enum(["api_key", "user"]),
			id: z.string(),
			name: z.string().nullable(),
		}),
	})
	.openapi("Annotation");

const IdParams = idParams();

const ListQuery = z.strictObject({
	from: queryInstantSchema.optional(),
	to: queryInstantSchema.optional(),
	tags: z
		.string()
		.max(20 * 65)
		.optional()
		.openapi({ description: "Comma-separated tags", example: "deploy,team:payments" }),
	match: z
		.enum(["all", "any"])
		.default("all")
		.openapi({ description: "Whether every tag or any tag must match" }),
	service: z.string().min(1).max(200).optional(),
	environment: z.string().min(1).max(200).optional(),
	...pageQueryShape,
});

const ListResponse = z
	.object({ data: z.array(AnnotationSchema), next_cursor: z.string().nullable() })
	.openapi("AnnotationList");

export function toAnnotationJson(row: AnnotationRow): z.infer<typeof AnnotationSchema> {
	return {
		id: row.id,
		title: row.title,
		text: row.text,
		tags: JSON.parse(row.tags) as string[],
		time: toRfc3339(row.time),
		time_end: row.timeEnd === null ? null : toRfc3339(row.timeEnd),
		service: row.service,
		environment: row.environment,
		version: row.version,
		url: row.url,
		external_id: row.externalId,
		created_at: toRfc3339(row.createdAt),
		updated_at: toRfc3339(row.updatedAt),
		created_by: { type: row.createdByType, id: row.createdById, name: row.createdByName },
	};
}

type FieldsInput = z.infer<typeof CreateBody> | z.infer<typeof ReplaceBody>;

function fieldsFrom(body: FieldsInput, now: number): AnnotationFields {
	const time = body.time ?? now;
	if (body.time_end != null && body.time_end < time) {
		throw new ApiError(400, "invalid_request", "The request is invalid.", {
			details: [{ path: "time_end", message: "time_end must not be before time" }],
		});
	}
	return {
		title: body.title,
		text: body.text ?? null,
		tags: [...new Set(body.tags ?? [])],
		time,
		timeEnd: body.time_end ?? null,
		service: body.service ?? null,
		environment: body.environment ?? null,
		version: body.version ?? null,
		url: body.url ?? null,
	};
}

function parseTags(raw: string | undefined): string[] | undefined {
	if (raw === undefined || raw === "") return undefined;
	const tags = raw.split(",").map((t) => t.trim());
	const details = tags
		.filter((tag) => !TAG_RULE.pattern.test(tag))
		.map((tag) => ({
			path: "tags",
			message: `invalid tag ${JSON.stringify(tag.slice(0, 70))}: ${nameRuleMessage("a tag", TAG_RULE, tag)}`,
		}));
	if (tags.length > 20) details.push({ path: "tags", message: "at most 20 tags" });
	if (details.length > 0) throw new ApiError(400, "invalid_request", "The request is invalid.", { details });
	return tags;
}

const notFound = () => new ApiError(404, "not_found", "No annotation with that id.");

export function annotationRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = requireAccess(deps, apiKeyOrSession("viewer"));
	const write = requireAccess(deps, apiKeyOrSession("member"));
	const tags = ["Annotations"];

	const list = createRoute({
		method: "get",
		path: "/",
		tags,
		summary: "List annotations, newest first",
		description:
			"Filters by the annotation's `time` (`from` ≤ time ≤ `to`), tags (`match=all` by default, or `any`), service and environment. Pages with `next_cursor`.",
		security: apiKeyOrBearerSecurity,
		middleware: [read] as const,
		request: { query: ListQuery },
		responses: {
			200: {
				description: "A page of annotations",
				content: { "application/json": { schema: ListResponse } },
			},
			...errorResponses(400, 401, 403),
		},
	});
	app.openapi(list, async (c) => {
		const query = c.req.valid("query");
		const page = await listAnnotations(deps.db, c.var.principal.orgId, {
			from: query.from,
			to: query.to,
			tags: parseTags(query.tags),
			match: query.match,
			service: query.service,
			environment: query.environment,
			limit: query.limit,
			after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
		});
		return c.json(
			{ data: page.rows.map(toAnnotationJson), next_cursor: page.next ? encodeCursor(page.next) : null },
			200,
		);
	});

	const create = createRoute({
		method: "post",
		path: "/",
		tags,
		summary: "Create an annotation (a deploy marker or other event)",
		description:
			"Idempotent by `external_id`: posting the same `external_id` again returns the existing annotation with 200.",
		security: apiKeyOrBearerSecurity,
		middleware: [write, jsonBody] as const,
		request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
		responses: {
			201: { description: "Created", content: { "application/json": { schema: AnnotationSchema } } },
			200: {
				description: "An annotation with this `external_id` already exists",
				content: { "application/json": { schema: AnnotationSchema } },
			},
			...errorResponses(400, 401, 403, 413, 415),
		},
	});
	app.openapi(create, async (c) => {
		const body = c.req.valid("json");
		const fields = fieldsFrom(body, deps.clock.now());
		const result = await createAnnotation(
			deps.db,
			deps.clock,
			c.var.principal,
			fields,
			body.external_id ?? null,
		);
		return c.json(toAnnotationJson(result.row), result.created ? 201 : 200);
	});

	const get = createRoute({
		method: "get",
		path: "/{id}",
		tags,
		summary: "Get one annotation",
		security: apiKeyOrBearerSecurity,
		middleware: [read] as const,
		request: { params: IdParams },
		responses: {
			200: { description: "The annotation", content: { "application/json": { schema: AnnotationSchema } } },
			...errorResponses(401, 403, 404),
		},
	});
	app.openapi(get, async (c) => {
		const row = await getAnnotation(deps.db, c.var.principal.orgId, c.req.valid("param").id);
		if (!row) throw notFound();
		return c.json(toAnnotationJson(row), 200);
	});

	const replace = createRoute({
		method: "put",
		path: "/{id}",
		tags,
		summary: "Replace an annotation's mutable fields",
		description:
			"Takes the same fields as create except `external_id`; `time` is required. Fields left out become null.",
		security: apiKeyOrBearerSecurity,
		middleware: [write, jsonBody] as const,
		request: {
			params: IdParams,
			body: { required: true, content: { "application/json": { schema: ReplaceBody } } },
		},
		responses: {
			200: {
				description: "The replaced annotation",
				content: { "application/json": { schema: AnnotationSchema } },
			},
			...errorResponses(400, 401, 403, 404, 413, 415),
		},
	});
	app.openapi(replace, async (c) => {
		const fields = fieldsFrom(c.req.valid("json"), deps.clock.now());
		const row = await replaceAnnotation(
			deps.db,
			deps.clock,
			c.var.principal.orgId,
			c.req.valid("param").id,
			fields,
		);
		if (!row) throw notFound();
		return c.json(toAnnotationJson(row), 200);
	});

	const remove = createRoute({
		method: "delete",
		path: "/{id}",
		tags,
		summary: "Delete an annotation",
		security: apiKeyOrBearerSecurity,
		middleware: [write] as const,
		request: { params: IdParams },
		responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
	});
	app.openapi(remove, async (c) => {
		if (!(await deleteAnnotation(deps.db, c.var.principal.orgId, c.req.valid("param").id))) throw notFound();
		return c.body(null, 204);
	});

	return app;
}
