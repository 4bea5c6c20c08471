import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";
import { deferFor } from "../auth/credentials.js";
import { sessionAccess, sessionActor } from "../auth/session-access.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, idParams, validationHook } from "../http/openapi.js";
import { instantSchema, toRfc3339 } from "../http/time.js";
import {
	type ApiKeySummary,
	apiKeyStatus,
	createApiKey,
	listApiKeys,
	renameApiKey,
	revokeApiKey,
} from "../services/api-keys.js";
import { limitNote, orgLimit } from "../services/org-limits.js";

const Name = z.string().trim().min(1).max(200).openapi({ example: "github-actions deploy" });

export const ApiKeySchema = z
	.object({
		id: z.string().openapi({ example: "key_7Hq2LmX9cVb4NpR1sTz0" }),
		name: z.string(),
		start: z.string().openapi({ description: "The key's first 8 characters", example: "hxk_3fA9" }),
		created_at: z.string().openapi({ example: "2026-11-28T12:00:00.000Z" }),
		created_by: z.string().openapi({ description: "The creating user's id, or `cli`", example: "usr_…" }),
		last_used_at: z.string().nullable().openapi({ description: "Updated at most once a minute" }),
		expires_at: z.string().nullable(),
		revoked_at: z.string().nullable(),
		status: z.enum(["active", "revoked", "expired"]),
	})
	.openapi("ApiKey");

const CreatedApiKeySchema = ApiKeySchema.extend({
	key: z.string().openapi({
		description: "The key itself: shown in this answer only, never again",
		example: "hxk_3fA9kQ2mZ7xL0pV5nB8cR1tY6wE4uI9oS0aD2f",
	}),
}).openapi("CreatedApiKey");

const CreateBody = z
	.strictObject({
		name: Name,
		expires_at: instantSchema.nullable().optional().openapi({
			description: "When the key stops working (RFC 3339 or epoch ms, in the future); none by default",
			example: "2027-06-01T00:00:00.000Z",
		}),
	})
	.openapi("ApiKeyCreate", {
		example: { name: "github-actions deploy", expires_at: "2027-06-01T00:00:00Z" },
	});

const RenameBody = z.strictObject({ name: Name }).openapi("ApiKeyRename");

const IdParams = idParams("key_7Hq2LmX9cVb4NpR1sTz0");

export function toApiKeyJson(key: ApiKeySummary, now: number): z.infer<typeof ApiKeySchema> {
	return {
		id: key.id,
		name: key.name,
		start: key.start,
		created_at: toRfc3339(key.createdAt),
		created_by: key.createdBy,
		last_used_at: key.lastUsedAt === null ? null : toRfc3339(key.lastUsedAt),
		expires_at: key.expiresAt === null ? null : toRfc3339(key.expiresAt),
		revoked_at: key.revokedAt === null ? null : toRfc3339(key.revokedAt),
		status: apiKeyStatus(key, now),
	};
}

const notFound = () => new ApiError(404, "not_found", "No API key with that id.");

/** API-key management (contract §6): admin+ with a session; the key is shown once, at creation. */
export function apiKeyRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const admin = sessionAccess(deps, "admin");
	const tags = ["API keys"];
	const security = [{ Bearer: [] }];

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List the organization's API keys (newest first; never the key itself)",
			middleware: [admin] as const,
			responses: {
				200: {
					description: "Every key of the organization, revoked and expired ones included",
					content: { "application/json": { schema: z.object({ data: z.array(ApiKeySchema) }) } },
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const now = deps.clock.now();
			const keys = await listApiKeys(deps.db, sessionActor(c).orgId);
			return c.json({ data: keys.map((key) => toApiKeyJson(key, now)) }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/",
			tags,
			security,
			summary: "Create an API key (the key is in this answer only)",
			description: `The answer holds \`key\` — store it now: only its SHA-256 is kept, and no later call shows it again. ${limitNote("apiKeys")}`,
			middleware: [admin, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
			responses: {
				201: {
					description: "Created; `key` is shown this once",
					content: { "application/json": { schema: CreatedApiKeySchema } },
				},
				...errorResponses(400, 401, 403, 409, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const body = c.req.valid("json");
			const now = deps.clock.now();
			if (body.expires_at != null && body.expires_at <= now) {
				throw new ApiError(400, "invalid_request", "The request is invalid.", {
					details: [{ path: "expires_at", message: "expires_at must be in the future" }],
				});
			}
			const created = await createApiKey(
				deps.db,
				deps.clock,
				{
					orgId: actor.orgId,
					name: body.name,
					createdBy: actor.userId,
					expiresAt: body.expires_at ?? null,
				},
				orgLimit(deps.config.orgLimits, "apiKeys"),
			);
			c.header("Cache-Control", "no-store");
			return c.json({ ...toApiKeyJson(created.summary, now), key: created.key }, 201);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/{id}",
			tags,
			security,
			summary: "Rename an API key",
			middleware: [admin, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: RenameBody } } },
			},
			responses: {
				200: { description: "The renamed key", content: { "application/json": { schema: ApiKeySchema } } },
				...errorResponses(400, 401, 403, 404, 413, 415),
			},
		}),
		async (c) => {
			const renamed = await renameApiKey(
				deps.db,
				sessionActor(c).orgId,
				c.req.valid("param").id,
				c.req.valid("json").name,
				deps.keyResolver,
				deferFor(c),
			);
			if (!renamed) throw notFound();
			return c.json(toApiKeyJson(renamed, deps.clock.now()), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}",
			tags,
			security,
			summary: "Revoke an API key",
			description:
				"Takes effect at once on the instance that answers (its memory cache and KV are cleared before the answer); other Node instances forget the key within 30 s. Revoking a revoked key answers 204 again.",
			middleware: [admin] as const,
			request: { params: IdParams },
			responses: { 204: { description: "Revoked" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			const found = await revokeApiKey(
				deps.db,
				deps.clock,
				deps.keyResolver,
				c.req.valid("param").id,
				sessionActor(c).orgId,
				deferFor(c),
			);
			if (!found) throw notFound();
			return c.body(null, 204);
		},
	);

	return app;
}
