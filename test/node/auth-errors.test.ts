/**
 * Sessions, error paths (contract §2, §6): every refusal with its exact status, code and challenge,
 * and nothing changed behind a refusal.
 */
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { orgs, refreshFamilies, users } from "../../src/db/schema.js";
import { createApiKey } from "../../src/services/api-keys.js";
import {
	BEARER_CHALLENGE,
	call,
	codeNow,
	createAuthApp,
	DAY,
	enableTotp,
	expectError,
	expectSession,
	type Harness,
	login,
	loginOk,
	OTHER_PASSWORD,
	PASSWORD,
	refresh,
	refreshCookieOf,
	seedUser,
} from "./auth-support.js";

const API_KEY_CHALLENGE = 'ApiKey realm="hexcovery", header="X-API-Key"';

let h: Harness;
beforeEach(async () => {
	h = await createAuthApp();
});
afterEach(() => h.close());

const setup = (body: Record<string, unknown>) =>
	call(h, "/api/v1/setup", {
		body: { org_name: "Acme", name: "Ada", email: "ada@example.com", password: PASSWORD, ...body },
	});

const countRows = async () => ({
	orgs: (await h.database.db.select().from(orgs)).length,
	users: (await h.database.db.select().from(users)).length,
});

describe("POST /api/v1/setup refusals", () => {
	it("answers 409 already_set_up once a user exists", async () => {
		expect((await setup({})).status).toBe(201);
		await expectError(await setup({ email: "eve@example.com", org_name: "Eve Corp" }), 409, "already_set_up");
		expect(await countRows()).toEqual({ orgs: 1, users: 1 });
	});

	it("answers 409 when the existing user came from anywhere else (not only from setup)", async () => {
		await seedUser(h);
		await expectError(await setup({}), 409, "already_set_up");
		expect(await countRows()).toEqual({ orgs: 1, users: 1 });
	});

	it.each([
		["too short", "short pass1"],
		["a single repeated character", "aaaaaaaaaaaaaaa"],
		["too common", "password1234"],
		["too long", "x".repeat(1_000) + "y".repeat(25)],
	])("a weak password (%s) → 400 invalid_request with details, nothing created", async (_, password) => {
		const body = await expectError(await setup({ password }), 400, "invalid_request");
		expect(body.error.details).toEqual([{ path: "password", message: expect.any(String) }]);
		expect(await countRows()).toEqual({ orgs: 0, users: 0 });
	});

	it.each([["not-an-email"], ["ada@"], [""], [`${"a".repeat(250)}@example.com`]])(
		"a bad email (%s) → 400 with details on email",
		async (email) => {
			const body = await expectError(await setup({ email }), 400, "invalid_request");
			expect(body.error.details?.map((d) => d.path)).toContain("email");
			expect(await countRows()).toEqual({ orgs: 0, users: 0 });
		},
	);

	it("missing fields, unknown fields and an org_id → 400", async () => {
		await expectError(
			await call(h, "/api/v1/setup", { body: { email: "ada@example.com" } }),
			400,
			"invalid_request",
		);
		await expectError(await setup({ role: "viewer" }), 400, "invalid_request");
		await expectError(await setup({ org_id: "org_x" }), 400, "invalid_request");
		expect(await countRows()).toEqual({ orgs: 0, users: 0 });
	});
});

describe("POST /api/v1/auth/login refusals", () => {
	it("wrong password → 401 invalid_credentials, no cookie", async () => {
		const seeded = await seedUser(h);
		const response = await login(h, { email: seeded.email, password: OTHER_PASSWORD });
		expect(refreshCookieOf(response)).toBeNull();
		await expectError(response, 401, "invalid_credentials", BEARER_CHALLENGE);
	});

	it("unknown email → 401 invalid_credentials", async () => {
		await expectError(
			await login(h, { email: "nobody@example.com", password: PASSWORD }),
			401,
			"invalid_credentials",
			BEARER_CHALLENGE,
		);
	});

	it("a disabled user, even with the right password → 401 invalid_credentials", async () => {
		const seeded = await seedUser(h, { disabled: true });
		await expectError(await login(h, seeded), 401, "invalid_credentials", BEARER_CHALLENGE);
	});

	it("a user without a password (never set) → 401 invalid_credentials", async () => {
		const seeded = await seedUser(h);
		await h.database.db.update(users).set({ passwordHash: null }).where(eq(users.id, seeded.user.id));
		await expectError(await login(h, seeded), 401, "invalid_credentials", BEARER_CHALLENGE);
	});

	it("malformed bodies → 400 invalid_request", async () => {
		await expectError(
			await call(h, "/api/v1/auth/login", { body: { email: "a@example.com" } }),
			400,
			"invalid_request",
		);
		await expectError(
			await call(h, "/api/v1/auth/login", {
				body: { email: "a@example.com", password: PASSWORD, remember: true },
			}),
			400,
			"invalid_request",
		);
		await expectError(
			await call(h, "/api/v1/auth/login", { body: { email: "a@example.com", password: "" } }),
			400,
			"invalid_request",
		);
	});

	it("with 2FA on: no code → 401 totp_required, no cookie", async () => {
		const seeded = await seedUser(h);
		await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const response = await login(h, seeded);
		expect(refreshCookieOf(response)).toBeNull();
		await expectError(response, 401, "totp_required", BEARER_CHALLENGE);
	});

	it("with 2FA on: a wrong or malformed code → 401 invalid_totp", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const right = await codeNow(h, secret);
		const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
		for (const code of [wrong, "12345", "abcdef", ""]) {
			await expectError(
				await login(h, { email: seeded.email, password: PASSWORD, totp_code: code }),
				401,
				"invalid_totp",
				BEARER_CHALLENGE,
			);
		}
		// A code two steps old is outside the ±1 window.
		const stale = await codeNow(h, secret);
		h.clock.advance(60_000);
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: stale }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});

	it("with 2FA on: a right code with a wrong password → 401 invalid_credentials (code not consumed)", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const code = await codeNow(h, secret);
		await expectError(
			await login(h, { email: seeded.email, password: OTHER_PASSWORD, totp_code: code }),
			401,
			"invalid_credentials",
			BEARER_CHALLENGE,
		);
		await loginOk(h, seeded, { totp_code: code });
	});

	it("with 2FA on: an unknown recovery code → 401 invalid_totp", async () => {
		const seeded = await seedUser(h);
		await enableTotp(h, (await loginOk(h, seeded)).token);
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, recovery_code: "22222-22222" }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});
});

