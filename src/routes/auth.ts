import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppDeps, AppEnv } from "../app-env.js";
import { requireAccess, sessionOnly } from "../auth/credentials.js";
import { ACCESS_TOKEN_TTL_S } from "../auth/jwt.js";
import { checkPasswordPolicy, hashPassword, verifyAgainstDummy, verifyPassword } from "../auth/password.js";
import {
	decryptSecret,
	encryptSecret,
	hashRecoveryCode,
	newRecoveryCodes,
	newTotpSecret,
	normalizeRecoveryCode,
	totpUri,
	verifyTotp,
} from "../auth/totp.js";
import { orgs, recoveryCodes, type UserRow, users } from "../db/schema.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, validationHook } from "../http/openapi.js";
import { newId } from "../ids.js";
import {
	accountScope,
	addressScope,
	admitLoginAttempt,
	assertNotThrottled,
	forgiveLoginAttempt,
	type IssuedRefreshToken,
	type LoginThrottle,
	revokeFamilyOfToken,
	rotateRefreshToken,
	secondFactorScope,
	startRefreshFamily,
	THROTTLE_SETTINGS,
	toUserJson,
	unauthorized,
} from "../services/sessions.js";

export const REFRESH_COOKIE = "hexcovery_refresh";
const REFRESH_COOKIE_PATH = "/api/v1/auth";

const Email = z
	.string()
	.trim()
	.toLowerCase()
	.max(254)
	.pipe(z.email())
	.openapi({ example: "ada@example.com" });
export const Password = z.string().min(1).max(4096).openapi({ example: "correct horse battery staple" });

export const UserSchema = z
	.object({
		id: z.string(),
		org_id: z.string(),
		email: z.string(),
		name: z.string(),
		role: z.enum(["viewer", "member", "admin", "owner"]),
		totp_enabled: z.boolean(),
		must_change_password: z.boolean(),
		disabled: z.boolean(),
		created_at: z.string(),
	})
	.openapi("User");

const TokenResponse = z
	.object({
		access_token: z.string(),
		token_type: z.literal("Bearer"),
		expires_in: z.number().int(),
		user: UserSchema,
	})
	.openapi("AccessToken");

/** Refresh, login and logout ride on a cookie: refuse requests a foreign site's page sent. */
export function sameSiteOnly(deps: AppDeps): MiddlewareHandler<AppEnv> {
	return async function originGuard(c, next) {
		const origin = c.req.header("Origin");
		const fetchSite = c.req.header("Sec-Fetch-Site");
		const allowed =
			(origin === undefined ||
				origin === new URL(c.req.url).origin ||
				deps.config.auth.allowedOrigins.includes(origin)) &&
			fetchSite !== "cross-site";
		if (!allowed) throw new ApiError(403, "origin_not_allowed", "Requests from this origin are not allowed.");
		await next();
	};
}

function setRefreshCookie(c: Context, refresh: IssuedRefreshToken, now: number): void {
	setCookie(c, REFRESH_COOKIE, refresh.token, {
		httpOnly: true,
		secure: true,
		sameSite: "Strict",
		path: REFRESH_COOKIE_PATH,
		maxAge: Math.max(0, Math.floor((refresh.expiresAt - now) / 1000)),
	});
}

function clearRefreshCookie(c: Context): void {
	deleteCookie(c, REFRESH_COOKIE, {
		path: REFRESH_COOKIE_PATH,
		secure: true,
		httpOnly: true,
		sameSite: "Strict",
	});
}

async function tokenResponse(deps: AppDeps, user: UserRow) {
	const accessToken = await deps.signAccessToken({
		userId: user.id,
		orgId: user.orgId,
		role: user.role,
		passwordChangeRequired: user.mustChangePassword,
	});
	return {
		access_token: accessToken,
		token_type: "Bearer" as const,
		expires_in: deps.config.jwt.accessTokenTtlS ?? ACCESS_TOKEN_TTL_S,
		user: toUserJson(user),
	};
}

/** Issues a session (access token + refresh cookie) for a user who just proved who they are. */
export async function startSession(c: Context, deps: AppDeps, user: UserRow) {
	const now = deps.clock.now();
	setRefreshCookie(c, await startRefreshFamily(deps.db, user, now), now);
	return tokenResponse(deps, user);
}

