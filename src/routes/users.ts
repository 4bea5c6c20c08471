import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull, ne, type SQL, sql } from "drizzle-orm";
import type { AppDeps, AppEnv } from "../app-env.js";
import { ROLES } from "../auth/jwt.js";
import { type SessionActor, sessionAccess, sessionActor } from "../auth/session-access.js";
import {
	recoveryCodes,
	refreshFamilies,
	refreshTokens,
	teamMembers,
	type UserRow,
	users,
} from "../db/schema.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, idParams, validationHook } from "../http/openapi.js";
import { limitNote, orgLimit } from "../services/org-limits.js";
import { clearSecondFactorBackOff, revokeUserFamilies, toUserJson } from "../services/sessions.js";
import { createUser } from "../services/users.js";
import { Password, UserSchema, withPasswordStepUp } from "./auth.js";

const Email = z
	.string()
	.trim()
	.toLowerCase()
	.max(254)
	.pipe(z.email())
	.openapi({ example: "grace@example.com" });
const Name = z.string().trim().min(1).max(200).openapi({ example: "Grace Hopper" });
const RoleSchema = z.enum(ROLES).openapi({ example: "member" });

const InviteBody = z
	.strictObject({ email: Email, name: Name, role: RoleSchema })
	.openapi("UserInvite", { example: { email: "grace@example.com", name: "Grace Hopper", role: "member" } });

const PatchBody = z
	.strictObject({
		name: Name.optional(),
		role: RoleSchema.optional(),
		disabled: z.boolean().optional().openapi({
			description: "true disables the user (every session ends); false enables them again",
		}),
	})
	.refine((b) => b.name !== undefined || b.role !== undefined || b.disabled !== undefined, {
		message: "Send at least one of name, role, disabled",
	})
	.openapi("UserUpdate", { example: { role: "admin" } });

const InvitedUserSchema = UserSchema.extend({
	initial_password: z.string().openapi({
		description:
			"A one-time password, shown in this answer only. The user must change it before using anything but /api/v1/me.",
		example: "q7Rk2VnX9pLm4ZtB8cW1sYd3",
	}),
}).openapi("InvitedUser");

const IdParams = idParams("usr_4kTn8QpZ2xLc7VbR0mWs");

const notFound = () => new ApiError(404, "not_found", "No user with that id.");
const ownersOnly = () =>
	new ApiError(403, "insufficient_role", "Only owners can grant the owner role or change an owner.");
const lastOwner = () =>
	new ApiError(
		409,
		"last_owner",
		"The organization's last active owner cannot be demoted, disabled or deleted.",
	);
const notYourself = (action: string) =>
	new ApiError(409, "conflict", `You cannot ${action} yourself; ask another admin.`);

/**
 * Disabling or deleting oneself is refused (409 `conflict`): it would end the session asking for it
 * and cannot be undone from it. The sole active owner gets the more fundamental answer, `last_owner`.
 */
async function refuseSelf(deps: AppDeps, actor: SessionActor, action: string): Promise<never> {
	if (actor.role === "owner") {
		const [other] = await deps.db
			.select({ id: users.id })
			.from(users)
			.where(
				and(
					eq(users.orgId, actor.orgId),
					eq(users.role, "owner"),
					isNull(users.disabledAt),
					ne(users.id, actor.userId),
				),
			)
			.limit(1);
		if (!other) throw lastOwner();
	}
	throw notYourself(action);
}

/**
 * `WHERE` terms that keep an update or delete from taking the org's last active owner away, and from
 * an admin touching an owner. They sit in the statement itself, so two concurrent requests (two
 * owners demoting each other) cannot both pass a check made before the write.
 */
function guards(actor: SessionActor, removesOwner: boolean): SQL[] {
	const terms: SQL[] = [];
	if (actor.role !== "owner") terms.push(ne(users.role, "owner"));
	if (removesOwner) {
		terms.push(
			sql`(${users.role} <> 'owner' OR ${users.disabledAt} IS NOT NULL OR EXISTS (SELECT 1 FROM ${users} AS other WHERE other.org_id = ${actor.orgId} AND other.role = 'owner' AND other.disabled_at IS NULL AND other.id <> ${users.id}))`,
		);
	}
	return terms;
}

async function findUser(deps: AppDeps, orgId: string, id: string): Promise<UserRow | undefined> {
	const [row] = await deps.db
		.select()
		.from(users)
		.where(and(eq(users.id, id), eq(users.orgId, orgId)));
	return row;
}

