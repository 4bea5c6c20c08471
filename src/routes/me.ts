import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { AppDeps, AppEnv, Principal } from "../app-env.js";
import { requireAccess, sessionOnly } from "../auth/credentials.js";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "../auth/password.js";
import { type UserRow, users } from "../db/schema.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, validationHook } from "../http/openapi.js";
import {
	clearSecondFactorBackOff,
	revokeUserFamilies,
	toUserJson,
	unauthorized,
} from "../services/sessions.js";
import { startSession, UserSchema, weakPassword, withAccountBackOff } from "./auth.js";

function sessionUser(principal: Principal): { userId: string; orgId: string } {
	if (principal.kind !== "user")
		throw new ApiError(403, "session_required", "This route needs a user session.");
	return principal;
}

async function loadUser(deps: AppDeps, principal: Principal): Promise<UserRow> {
	const { userId, orgId } = sessionUser(principal);
	const [user] = await deps.db
		.select()
		.from(users)
		.where(and(eq(users.id, userId), eq(users.orgId, orgId)));
	if (!user || user.disabledAt !== null) {
		throw unauthorized("invalid_token", "The session's user no longer exists or is disabled.");
	}
	return user;
}

/** The signed-in user's own profile and password. */
export function meRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	// Reachable while an initial password still has to be changed: that is how it gets changed.
	const self = requireAccess(deps, { ...sessionOnly("viewer"), allowPasswordChangeRequired: true });
	const tags = ["Me"];
	const security = [{ Bearer: [] }];

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "The signed-in user",
			middleware: [self] as const,
			responses: {
				200: { description: "The user", content: { "application/json": { schema: UserSchema } } },
				...errorResponses(401, 403),
			},
		}),
		async (c) => c.json(toUserJson(await loadUser(deps, c.var.principal)), 200),
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/",
			tags,
			security,
			summary: "Change the signed-in user's name",
			middleware: [self, jsonBody] as const,
			request: {
				body: {
					required: true,
					content: {
						"application/json": { schema: z.strictObject({ name: z.string().trim().min(1).max(200) }) },
					},
				},
			},
			responses: {
				200: { description: "The updated user", content: { "application/json": { schema: UserSchema } } },
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const user = await loadUser(deps, c.var.principal);
			const [updated] = await deps.db
				.update(users)
				.set({ name: c.req.valid("json").name, updatedAt: deps.clock.now() })
				.where(eq(users.id, user.id))
				.returning();
			return c.json(toUserJson(updated as UserRow), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/password",
			tags,
			security,
			summary: "Change the signed-in user's password",
			description:
				"Ends every session of the user (all refresh tokens are revoked) and starts a new one for this client: the answer is a fresh access token and refresh cookie.",
			middleware: [self, jsonBody] as const,
			request: {
				body: {
					required: true,
					content: {
						"application/json": {
							schema: z.strictObject({
								current_password: z.string().min(1).max(4096),
								new_password: z.string().min(1).max(4096),
							}),
						},
					},
				},
			},
			responses: {
				200: {
					description: "Changed; a new session",
					content: {
						"application/json": {
							schema: z.object({
								access_token: z.string(),
								token_type: z.literal("Bearer"),
								expires_in: z.number(),
								user: UserSchema,
							}),
						},
					},
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const user = await loadUser(deps, c.var.principal);
			const body = c.req.valid("json");
			await withAccountBackOff(deps, user.email, async () => {
				if (
					!user.passwordHash ||
					!(await verifyPassword(body.current_password, user.passwordHash, deps.config.auth.passwordHashing))
						.ok
				) {
					throw unauthorized("invalid_credentials", "The current password is incorrect.");
				}
			});
			const problem = checkPasswordPolicy(body.new_password);
			if (problem) throw weakPassword(problem);
			const now = deps.clock.now();
			const [updated] = await deps.db
				.update(users)
				.set({
					passwordHash: await hashPassword(body.new_password, deps.config.auth.passwordHashing),
					mustChangePassword: false,
					passwordChangedAt: now,
					updatedAt: now,
				})
				.where(eq(users.id, user.id))
				.returning();
			await revokeUserFamilies(deps.db, user.id, now, "password_change");
			await clearSecondFactorBackOff(deps.db, user.id);
			return c.json(await startSession(c, deps, updated as UserRow), 200);
		},
	);
	return app;
}
