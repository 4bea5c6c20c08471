/**
 * Sessions (contract §6) inside workerd through the Worker's own fetch handler: login, TOTP, refresh
 * rotation and reuse, logout, origin checks and the login back-off, over libSQL through the HTTP
 * stand-in. The database is shared by every workers test file and the Worker's clock is real: each
 * test seeds its own org and users, and time-dependent states are written into the database.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../../src/auth/password.js";
import { encryptSecret, newTotpSecret, parseEncryptionKey, totpCodeAt } from "../../src/auth/totp.js";
import { systemClock } from "../../src/clock.js";
import { loginThrottles, refreshFamilies, refreshTokens, type UserRow, users } from "../../src/db/schema.js";
import { createOrg } from "../../src/services/api-keys.js";
import { BEARER_CHALLENGE, db, expectError, expectOk, jwtSettings, ORIGIN, workerFetch } from "./support.js";

const PASSWORD = "correct horse battery staple";
const WRONG_PASSWORD = "another long passphrase 42";
const COOKIE = "hexcovery_refresh";

let passwordHash: Promise<string> | undefined;

const uniqueEmail = () => `edge-${crypto.randomUUID()}@example.com`;
/** Every request names its client: without CF-Connecting-IP all tests would share one address scope. */
const uniqueAddress = () => `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;

async function seedUser(options: { totpSecret?: string } = {}): Promise<{ user: UserRow; email: string }> {
	const org = await createOrg(db, systemClock, `Edge Auth ${crypto.randomUUID()}`);
	passwordHash ??= hashPassword(PASSWORD);
	const now = Date.now();
	const email = uniqueEmail();
	const totpKey = parseEncryptionKey(env.TOTP_ENCRYPTION_KEY);
	const [user] = await db
		.insert(users)
		.values({
			id: `usr_edge${crypto.randomUUID().replaceAll("-", "")}`,
			orgId: org.id,
			email,
			name: "Edge User",
			role: "member",
			passwordHash: await passwordHash,
			passwordChangedAt: now,
			totpSecret: options.totpSecret ? await encryptSecret(options.totpSecret, totpKey) : null,
			totpEnabledAt: options.totpSecret ? now : null,
			createdAt: now,
			updatedAt: now,
		})
		.returning();
	return { user: user as UserRow, email };
}

function post(
	path: string,
	init: { body?: unknown; headers?: Record<string, string>; cookie?: string } = {},
) {
	const headers: Record<string, string> = { "CF-Connecting-IP": uniqueAddress(), ...init.headers };
	if (init.body !== undefined) headers["Content-Type"] = "application/json";
	if (init.cookie !== undefined) headers.Cookie = `${COOKIE}=${init.cookie}`;
	return workerFetch(path, {
		method: "POST",
		headers,
		...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
	});
}

const login = (body: Record<string, string>, headers: Record<string, string> = {}) =>
	post("/api/v1/auth/login", { body, headers });
const refresh = (cookie: string, headers: Record<string, string> = {}) =>
	post("/api/v1/auth/refresh", { cookie, headers });

function cookieOf(response: Response): { value: string; line: string } | null {
	const line = response.headers.getAll("Set-Cookie").find((l) => l.startsWith(`${COOKIE}=`));
	return line === undefined ? null : { value: line.slice(COOKIE.length + 1).split(";")[0] as string, line };
}

interface TokenJson {
	access_token: string;
	token_type: string;
	expires_in: number;
	user: { id: string; org_id: string; email: string; role: string; totp_enabled: boolean };
}

async function expectSession(response: Response): Promise<{ body: TokenJson; cookie: string; line: string }> {
	const cookie = cookieOf(response);
	const body = await expectOk<TokenJson>(response);
	expect(cookie?.value).toMatch(/^hxr_[0-9A-Za-z]{43}$/);
	return { body, cookie: cookie?.value as string, line: cookie?.line as string };
}

async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("sessions through the Worker", () => {
	it("setup answers 201 on an empty database and 409 already_set_up once any user exists", async () => {
		const body = { org_name: "Edge Setup", name: "Ada", email: uniqueEmail(), password: PASSWORD };
		const first = await post("/api/v1/setup", { body });
		// Another test file may have created users already: either answer is right, depending on order.
		expect([201, 409], await first.clone().text()).toContain(first.status);
		if (first.status === 201) {
			await expectSession(await login({ email: body.email, password: PASSWORD }));
		}
		await expectError(
			await post("/api/v1/setup", { body: { ...body, email: uniqueEmail() } }),
			409,
			"already_set_up",
		);
	});

	it("login answers an access token verifiable with the Worker's JWKS, the user and the cookie", async () => {
		const { user, email } = await seedUser();
		const session = await expectSession(await login({ email: email.toUpperCase(), password: PASSWORD }));
		expect(session.body).toMatchObject({
			token_type: "Bearer",
			expires_in: 900,
			user: { id: user.id, org_id: user.orgId, email, role: "member", totp_enabled: false },
		});
		expect(session.line).toBe(
			`${COOKIE}=${session.cookie}; Max-Age=${30 * 86_400}; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict`,
		);

		const jwks = await expectOk<JSONWebKeySet>(await workerFetch("/.well-known/jwks.json"));
		const { payload, protectedHeader } = await jwtVerify(session.body.access_token, createLocalJWKSet(jwks), {
			algorithms: ["EdDSA"],
			issuer: jwtSettings.issuer,
			audience: jwtSettings.audience,
			typ: "at+jwt",
		});
		expect(protectedHeader.kid).toBe(jwtSettings.signingKeys[0]?.kid);
		expect(payload).toMatchObject({ sub: user.id, org_id: user.orgId, role: "member" });
		expect(payload.exp).toBe((payload.iat as number) + 900);
		expect(payload.jti).toEqual(expect.any(String));
	});

	it("the access token from login works on GET /api/v1/me and /api/v1/annotations", async () => {
		const { user, email } = await seedUser();
		const { body } = await expectSession(await login({ email, password: PASSWORD }));
		const auth = { Authorization: `Bearer ${body.access_token}` };
		const me = await expectOk<{ id: string; email: string }>(
			await workerFetch("/api/v1/me", { headers: auth }),
		);
		expect(me).toMatchObject({ id: user.id, email });
		const list = await expectOk<{ data: unknown[] }>(
			await workerFetch("/api/v1/annotations", { headers: auth }),
		);
		expect(list.data).toEqual([]);
	});

	it("wrong password and unknown email → the same 401 invalid_credentials (but the request id)", async () => {
		const { email } = await seedUser();
		const wrong = await login({ email, password: WRONG_PASSWORD });
		const unknown = await login({ email: uniqueEmail(), password: WRONG_PASSWORD });
		expect(cookieOf(wrong)).toBeNull();
		const a = await expectError(wrong, 401, "invalid_credentials", BEARER_CHALLENGE);
		const b = await expectError(unknown, 401, "invalid_credentials", BEARER_CHALLENGE);
		expect({ ...a.error, request_id: "" }).toEqual({ ...b.error, request_id: "" });
	});

	it("per-org accounts: one address, two orgs; org picks the account, none → the oldest; unknown org → the same 401", async () => {
		const { user: first, email } = await seedUser();
		const org = await createOrg(db, systemClock, `Edge Second ${crypto.randomUUID()}`);
		const now = Date.now();
		const [second] = await db
			.insert(users)
			.values({
				id: `usr_edge${crypto.randomUUID().replaceAll("-", "")}`,
				orgId: org.id,
				email,
				name: "Edge User B",
				role: "viewer",
				passwordHash: await hashPassword(WRONG_PASSWORD),
				passwordChangedAt: now,
				createdAt: first.createdAt + 1,
				updatedAt: now,
			})
			.returning();
		const inB = await expectSession(await login({ email, password: WRONG_PASSWORD, org: org.id }));
		expect(inB.body.user).toMatchObject({ id: second?.id, org_id: org.id, role: "viewer" });
		const inA = await expectSession(await login({ email, password: PASSWORD, org: first.orgId }));
		expect(inA.body.user).toMatchObject({ id: first.id, org_id: first.orgId });
		const oldest = await expectSession(await login({ email, password: PASSWORD }));
		expect(oldest.body.user.id).toBe(first.id);

		const wrong = await expectError(
			await login({ email, password: WRONG_PASSWORD }),
			401,
			"invalid_credentials",
			BEARER_CHALLENGE,
		);
		const unknownOrg = await expectError(
			await login({ email, password: PASSWORD, org: "org_00000000000000000000" }),
			401,
			"invalid_credentials",
			BEARER_CHALLENGE,
		);
		expect({ ...unknownOrg.error, request_id: "" }).toEqual({ ...wrong.error, request_id: "" });
	});

	it("2FA: no code → totp_required; the current code → 200; the same code again → invalid_totp", async () => {
		const secret = newTotpSecret();
		const { email } = await seedUser({ totpSecret: secret });
		await expectError(await login({ email, password: PASSWORD }), 401, "totp_required", BEARER_CHALLENGE);
		const code = await totpCodeAt(secret, Date.now());
		const { body } = await expectSession(await login({ email, password: PASSWORD, totp_code: code }));
		expect(body.user.totp_enabled).toBe(true);
		await expectError(
			await login({ email, password: PASSWORD, totp_code: code }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});

	it("2FA enabled over the API: its recovery codes work once each", async () => {
		const { email } = await seedUser();
		const { body } = await expectSession(await login({ email, password: PASSWORD }));
		const auth = { Authorization: `Bearer ${body.access_token}` };
		const setup = await expectOk<{ secret: string }>(
			await post("/api/v1/auth/totp/setup", { headers: auth }),
		);
		const enabled = await expectOk<{ recovery_codes: string[] }>(
			await post("/api/v1/auth/totp/enable", {
				headers: auth,
				body: { password: PASSWORD, code: await totpCodeAt(setup.secret, Date.now()) },
			}),
		);
		expect(new Set(enabled.recovery_codes).size).toBe(10);
		await expectError(await login({ email, password: PASSWORD }), 401, "totp_required", BEARER_CHALLENGE);
		const recovery = enabled.recovery_codes[0] as string;
		await expectSession(await login({ email, password: PASSWORD, recovery_code: recovery }));
		await expectError(
			await login({ email, password: PASSWORD, recovery_code: recovery }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});

	it("refresh rotates the cookie; two tabs racing with one cookie both succeed", async () => {
		const { email } = await seedUser();
		const first = await expectSession(await login({ email, password: PASSWORD }));
		const second = await expectSession(await refresh(first.cookie, { Origin: ORIGIN }));
		expect(second.cookie).not.toBe(first.cookie);
		expect(second.body.access_token).not.toBe(first.body.access_token);
		const [a, b] = await Promise.all([refresh(second.cookie), refresh(second.cookie)]);
		const tabA = await expectSession(a as Response);
		const tabB = await expectSession(b as Response);
		expect(new Set([second.cookie, tabA.cookie, tabB.cookie]).size).toBe(3);
	});

	it("a rotated cookie replayed after the grace window → 401 refresh_token_reused; the family is revoked", async () => {
		const { email } = await seedUser();
		const first = await expectSession(await login({ email, password: PASSWORD }));
		const second = await expectSession(await refresh(first.cookie));
		// The grace is 10 s and this clock cannot move: age the rotation in the database instead.
		const aged = await db
			.update(refreshTokens)
			.set({ rotatedAt: Date.now() - 60_000 })
			.where(eq(refreshTokens.tokenHash, await sha256Hex(first.cookie)))
			.returning({ familyId: refreshTokens.familyId });
		expect(aged).toHaveLength(1);

		const replay = await refresh(first.cookie);
		expect(cookieOf(replay)?.line).toMatch(/^hexcovery_refresh=; Max-Age=0; Path=\/api\/v1\/auth/);
		await expectError(replay, 401, "refresh_token_reused", BEARER_CHALLENGE);
		await expectError(await refresh(second.cookie), 401, "invalid_token", BEARER_CHALLENGE);
		const [family] = await db
			.select()
			.from(refreshFamilies)
			.where(eq(refreshFamilies.id, aged[0]?.familyId as string));
		expect(family?.revokedReason).toBe("reuse");
	});

	it("logout → 204, the cookie cleared and the session revoked", async () => {
		const { email } = await seedUser();
		const { cookie } = await expectSession(await login({ email, password: PASSWORD }));
		const response = await post("/api/v1/auth/logout", { cookie, headers: { Origin: ORIGIN } });
		expect(response.status).toBe(204);
		expect(cookieOf(response)?.line).toMatch(
			/^hexcovery_refresh=; Max-Age=0; Path=\/api\/v1\/auth; HttpOnly; Secure; SameSite=Strict/,
		);
		await expectError(await refresh(cookie), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("a foreign Origin or Sec-Fetch-Site: cross-site → 403 origin_not_allowed on login, refresh and logout", async () => {
		const { email } = await seedUser();
		const { cookie } = await expectSession(await login({ email, password: PASSWORD }, { Origin: ORIGIN }));
		const foreign: Record<string, string>[] = [
			{ Origin: "https://evil.example.net" },
			{ "Sec-Fetch-Site": "cross-site" },
		];
		for (const headers of foreign) {
			const refused = await login({ email, password: PASSWORD }, headers);
			expect(cookieOf(refused)).toBeNull();
			await expectError(refused, 403, "origin_not_allowed");
			await expectError(await refresh(cookie, headers), 403, "origin_not_allowed");
			await expectError(await post("/api/v1/auth/logout", { cookie, headers }), 403, "origin_not_allowed");
		}
		// Nothing was rotated or revoked by the refused requests.
		await expectSession(await refresh(cookie));
	});

	it("no cookie → 401 missing_credentials; a garbage cookie → 401 invalid_token", async () => {
		await expectError(await post("/api/v1/auth/refresh"), 401, "missing_credentials", BEARER_CHALLENGE);
		await expectError(await refresh("garbage"), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("a blocked account answers 429 too_many_attempts with Retry-After, even with the right password", async () => {
		const { email } = await seedUser();
		await db.insert(loginThrottles).values({
			scope: `account:${email}`,
			failures: 7,
			lastFailureAt: Date.now(),
			blockedUntil: Date.now() + 30_000,
		});
		const response = await login({ email, password: PASSWORD });
		expect(cookieOf(response)).toBeNull();
		const retryAfter = Number(response.headers.get("Retry-After"));
		expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30).toBe(true);
		await expectError(response, 429, "too_many_attempts");
	});

	it("failures are counted in libSQL: a burst of concurrent guesses gets 5 attempts, the rest 429", async () => {
		const { email } = await seedUser();
		const responses = await Promise.all(
			Array.from({ length: 8 }, () => login({ email, password: WRONG_PASSWORD })),
		);
		expect(responses.map((r) => r.status).sort()).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
		const [row] = await db
			.select()
			.from(loginThrottles)
			.where(eq(loginThrottles.scope, `account:${email}`));
		expect(row?.failures).toBe(5);
		expect(row?.blockedUntil).toBeGreaterThan(0);
	});
});