describe("TOTP route refusals", () => {
	it("enable with a wrong code → 401 invalid_totp and 2FA stays off", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const setupResponse = await call(h, "/api/v1/auth/totp/setup", { token });
		const { secret } = (await setupResponse.json()) as { secret: string };
		const right = await codeNow(h, secret);
		const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
		await expectError(
			await call(h, "/api/v1/auth/totp/enable", { token, body: { password: PASSWORD, code: wrong } }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
		expect((await loginOk(h, seeded)).body.user.totp_enabled).toBe(false);
	});

	it("enable without the password, or with a wrong one → 400 / 401 invalid_credentials and 2FA stays off: a stolen access token cannot turn it on", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const setupResponse = await call(h, "/api/v1/auth/totp/setup", { token });
		const { secret } = (await setupResponse.json()) as { secret: string };
		await expectError(
			await call(h, "/api/v1/auth/totp/enable", { token, body: { code: await codeNow(h, secret) } }),
			400,
			"invalid_request",
		);
		await expectError(
			await call(h, "/api/v1/auth/totp/enable", {
				token,
				body: { password: OTHER_PASSWORD, code: await codeNow(h, secret) },
			}),
			401,
			"invalid_credentials",
			BEARER_CHALLENGE,
		);
		expect((await loginOk(h, seeded)).body.user.totp_enabled).toBe(false);
		// The code was not spent by the refused attempt: with the password it turns 2FA on.
		const enabled = await call(h, "/api/v1/auth/totp/enable", {
			token,
			body: { password: PASSWORD, code: await codeNow(h, secret) },
		});
		expect(enabled.status, await enabled.clone().text()).toBe(200);
	});

	it("enable before setup → 409 totp_not_enabled", async () => {
		const { token } = await loginOk(h, await seedUser(h));
		await expectError(
			await call(h, "/api/v1/auth/totp/enable", { token, body: { password: PASSWORD, code: "123456" } }),
			409,
			"totp_not_enabled",
		);
	});

	it("setup and enable while 2FA is on → 409 totp_already_enabled (the secret is not replaced)", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { secret } = await enableTotp(h, token);
		await expectError(await call(h, "/api/v1/auth/totp/setup", { token }), 409, "totp_already_enabled");
		await expectError(
			await call(h, "/api/v1/auth/totp/enable", { token, body: { password: PASSWORD, code: "123456" } }),
			409,
			"totp_already_enabled",
		);
		h.clock.advance(30_000);
		await loginOk(h, seeded, { totp_code: await codeNow(h, secret) });
	});

	it("disable needs the password and a code: either one wrong → 401, 2FA stays on", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { secret } = await enableTotp(h, token);
		h.clock.advance(30_000);
		const code = await codeNow(h, secret);
		await expectError(
			await call(h, "/api/v1/auth/totp/disable", { token, body: { password: OTHER_PASSWORD, code } }),
			401,
			"invalid_credentials",
			BEARER_CHALLENGE,
		);
		await expectError(
			await call(h, "/api/v1/auth/totp/disable", { token, body: { password: PASSWORD, code: "000000" } }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
		await expectError(
			await call(h, "/api/v1/auth/totp/disable", { token, body: { password: PASSWORD } }),
			400,
			"invalid_request",
		);
		await expectError(await login(h, seeded), 401, "totp_required", BEARER_CHALLENGE);
	});

	it("disable while 2FA is off → 409 totp_not_enabled", async () => {
		const { token } = await loginOk(h, await seedUser(h));
		await expectError(
			await call(h, "/api/v1/auth/totp/disable", { token, body: { password: PASSWORD, code: "123456" } }),
			409,
			"totp_not_enabled",
		);
	});

	it("the TOTP routes need a session: none → 401 missing_credentials, an API key → 403", async () => {
		await expectError(
			await call(h, "/api/v1/auth/totp/setup"),
			401,
			"missing_credentials",
			API_KEY_CHALLENGE,
		);
		const seeded = await seedUser(h);
		const { key } = await createApiKey(h.database.db, h.clock, {
			orgId: seeded.orgId,
			name: "k",
			createdBy: "cli",
		});
		await expectError(
			await call(h, "/api/v1/auth/totp/setup", { headers: { "X-API-Key": key } }),
			403,
			"session_required",
		);
	});
});