const alreadySetUp = () => new ApiError(409, "already_set_up", "Hexcovery is already set up.");

async function anyUserExists(deps: AppDeps): Promise<boolean> {
	const rows = await deps.db.select({ id: users.id }).from(users).limit(1);
	return rows.length > 0;
}

const invalidCredentials = () => unauthorized("invalid_credentials", "The email or password is incorrect.");
const invalidTotp = () => unauthorized("invalid_totp", "The code is wrong, expired or already used.");

function constantTimeEqual(a: string, b: string): boolean {
	const left = new TextEncoder().encode(a);
	const right = new TextEncoder().encode(b);
	let diff = left.length ^ right.length;
	for (let i = 0; i < Math.max(left.length, right.length); i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
	return diff === 0;
}

/** Accepts a TOTP code once only: the step is stored with a compare-and-set. */
async function consumeTotp(deps: AppDeps, user: UserRow, code: string): Promise<boolean> {
	if (!user.totpSecret) return false;
	const secret = await decryptSecret(user.totpSecret, deps.config.auth.totpKey);
	const step = await verifyTotp(secret, code, deps.clock.now());
	if (step === null) return false;
	const updated = await deps.db
		.update(users)
		.set({ totpLastStep: step })
		.where(
			and(eq(users.id, user.id), sql`(${users.totpLastStep} IS NULL OR ${users.totpLastStep} < ${step})`),
		)
		.returning({ id: users.id });
	return updated.length === 1;
}

async function consumeRecoveryCode(deps: AppDeps, user: UserRow, code: string): Promise<boolean> {
	const normalized = normalizeRecoveryCode(code);
	if (normalized.length === 0 || normalized.length > 64) return false;
	const used = await deps.db
		.update(recoveryCodes)
		.set({ usedAt: deps.clock.now() })
		.where(
			and(
				eq(recoveryCodes.codeHash, await hashRecoveryCode(normalized, deps.config.auth.totpKey)),
				eq(recoveryCodes.userId, user.id),
				isNull(recoveryCodes.usedAt),
			),
		)
		.returning({ codeHash: recoveryCodes.codeHash });
	return used.length === 1;
}

/**
 * The account a login signs in to: the address's account in `org`, or without `org` its oldest active
 * account (by creation). Disabled accounts never sign in. One statement whatever the answer, and it
 * says nothing about how many accounts the address has.
 */
async function accountToSignIn(
	deps: AppDeps,
	email: string,
	org: string | undefined,
): Promise<UserRow | undefined> {
	const [user] = await deps.db
		.select()
		.from(users)
		.where(
			and(
				eq(users.email, email),
				isNull(users.disabledAt),
				org === undefined ? undefined : eq(users.orgId, org),
			),
		)
		.orderBy(asc(users.createdAt), asc(users.id))
		.limit(1);
	return user;
}

async function userById(deps: AppDeps, userId: string, orgId: string): Promise<UserRow> {
	const [user] = await deps.db
		.select()
		.from(users)
		.where(and(eq(users.id, userId), eq(users.orgId, orgId), isNull(users.disabledAt)));
	if (!user) throw unauthorized("invalid_token", "The session's user no longer exists or is disabled.");
	return user;
}

export function authRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const originGuard = sameSiteOnly(deps);
	// Before the body is read: without the token, nothing about the request is looked at.
	const setupTokenGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
		const expected = deps.config.auth.setupToken;
		if (expected !== null && !constantTimeEqual(c.req.header("X-Setup-Token") ?? "", expected)) {
			// Every 401 carries a challenge (contract §1): this one names the header, as the key slot's does.
			throw new ApiError(401, "invalid_setup_token", "X-Setup-Token is missing or wrong.", {
				headers: { "WWW-Authenticate": 'SetupToken realm="hexcovery", header="X-Setup-Token"' },
			});
		}
		await next();
	};
	// Not reachable with a one-time password: 2FA is set up once the user has chosen their own.
	const anySession = requireAccess(deps, sessionOnly("viewer"));

	app.openapi(
		createRoute({
			method: "get",
			path: "/api/v1/setup",
			tags: ["Sessions"],
			security: [],
			summary: "Whether first-run setup is still open",
			description:
				"`setup_required` is true while no user exists (the dashboard then shows its first-run page); `setup_token_required` says whether `POST /api/v1/setup` needs `X-Setup-Token`.",
			responses: {
				200: {
					description: "Setup state",
					content: {
						"application/json": {
							schema: z
								.object({ setup_required: z.boolean(), setup_token_required: z.boolean() })
								.openapi("SetupState"),
						},
					},
				},
			},
		}),
		async (c) =>
			c.json(
				{
					setup_required: !(await anyUserExists(deps)),
					setup_token_required: deps.config.auth.setupToken !== null,
				},
				200,
			),
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/setup",
			security: [],
			tags: ["Sessions"],
			summary: "First run: create the first organization and its owner",
			description:
				"Works only while no user exists (else 409 `already_set_up`). When `SETUP_TOKEN` is configured the `X-Setup-Token` header must match it.",
			middleware: [setupTokenGuard, jsonBody] as const,
			request: {
				headers: z.object({ "x-setup-token": z.string().max(512).optional() }),
				body: {
					required: true,
					content: {
						"application/json": {
							schema: z.strictObject({
								org_name: z.string().trim().min(1).max(200),
								name: z.string().trim().min(1).max(200),
								email: Email,
								password: Password,
							}),
						},
					},
				},
			},
			responses: {
				201: {
					description: "Created",
					content: {
						"application/json": {
							schema: z.object({ org: z.object({ id: z.string(), name: z.string() }), user: UserSchema }),
						},
					},
				},
				...errorResponses(400, 401, 409, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			if (await anyUserExists(deps)) throw alreadySetUp();
			const problem = checkPasswordPolicy(body.password);
			if (problem) throw weakPassword(problem);
			const now = deps.clock.now();
			const org = { id: newId("org"), name: body.org_name, retentionDays: 30, createdAt: now };
			const user: UserRow = {
				id: newId("usr"),
				orgId: org.id,
				email: body.email,
				name: body.name,
				role: "owner",
				passwordHash: await hashPassword(body.password, deps.config.auth.passwordHashing),
				mustChangePassword: false,
				passwordChangedAt: now,
				totpSecret: null,
				totpEnabledAt: null,
				totpLastStep: null,
				disabledAt: null,
				createdAt: now,
				updatedAt: now,
			};
			// Both inserts are conditional on "no user yet" inside one write transaction, so two
			// concurrent setups cannot both succeed and a failed one leaves nothing behind.
			const noUsers = sql`NOT EXISTS (SELECT 1 FROM ${users})`;
			const [insertedOrg] = await deps.db.batch([
				deps.db.run(
					sql`INSERT INTO ${orgs} (id, name, retention_days, created_at) SELECT ${org.id}, ${org.name}, ${org.retentionDays}, ${org.createdAt} WHERE ${noUsers}`,
				),
				deps.db.run(
					sql`INSERT INTO ${users} (id, org_id, email, name, role, password_hash, must_change_password, password_changed_at, created_at, updated_at) SELECT ${user.id}, ${user.orgId}, ${user.email}, ${user.name}, 'owner', ${user.passwordHash}, 0, ${now}, ${now}, ${now} WHERE EXISTS (SELECT 1 FROM ${orgs} WHERE id = ${org.id}) AND (SELECT count(*) FROM ${users}) = 0`,
				),
			]);
			if (insertedOrg.rowsAffected !== 1) throw alreadySetUp();
			return c.json({ org: { id: org.id, name: org.name }, user: toUserJson(user) }, 201);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/auth/login",
			security: [],
			tags: ["Sessions"],
			summary: "Log in with email and password (+ TOTP or a recovery code when 2FA is on)",
			description:
				"Answers an access token (15 minutes) and sets the refresh cookie. Accounts are per organization: one email address may have an account in each of several organizations, each with its own password, role and 2FA. `org` (an organization id) picks the address's account in that organization; without it, the address's oldest active account signs in. An unknown address, an unknown `org`, an address without an account in `org`, a disabled account and a wrong password all answer the same 401 `invalid_credentials`. Failed logins back off per email address, across its accounts (from the 5th failure, up to 60 s), and per client address (from the 20th, up to 15 minutes), and wrong 2FA codes after the right password per user (from the 5th in a day, up to an hour): 429 `too_many_attempts` with `Retry-After`.",
			middleware: [originGuard, jsonBody] as const,
			request: {
				body: {
					required: true,
					content: {
						"application/json": {
							schema: z.strictObject({
								email: z.string().max(254),
								password: Password,
								org: z.string().trim().min(1).max(64).optional().openapi({
									description:
										"The id of the organization to sign in to (`org_…`, as `org list` prints it). Without it, the address's oldest active account signs in.",
									example: "org_7kQm2ZpX9rLc4VbT0nWs",
								}),
								totp_code: z.string().max(16).optional(),
								recovery_code: z.string().max(64).optional(),
							}),
						},
					},
				},
			},
			responses: {
				200: { description: "Logged in", content: { "application/json": { schema: TokenResponse } } },
				...errorResponses(400, 401, 403, 413, 415),
				429: { description: "Too many failed attempts (`too_many_attempts`, with `Retry-After`)" },
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const email = body.email.trim().toLowerCase();
			const address = deps.clientAddress(c) ?? "unknown";
			const now = deps.clock.now();
			const account = { scope: accountScope(email), policy: THROTTLE_SETTINGS.account };
			const client = { scope: addressScope(address), policy: THROTTLE_SETTINGS.address };
			await assertNotThrottled(deps.db, [account.scope, client.scope], now);
			// The attempt counts as a failure from here on (atomically, so a burst of parallel guesses
			// cannot slip past the check above) until it turns out not to be one.
			const admitted = await admitLoginAttempt(deps.db, [account, client], now);
			const user = await accountToSignIn(deps, email, body.org);
			// Exactly one password verification per attempt, whatever was found: no account (unknown
			// address or org, no account of the address in that org) costs what a wrong password does.
			if (!user?.passwordHash) {
				await verifyAgainstDummy(body.password, deps.config.auth.passwordHashing);
				throw invalidCredentials();
			}
			const check = await verifyPassword(body.password, user.passwordHash, deps.config.auth.passwordHashing);
			if (!check.ok) throw invalidCredentials();
			if (user.totpEnabledAt !== null) {
				if (body.totp_code === undefined && body.recovery_code === undefined) {
					await forgiveLoginAttempt(deps.db, admitted);
					throw unauthorized(
						"totp_required",
						"Two-factor authentication is on: send totp_code or recovery_code.",
					);
				}
				const passed = await withSecondFactorBackOff(deps, user, () =>
					body.totp_code !== undefined
						? consumeTotp(deps, user, body.totp_code)
						: consumeRecoveryCode(deps, user, body.recovery_code as string),
				);
				if (!passed) throw invalidTotp();
			}
			// Only this attempt is forgiven, never the failures before it: the account scope is the
			// email's, shared by its accounts in every org, and an admin of any org can create one with a
			// password they know; clearing it on their login reset the back-off for the others.
			await forgiveLoginAttempt(deps.db, admitted);
			if (check.needsRehash) {
				await deps.db
					.update(users)
					.set({ passwordHash: await hashPassword(body.password, deps.config.auth.passwordHashing) })
					.where(eq(users.id, user.id));
			}
			return c.json(await startSession(c, deps, user), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/auth/refresh",
			security: [],
			tags: ["Sessions"],
			summary: "Exchange the refresh cookie for a new access token (the cookie rotates)",
			description:
				"Every refresh rotates the cookie. Presenting an already-rotated token again (a replay) answers 401 `refresh_token_reused` and revokes the whole session; two tabs refreshing within 10 s of each other both succeed.",
			middleware: [originGuard] as const,
			responses: {
				200: { description: "Refreshed", content: { "application/json": { schema: TokenResponse } } },
				...errorResponses(401, 403),
			},
		}),
		async (c) => {
			const token = getCookie(c, REFRESH_COOKIE);
			if (!token) throw unauthorized("missing_credentials", "No refresh cookie; log in.");
			const now = deps.clock.now();
			try {
				const rotated = await rotateRefreshToken(deps.db, token, now);
				setRefreshCookie(c, rotated.refresh, now);
				return c.json(await tokenResponse(deps, rotated.user), 200);
			} catch (error) {
				clearRefreshCookie(c);
				throw error;
			}
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/auth/logout",
			security: [],
			tags: ["Sessions"],
			summary: "Log out: revoke the session behind the refresh cookie and clear it",
			middleware: [originGuard] as const,
			responses: { 204: { description: "Logged out" }, ...errorResponses(403) },
		}),
		async (c) => {
			const token = getCookie(c, REFRESH_COOKIE);
			if (token) await revokeFamilyOfToken(deps.db, token, deps.clock.now());
			clearRefreshCookie(c);
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/auth/totp/setup",
			tags: ["Sessions"],
			summary: "Start enabling two-factor authentication: a new TOTP secret",
			description:
				"Returns the secret and an `otpauth://` URI for an authenticator app; confirm with /enable.",
			security: [{ Bearer: [] }],
			middleware: [anySession] as const,
			responses: {
				200: {
					description: "A new, not yet enabled secret",
					content: {
						"application/json": { schema: z.object({ secret: z.string(), otpauth_uri: z.string() }) },
					},
				},
				...errorResponses(401, 403, 409),
			},
		}),
		async (c) => {
			const principal = c.var.principal;
			if (principal.kind !== "user") throw new ApiError(403, "session_required", "Sessions only.");
			const user = await userById(deps, principal.userId, principal.orgId);
			if (user.totpEnabledAt !== null) {
				throw new ApiError(
					409,
					"totp_already_enabled",
					"Two-factor authentication is already on; disable it first.",
				);
			}
			const secret = newTotpSecret();
			await deps.db
				.update(users)
				.set({ totpSecret: await encryptSecret(secret, deps.config.auth.totpKey), totpLastStep: null })
				.where(eq(users.id, user.id));
			// One address may have accounts in several orgs: the org's name tells them apart in the app.
			const [org] = await deps.db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, user.orgId));
			// A colon would split the label into issuer and account: none in the name.
			const accountName = org ? `${user.email} (${org.name.replaceAll(":", " ")})` : user.email;
			return c.json({ secret, otpauth_uri: totpUri({ secret, accountName }) }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/auth/totp/enable",
			tags: ["Sessions"],
			summary: "Enable two-factor authentication with the password and a first valid code",
			description:
				"Needs the account's password (401 `invalid_credentials` otherwise, behind the login back-off): an access token alone, stolen, could otherwise turn on a second factor its owner does not hold and lock them out. Answers 10 single-use recovery codes, shown once.",
			security: [{ Bearer: [] }],
			middleware: [anySession, jsonBody] as const,
			request: {
				body: {
					required: true,
					content: {
						"application/json": { schema: z.strictObject({ password: Password, code: z.string().max(16) }) },
					},
				},
			},
			responses: {
				200: {
					description: "Enabled",
					content: { "application/json": { schema: z.object({ recovery_codes: z.array(z.string()) }) } },
				},
				...errorResponses(400, 401, 403, 409),
			},
		}),
		async (c) => {
			const principal = c.var.principal;
			if (principal.kind !== "user") throw new ApiError(403, "session_required", "Sessions only.");
			const user = await userById(deps, principal.userId, principal.orgId);
			if (user.totpEnabledAt !== null)
				throw new ApiError(409, "totp_already_enabled", "Two-factor authentication is already on.");
			if (!user.totpSecret)
				throw new ApiError(409, "totp_not_enabled", "Call /api/v1/auth/totp/setup first.");
			const body = c.req.valid("json");
			await withPasswordStepUp(deps, user, body.password, async () => {
				if (!(await consumeTotp(deps, user, body.code))) throw invalidTotp();
			});
			const codes = newRecoveryCodes();
			const now = deps.clock.now();
			const hashed = await Promise.all(
				codes.map(async (code) => ({
					codeHash: await hashRecoveryCode(code, deps.config.auth.totpKey),
					userId: user.id,
					createdAt: now,
				})),
			);
			await deps.db.batch([
				deps.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id)),
				deps.db.insert(recoveryCodes).values(hashed),
				deps.db.update(users).set({ totpEnabledAt: now, updatedAt: now }).where(eq(users.id, user.id)),
			]);
			return c.json({ recovery_codes: codes }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/api/v1/auth/totp/disable",
			tags: ["Sessions"],
			summary: "Disable two-factor authentication (needs the password and a current code)",
			security: [{ Bearer: [] }],
			middleware: [anySession, jsonBody] as const,
			request: {
				body: {
					required: true,
					content: {
						"application/json": { schema: z.strictObject({ password: Password, code: z.string().max(64) }) },
					},
				},
			},
			responses: { 204: { description: "Disabled" }, ...errorResponses(400, 401, 403, 409) },
		}),
		async (c) => {
			const principal = c.var.principal;
			if (principal.kind !== "user") throw new ApiError(403, "session_required", "Sessions only.");
			const user = await userById(deps, principal.userId, principal.orgId);
			if (user.totpEnabledAt === null)
				throw new ApiError(409, "totp_not_enabled", "Two-factor authentication is off.");
			const body = c.req.valid("json");
			await withPasswordStepUp(deps, user, body.password, async () => {
				const passed = await withSecondFactorBackOff(
					deps,
					user,
					async () =>
						(await consumeTotp(deps, user, body.code)) || (await consumeRecoveryCode(deps, user, body.code)),
				);
				if (!passed) throw invalidTotp();
			});
			await deps.db.batch([
				deps.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id)),
				deps.db
					.update(users)
					.set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null, updatedAt: deps.clock.now() })
					.where(eq(users.id, user.id)),
			]);
			return c.body(null, 204);
		},
	);

	return app;
}

