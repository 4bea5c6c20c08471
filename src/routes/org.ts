import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { AppDeps, AppEnv } from "../app-env.js";
import { sessionAccess, sessionActor } from "../auth/session-access.js";
import { orgs } from "../db/schema.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, validationHook } from "../http/openapi.js";
import { toRfc3339 } from "../http/time.js";

const OrgSchema = z
	.object({
		id: z.string().openapi({ example: "org_2mVx8KqL0pRt5ZcN7bWs" }),
		name: z.string().openapi({ example: "Acme" }),
		retention_days: z.number().int().openapi({ description: "How long telemetry is kept", example: 30 }),
		created_at: z.string(),
	})
	.openapi("Org");

const PatchBody = z
	.strictObject({
		name: z.string().trim().min(1).max(200).optional(),
		retention_days: z.number().int().min(1).max(3650).optional(),
	})
	.refine((b) => b.name !== undefined || b.retention_days !== undefined, {
		message: "Send at least one of name, retention_days",
	})
	.openapi("OrgUpdate", { example: { retention_days: 90 } });

type OrgRow = typeof orgs.$inferSelect;

function toOrgJson(org: OrgRow): z.infer<typeof OrgSchema> {
	return {
		id: org.id,
		name: org.name,
		retention_days: org.retentionDays,
		created_at: toRfc3339(org.createdAt),
	};
}

const notFound = () => new ApiError(404, "not_found", "The organization no longer exists.");

/** The caller's organization (contract §6): everyone reads; admins change its settings. */
export function orgRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const admin = sessionAccess(deps, "admin");
	const tags = ["Organization"];
	const security = [{ Bearer: [] }];

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "The signed-in user's organization",
			middleware: [read] as const,
			responses: {
				200: { description: "The organization", content: { "application/json": { schema: OrgSchema } } },
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const [org] = await deps.db
				.select()
				.from(orgs)
				.where(eq(orgs.id, sessionActor(c).orgId));
			if (!org) throw notFound();
			return c.json(toOrgJson(org), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/",
			tags,
			security,
			summary: "Rename the organization or change its retention",
			description: "`retention_days`: 1 to 3650.",
			middleware: [admin, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: PatchBody } } } },
			responses: {
				200: {
					description: "The updated organization",
					content: { "application/json": { schema: OrgSchema } },
				},
				...errorResponses(400, 401, 403, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const [org] = await deps.db
				.update(orgs)
				.set({
					...(body.name !== undefined && { name: body.name }),
					...(body.retention_days !== undefined && { retentionDays: body.retention_days }),
				})
				.where(eq(orgs.id, sessionActor(c).orgId))
				.returning();
			if (!org) throw notFound();
			return c.json(toOrgJson(org), 200);
		},
	);

	return app;
}