describe("POST /api/v1/auth/refresh refusals", () => {
	it("no cookie → 401 missing_credentials", async () => {
		await expectError(await refresh(h, undefined), 401, "missing_credentials", BEARER_CHALLENGE);
	});

	it.each([
		["garbage", "not-a-token"],
		["the wrong prefix", `hxk_${"a".repeat(43)}`],
		["too short", "hxr_abc"],
		["well-formed but unknown", `hxr_${"A".repeat(43)}`],
	])("%s → 401 invalid_token and the cookie is cleared", async (_, cookie) => {
		const response = await refresh(h, cookie);
		expect(refreshCookieOf(response)?.line).toMatch(/^hexcovery_refresh=; Max-Age=0; Path=\/api\/v1\/auth/);
		await expectError(response, 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("an access token in the cookie → 401 invalid_token", async () => {
		const { token } = await loginOk(h, await seedUser(h));
		await expectError(await refresh(h, token), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("idle expiry: unused for 7 days + 1 ms → 401; at 7 days − 1 ms it still works", async () => {
		const seeded = await seedUser(h);
		const a = await loginOk(h, seeded);
		const b = await loginOk(h, seeded);
		h.clock.advance(7 * DAY - 1);
		await expectSession(await refresh(h, a.cookie));
		h.clock.advance(2);
		await expectError(await refresh(h, b.cookie), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("absolute expiry: refreshing every 6 days keeps the session only until 30 days after login", async () => {
		const seeded = await seedUser(h);
		let { cookie } = await loginOk(h, seeded);
		for (let day = 6; day <= 24; day += 6) {
			h.clock.advance(6 * DAY);
			const next = await expectSession(await refresh(h, cookie));
			expect(next.setCookie).toContain(`; Max-Age=${(30 - day) * 86_400};`);
			cookie = next.cookie;
		}
		// Day 30 − 1 ms: still alive.
		h.clock.advance(6 * DAY - 1);
		({ cookie } = await expectSession(await refresh(h, cookie)));
		h.clock.advance(1);
		await expectError(await refresh(h, cookie), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("a disabled user's session cannot be refreshed", async () => {
		const seeded = await seedUser(h);
		const { cookie, token } = await loginOk(h, seeded);
		await h.database.db.update(users).set({ disabledAt: h.clock.now() }).where(eq(users.id, seeded.user.id));
		await expectError(await refresh(h, cookie), 401, "invalid_token", BEARER_CHALLENGE);
		await expectError(
			await call(h, "/api/v1/me", { method: "GET", token }),
			401,
			"invalid_token",
			BEARER_CHALLENGE,
		);
	});
});

describe("POST /api/v1/me/password refusals", () => {
	it("a wrong current password → 401 invalid_credentials; nothing changes", async () => {
		const seeded = await seedUser(h);
		const { token, cookie } = await loginOk(h, seeded);
		const response = await call(h, "/api/v1/me/password", {
			token,
			body: { current_password: OTHER_PASSWORD, new_password: "a brand new passphrase" },
		});
		expect(refreshCookieOf(response)).toBeNull();
		await expectError(response, 401, "invalid_credentials", BEARER_CHALLENGE);
		await loginOk(h, seeded);
		await expectSession(await refresh(h, cookie));
		const families = await h.database.db.select().from(refreshFamilies);
		expect(families.every((f) => f.revokedAt === null)).toBe(true);
	});

	it.each([["short pass1"], ["password1234"], ["bbbbbbbbbbbbbbbb"]])(
		"a weak new password (%s) → 400 with details; the old one still works",
		async (newPassword) => {
			const seeded = await seedUser(h);
			const { token } = await loginOk(h, seeded);
			const body = await expectError(
				await call(h, "/api/v1/me/password", {
					token,
					body: { current_password: PASSWORD, new_password: newPassword },
				}),
				400,
				"invalid_request",
			);
			expect(body.error.details).toEqual([{ path: "password", message: expect.any(String) }]);
			await loginOk(h, seeded);
		},
	);

	it("no session → 401 missing_credentials", async () => {
		await expectError(
			await call(h, "/api/v1/me/password", {
				body: { current_password: PASSWORD, new_password: OTHER_PASSWORD },
			}),
			401,
			"missing_credentials",
			API_KEY_CHALLENGE,
		);
	});
});