/**
 * Runs `check` as one attempt of the given back-offs (src/services/sessions.ts): 429
 * `too_many_attempts` while any is blocked; the attempt counts as a failure of each unless `check`
 * answers true (a `check` that throws is a failure too). One mechanism for login's second factor,
 * the password step-ups and /me/password.
 */
async function backedOff(
	deps: AppDeps,
	throttles: LoginThrottle[],
	check: () => Promise<boolean>,
): Promise<boolean> {
	const now = deps.clock.now();
	await assertNotThrottled(
		deps.db,
		throttles.map((t) => t.scope),
		now,
	);
	const admitted = await admitLoginAttempt(deps.db, throttles, now);
	const passed = await check();
	if (passed) await forgiveLoginAttempt(deps.db, admitted);
	return passed;
}

/**
 * A second factor's check (`check` answers whether the code was right) behind its own back-off per
 * user (THROTTLE_SETTINGS.secondFactor), on top of the account's: only after the password was
 * right, so that no one without it can slow the owner's codes down.
 */
function withSecondFactorBackOff(
	deps: AppDeps,
	user: UserRow,
	check: () => Promise<boolean>,
): Promise<boolean> {
	return backedOff(
		deps,
		[{ scope: secondFactorScope(user.id), policy: THROTTLE_SETTINGS.secondFactor }],
		check,
	);
}

