import { and, eq } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "../app-env.js";
import { users } from "../db/schema.js";
import { ApiError, WWW_AUTHENTICATE_BEARER } from "../errors.js";
import { requireAccess, sessionOnly } from "./credentials.js";
import { ROLES, type Role } from "./jwt.js";

/** The signed-in user behind a management request, with the role the database holds now. */
export interface SessionActor {
	userId: string;
	orgId: string;
	role: Role;
}

export function roleAtLeast(role: Role, minRole: Role): boolean {
	return ROLES.indexOf(role) >= ROLES.indexOf(minRole);
}

/**
 * The guard of the management routes (api-keys, users, teams, org): a JWT session of at least
 * `minRole` (contract §1 and §6, via `requireAccess`), then one read of the caller's own row. Access
 * tokens are verified statelessly and live 15 minutes; management actions (new API keys, invitations,
 * role changes) outlive them, so here a disabled or deleted user is refused at once (401) and a
 * demoted one is held to the role the database holds now (403). The principal's `role` is replaced
 * by that current role, so handlers decide owner-only actions on it.
 */
export function sessionAccess(deps: AppDeps, minRole: Role): MiddlewareHandler<AppEnv> {
	const guard = requireAccess(deps, sessionOnly(minRole));
	return async function currentSessionGuard(c, next) {
		await guard(c, async () => {
			const principal = c.var.principal;
			if (principal.kind !== "user") {
				throw new ApiError(
					403,
					"session_required",
					"This route needs a user session (Authorization: Bearer).",
				);
			}
			const [row] = await deps.db
				.select({ role: users.role, disabledAt: users.disabledAt })
				.from(users)
				.where(and(eq(users.id, principal.userId), eq(users.orgId, principal.orgId)));
			if (!row || row.disabledAt !== null) {
				throw new ApiError(401, "invalid_token", "The session's user no longer exists or is disabled.", {
					headers: { "WWW-Authenticate": WWW_AUTHENTICATE_BEARER },
				});
			}
			if (!roleAtLeast(row.role, minRole)) {
				throw new ApiError(403, "insufficient_role", `This action needs the ${minRole} role or higher.`);
			}
			c.set("principal", { ...principal, role: row.role });
			await next();
		});
	};
}

/** The actor a `sessionAccess` guard admitted. */
export function sessionActor(c: Context<AppEnv>): SessionActor {
	const principal = c.var.principal;
	if (principal.kind !== "user") {
		throw new ApiError(403, "session_required", "This route needs a user session (Authorization: Bearer).");
	}
	return { userId: principal.userId, orgId: principal.orgId, role: principal.role };
}