/** Why a guarded write changed nothing: the user is gone, is an owner (for an admin), or is the last owner. */
async function explainNoChange(deps: AppDeps, actor: SessionActor, id: string): Promise<ApiError> {
	const row = await findUser(deps, actor.orgId, id);
	if (!row) return notFound();
	if (actor.role !== "owner" && row.role === "owner") return ownersOnly();
	return lastOwner();
}

/** Users of the org (contract §6): everyone reads; admins invite, change and remove; owners manage owners. */
export function userRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const admin = sessionAccess(deps, "admin");
	const tags = ["Users"];
	const security = [{ Bearer: [] }];

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List the organization's users (disabled ones included)",
			middleware: [read] as const,
			responses: {
				200: {
					description: "The users, oldest first",
					content: { "application/json": { schema: z.object({ data: z.array(UserSchema) }) } },
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const rows = await deps.db
				.select()
				.from(users)
				.where(eq(users.orgId, sessionActor(c).orgId))
				.orderBy(asc(users.createdAt), asc(users.id));
			return c.json({ data: rows.map(toUserJson) }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/",
			tags,
			security,
			summary: "Invite a user: creates the account with a one-time initial password",
			description: `The answer holds \`initial_password\`, shown this once; hand it to the user over a trusted channel. Until they change it (\`POST /api/v1/me/password\`), their tokens reach only \`/api/v1/me\` (others answer 403 \`password_change_required\`). Only owners may invite an owner. Accounts are per organization: an address that has an account in another organization gets a new, independent account here (its own password, role and 2FA; the other account is untouched), answered exactly as for a fresh address — the user signs in to it with the login's \`org\`. An address that already has an account in this organization answers 409 \`conflict\`. ${limitNote("users")}`,
			middleware: [admin, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: InviteBody } } } },
			responses: {
				201: {
					description: "Created; `initial_password` is shown this once",
					content: { "application/json": { schema: InvitedUserSchema } },
				},
				...errorResponses(400, 401, 403, 409, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const body = c.req.valid("json");
			if (body.role === "owner" && actor.role !== "owner") throw ownersOnly();
			const created = await createUser(
				deps.db,
				deps.clock,
				{
					orgId: actor.orgId,
					email: body.email,
					name: body.name,
					role: body.role,
				},
				deps.config.auth.passwordHashing,
				orgLimit(deps.config.orgLimits, "users"),
			);
			if (!created)
				throw new ApiError(409, "conflict", "A user with this email already exists in this organization.");
			c.header("Cache-Control", "no-store");
			return c.json(
				{ ...toUserJson(created.user), initial_password: created.initialPassword as string },
				201,
			);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/{id}",
			tags,
			security,
			summary: "Change a user's name or role, or disable / enable them",
			description:
				"Only owners grant or remove `owner`, and only owners change an owner's account (else 403 `insufficient_role`). The last active owner cannot be demoted or disabled (409 `last_owner`). Disabling ends every session of the user at once; you cannot disable yourself (409 `conflict`).",
			middleware: [admin, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: PatchBody } } },
			},
			responses: {
				200: { description: "The updated user", content: { "application/json": { schema: UserSchema } } },
				...errorResponses(400, 401, 403, 404, 409, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const { id } = c.req.valid("param");
			const body = c.req.valid("json");
			if (body.role === "owner" && actor.role !== "owner") throw ownersOnly();
			if (body.disabled === true && id === actor.userId) await refuseSelf(deps, actor, "disable");
			const now = deps.clock.now();
			const removesOwner = (body.role !== undefined && body.role !== "owner") || body.disabled === true;
			const [updated] = await deps.db
				.update(users)
				.set({
					...(body.name !== undefined && { name: body.name }),
					...(body.role !== undefined && { role: body.role }),
					...(body.disabled === true && { disabledAt: sql`coalesce(${users.disabledAt}, ${now})` }),
					...(body.disabled === false && { disabledAt: null }),
					updatedAt: now,
				})
				.where(and(eq(users.id, id), eq(users.orgId, actor.orgId), ...guards(actor, removesOwner)))
				.returning();
			if (!updated) throw await explainNoChange(deps, actor, id);
			if (body.disabled === true) await revokeUserFamilies(deps.db, id, now, "disabled");
			return c.json(toUserJson(updated), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/{id}/totp/reset",
			tags,
			security,
			summary: "Turn another user's two-factor authentication off (a lost authenticator and recovery codes)",
			description:
				"For a user who lost both their authenticator and their recovery codes (else they sign in with a recovery code): their TOTP secret and recovery codes are deleted and every session of theirs ends; they sign in with their password alone and can turn 2FA on again. Needs your own `password` (behind your account's login back-off; 401 `invalid_credentials` when wrong, 429 `too_many_attempts`): a stolen access token alone cannot take a user's second factor away. Only owners reset an owner's (403 `insufficient_role`); your own is turned off with a code, `POST /api/v1/auth/totp/disable` (409 `conflict`); 409 `totp_not_enabled` when it is off.",
			middleware: [admin, jsonBody] as const,
			request: {
				params: IdParams,
				body: {
					required: true,
					content: { "application/json": { schema: z.strictObject({ password: Password }) } },
				},
			},
			responses: {
				204: { description: "Turned off; the user's sessions ended" },
				...errorResponses(400, 401, 403, 404, 409, 413, 415),
				429: { description: "Too many failed attempts (`too_many_attempts`, with `Retry-After`)" },
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const { id } = c.req.valid("param");
			if (id === actor.userId) {
				throw new ApiError(
					409,
					"conflict",
					"Your own two-factor authentication is turned off with a code: POST /api/v1/auth/totp/disable.",
				);
			}
			const target = await findUser(deps, actor.orgId, id);
			if (!target) throw notFound();
			if (target.role === "owner" && actor.role !== "owner") throw ownersOnly();
			if (target.totpEnabledAt === null)
				throw new ApiError(409, "totp_not_enabled", "Two-factor authentication is off for this user.");
			const me = await findUser(deps, actor.orgId, actor.userId);
			if (!me) throw notFound();
			await withPasswordStepUp(deps, me, c.req.valid("json").password);
			const now = deps.clock.now();
			// One transaction: the guarded update, then the codes, only if it matched (2FA is off now).
			const [[reset]] = await deps.db.batch([
				deps.db
					.update(users)
					.set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null, updatedAt: now })
					.where(and(eq(users.id, id), eq(users.orgId, actor.orgId), ...guards(actor, false)))
					.returning({ id: users.id }),
				deps.db
					.delete(recoveryCodes)
					.where(
						and(
							eq(recoveryCodes.userId, id),
							sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${id} AND ${users.totpSecret} IS NULL)`,
						),
					),
			]);
			if (!reset) throw await explainNoChange(deps, actor, id);
			await revokeUserFamilies(deps.db, id, now, "totp_reset");
			await clearSecondFactorBackOff(deps.db, id);
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}",
			tags,
			security,
			summary: "Delete a user",
			description:
				"Removes the account, its sessions and team memberships. Annotations keep the author's name. The last active owner cannot be deleted (409 `last_owner`); only owners delete owners; you cannot delete yourself (409 `conflict`).",
			middleware: [admin] as const,
			request: { params: IdParams },
			responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 409) },
		}),
		async (c) => {
			const actor = sessionActor(c);
			const { id } = c.req.valid("param");
			if (id === actor.userId) await refuseSelf(deps, actor, "delete");
			const gone = sql`NOT EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${id})`;
			// One transaction: the guarded delete, then what hangs off the user (also when foreign keys
			// are not enforced by a remote database); those deletes only act once the user is gone.
			const [deleted] = await deps.db.batch([
				deps.db
					.delete(users)
					.where(and(eq(users.id, id), eq(users.orgId, actor.orgId), ...guards(actor, true)))
					.returning({ id: users.id }),
				deps.db
					.delete(refreshTokens)
					.where(
						and(
							sql`${refreshTokens.familyId} IN (SELECT ${refreshFamilies.id} FROM ${refreshFamilies} WHERE ${refreshFamilies.userId} = ${id})`,
							gone,
						),
					),
				deps.db.delete(refreshFamilies).where(and(eq(refreshFamilies.userId, id), gone)),
				deps.db.delete(recoveryCodes).where(and(eq(recoveryCodes.userId, id), gone)),
				deps.db.delete(teamMembers).where(and(eq(teamMembers.userId, id), gone)),
			]);
			if (deleted.length !== 1) throw await explainNoChange(deps, actor, id);
			return c.body(null, 204);
		},
	);

	return app;
}
