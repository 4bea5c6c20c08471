import type { Context, MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv, Principal } from "../app-env.js";
import { ApiError, WWW_AUTHENTICATE_API_KEY, WWW_AUTHENTICATE_BEARER } from "../errors.js";
import { API_KEY_PREFIX, hashApiKey, isWellFormedApiKey } from "./api-key.js";
import { ROLES, type Role } from "./jwt.js";
import type { Defer } from "./key-resolver.js";

/** What a route accepts: API keys, sessions of at least a role, or both. */
export interface AccessPolicy {
	apiKey: boolean;
	session: Role | false;
	/** Routes an invited user may reach before changing the one-time password (me, password). */
	allowPasswordChangeRequired?: boolean;
}

export const apiKeyOnly: AccessPolicy = { apiKey: true, session: false };
export const sessionOnly = (minRole: Role): AccessPolicy => ({ apiKey: false, session: minRole });
export const apiKeyOrSession = (minRole: Role): AccessPolicy => ({ apiKey: true, session: minRole });

/** A JWT in compact form: three base64url parts, the first being a JSON header (`{"` → `eyJ`). */
const COMPACT_JWT = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

const keySlotError = (message: string) =>
	new ApiError(401, "invalid_api_key", message, {
		headers: { "WWW-Authenticate": WWW_AUTHENTICATE_API_KEY },
	});

/** Runs background work after the response where the runtime supports it (Workers), else detached. */
export function deferFor(c: Context): Defer {
	return (work) => {
		try {
			c.executionCtx.waitUntil(work);
		} catch {
			// Node has no execution context: the promise runs on and handles its own errors.
		}
	};
}

/**
 * Classifies the credential per contract §1 — every row of its table, in order — then applies the
 * route's policy. Malformed keys are rejected before any cache or database read.
 */
export async function authenticate(c: Context, deps: AppDeps): Promise<Principal> {
	const apiKey = c.req.header("X-API-Key");
	const authorization = c.req.header("Authorization");
	if (apiKey !== undefined && authorization !== undefined) {
		throw new ApiError(400, "ambiguous_credentials", "Send either X-API-Key or Authorization, not both.");
	}
	if (authorization !== undefined) {
		const match = /^(\S+)(?: +(.*))?$/.exec(authorization.trim());
		if (match?.[1]?.toLowerCase() !== "bearer") {
			throw new ApiError(401, "unsupported_authorization_scheme", "Only the Bearer scheme is supported.", {
				headers: { "WWW-Authenticate": WWW_AUTHENTICATE_BEARER },
			});
		}
		const token = (match[2] ?? "").trim();
		if (token.startsWith(API_KEY_PREFIX)) {
			throw new ApiError(
				401,
				"api_key_in_bearer_slot",
				"API keys go in the X-API-Key header, not Authorization.",
				{
					headers: { "WWW-Authenticate": WWW_AUTHENTICATE_BEARER },
				},
			);
		}
		const claims = await deps.verifyJwt(token);
		return {
			kind: "user",
			orgId: claims.orgId,
			userId: claims.userId,
			role: claims.role,
			passwordChangeRequired: claims.passwordChangeRequired,
		};
	}
	if (apiKey !== undefined) {
		const key = apiKey.trim();
		if (COMPACT_JWT.test(key)) {
			throw new ApiError(
				401,
				"jwt_in_api_key_slot",
				"Access tokens go in Authorization: Bearer, not X-API-Key.",
				{
					headers: { "WWW-Authenticate": WWW_AUTHENTICATE_API_KEY },
				},
			);
		}
		if (!isWellFormedApiKey(key)) throw keySlotError("The API key is malformed.");
		const resolved = await deps.keyResolver.resolve(hashApiKey(key), deferFor(c));
		if (!resolved) throw keySlotError("The API key is not valid.");
		return { kind: "api_key", orgId: resolved.orgId, keyId: resolved.keyId, name: resolved.name };
	}
	throw new ApiError(401, "missing_credentials", "This route needs an X-API-Key header or a Bearer token.", {
		headers: { "WWW-Authenticate": WWW_AUTHENTICATE_API_KEY },
	});
}

export function authorize(principal: Principal, policy: AccessPolicy): void {
	if (principal.kind === "api_key") {
		if (!policy.apiKey) {
			throw new ApiError(403, "session_required", "This route needs a user session (Authorization: Bearer).");
		}
		return;
	}
	if (policy.session === false) {
		throw new ApiError(403, "api_key_required", "This route needs an API key (X-API-Key).");
	}
	if (principal.passwordChangeRequired && !policy.allowPasswordChangeRequired) {
		throw new ApiError(
			403,
			"password_change_required",
			"Change the initial password first: POST /api/v1/me/password.",
		);
	}
	if (ROLES.indexOf(principal.role) < ROLES.indexOf(policy.session)) {
		throw new ApiError(403, "insufficient_role", `This action needs the ${policy.session} role or higher.`);
	}
}

/** The guard each protected route declares. */
export function requireAccess(deps: AppDeps, policy: AccessPolicy): MiddlewareHandler<AppEnv> {
	return async function credentialGuard(c, next) {
		const principal = await authenticate(c, deps);
		authorize(principal, policy);
		if (c.req.query("org_id") !== undefined) {
			// Contract §1 tenancy: the credential decides the org; a client-chosen one is refused outright.
			throw new ApiError(
				400,
				"invalid_request",
				"org_id cannot be set: the credential decides the organization.",
			);
		}
		c.set("principal", principal);
		await next();
	};
}