/**
 * The user's own password, checked behind their account's back-off (401 `invalid_credentials` when
 * wrong), then `more` (a code) in the same attempt: what a stolen access token alone cannot pass.
 */
export async function withPasswordStepUp(
	deps: AppDeps,
	user: UserRow,
	password: string,
	more?: () => Promise<void>,
): Promise<void> {
	await withAccountBackOff(deps, user.email, async () => {
		if (
			!user.passwordHash ||
			!(await verifyPassword(password, user.passwordHash, deps.config.auth.passwordHashing)).ok
		) {
			// The caller's own password: no email was typed (the login's message named one).
			throw unauthorized("invalid_credentials", "Your password is incorrect.");
		}
		await more?.();
	});
}

/**
 * Runs a password (and code) check behind the same per-account back-off as login, so a stolen access
 * token cannot be used to guess the password at full speed on /me/password or /totp/disable. The
 * attempt counts as a failure unless `check` returns.
 */
export async function withAccountBackOff(
	deps: AppDeps,
	email: string,
	check: () => Promise<void>,
): Promise<void> {
	await backedOff(deps, [{ scope: accountScope(email), policy: THROTTLE_SETTINGS.account }], async () => {
		await check();
		return true;
	});
}

export function weakPassword(problem: string): ApiError {
	return new ApiError(400, "invalid_request", problem, { details: [{ path: "password", message: problem }] });
}
