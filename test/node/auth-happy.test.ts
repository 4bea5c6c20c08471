/**
 * Sessions, happy paths (contract §6): setup, login, the access token, TOTP, refresh rotation,
 * logout and password change — through the Node app over a real embedded libSQL database.
 */
import { randomBytes, scryptSync } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyPassword } from "../../src/auth/password.js";
import { orgs, users } from "../../src/db/schema.js";
import { TEST_PASSWORD_HASHING } from "../support/node-app.js";
import {
	ALLOWED_ORIGIN,
	BEARER_CHALLENGE,
	type CallOptions,
	call,
	codeNow,
	createAuthApp,
	enableTotp,
	expectError,
	expectSession,
	type Harness,
	login,
	loginOk,
	logout,
	OTHER_PASSWORD,
	PASSWORD,
	refresh,
	refreshCookieOf,
	SAME_ORIGIN,
	seedUser,
	type UserJson,
	UUID,
	verifyWithJwks,
} from "./auth-support.js";

let h: Harness;
beforeEach(async () => {
	h = await createAuthApp();
});
afterEach(() => h.close());

/** New hashes are made at the app's parameters (the harness's test cost; the servers' are checked in password.test.ts). */
const APP_HASHING = new RegExp(
	`^\\$scrypt\\$ln=${TEST_PASSWORD_HASHING.ln},r=${TEST_PASSWORD_HASHING.r},p=${TEST_PASSWORD_HASHING.p}\\$`,
);
const get = (path: string, options: CallOptions = {}) => call(h, path, { method: "GET", ...options });

describe("POST /api/v1/setup", () => {
	it("creates the first org and its owner (201 {org, user}); the owner can then log in", async () => {
		const response = await call(h, "/api/v1/setup", {
			body: { org_name: "Acme", name: "Ada", email: "Ada@Example.com", password: PASSWORD },
		});
		expect(response.status, await response.clone().text()).toBe(201);
		expect(response.headers.get("X-Request-Id")).toMatch(UUID);
		const body = (await response.json()) as { org: { id: string; name: string }; user: UserJson };
		expect(Object.keys(body).sort()).toEqual(["org", "user"]);
		expect(body.org).toEqual({ id: expect.stringMatching(/^org_/), name: "Acme" });
		expect(body.user).toEqual({
			id: expect.stringMatching(/^usr_/),
			org_id: body.org.id,
			email: "ada@example.com",
			name: "Ada",
			role: "owner",
			totp_enabled: false,
			must_change_password: false,
			disabled: false,
			created_at: new Date(h.clock.now()).toISOString(),
		});
		expect(JSON.stringify(body)).not.toContain("scrypt");

		const [org] = await h.database.db.select().from(orgs).where(eq(orgs.id, body.org.id));
		expect(org?.name).toBe("Acme");
		const [row] = await h.database.db.select().from(users).where(eq(users.id, body.user.id));
		expect(row?.passwordHash).toMatch(APP_HASHING);
		expect((await verifyPassword(PASSWORD, row?.passwordHash as string)).ok).toBe(true);

		const session = await loginOk(h, { email: "ada@example.com", password: PASSWORD });
		expect(session.body.user.id).toBe(body.user.id);
	});
});

describe("POST /api/v1/auth/login", () => {
	it("answers a verifiable access token, the user and the refresh cookie", async () => {
		const seeded = await seedUser(h, { role: "admin" });
		const session = await loginOk(h, seeded);

		expect(Object.keys(session.body).sort()).toEqual(["access_token", "expires_in", "token_type", "user"]);
		expect(session.body.token_type).toBe("Bearer");
		expect(session.body.expires_in).toBe(900);
		expect(session.body.user).toMatchObject({
			id: seeded.user.id,
			org_id: seeded.orgId,
			email: seeded.email,
			role: "admin",
			totp_enabled: false,
		});

		const { payload, protectedHeader } = await verifyWithJwks(h, session.token);
		expect(protectedHeader).toEqual({ alg: "EdDSA", typ: "at+jwt", kid: h.jwt.signingKeys[0]?.kid });
		expect(payload.iat).toBe(Math.floor(h.clock.now() / 1000));
		expect(payload.exp).toBe((payload.iat as number) + 900);
		expect(payload).toMatchObject({
			iss: h.jwt.issuer,
			aud: h.jwt.audience,
			sub: seeded.user.id,
			org_id: seeded.orgId,
			role: "admin",
		});
		expect(payload.jti).toMatch(/^[0-9A-Za-z]{16,}$/);
		expect(payload.pcr).toBeUndefined();

		expect(session.setCookie).toBe(
			`hexcovery_refresh=${session.cookie}; Max-Age=${30 * 86_400}; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict`,
		);
	});

	it("issues a fresh jti on every login", async () => {
		const seeded = await seedUser(h);
		const first = await verifyWithJwks(h, (await loginOk(h, seeded)).token);
		const second = await verifyWithJwks(h, (await loginOk(h, seeded)).token);
		expect(first.payload.jti).not.toBe(second.payload.jti);
	});

	it("the access token works on GET /api/v1/me and GET /api/v1/annotations", async () => {
		const seeded = await seedUser(h, { role: "viewer" });
		const { token } = await loginOk(h, seeded);
		const me = await get("/api/v1/me", { token });
		expect(me.status).toBe(200);
		expect(((await me.json()) as UserJson).id).toBe(seeded.user.id);
		const list = await get("/api/v1/annotations", { token });
		expect(list.status).toBe(200);
	});

	it("treats the email case-insensitively and ignores surrounding spaces", async () => {
		const seeded = await seedUser(h);
		const session = await loginOk(h, { email: `  ${seeded.email.toUpperCase()} `, password: PASSWORD });
		expect(session.body.user.id).toBe(seeded.user.id);
	});

	it("accepts the configured dashboard origin and the API's own origin", async () => {
		const seeded = await seedUser(h);
		await loginOk(h, seeded, {}, { headers: { Origin: ALLOWED_ORIGIN, "Sec-Fetch-Site": "same-site" } });
		await loginOk(h, seeded, {}, { headers: { Origin: SAME_ORIGIN, "Sec-Fetch-Site": "same-origin" } });
	});

	it("rehashes a password stored with older scrypt parameters", async () => {
		// The same scheme at a lower cost than the app's, as an older release would have stored it.
		const salt = randomBytes(16);
		const b64 = (bytes: Buffer) => bytes.toString("base64").replace(/=+$/, "");
		const old = `$scrypt$ln=10,r=8,p=1$${b64(salt)}$${b64(scryptSync(PASSWORD, salt, 32, { N: 1024, r: 8, p: 1 }))}`;
		const seeded = await seedUser(h, { passwordHash: old });

		await loginOk(h, seeded);
		const [row] = await h.database.db.select().from(users).where(eq(users.id, seeded.user.id));
		expect(row?.passwordHash).toMatch(APP_HASHING);
		expect((await verifyPassword(PASSWORD, row?.passwordHash as string)).ok).toBe(true);
		await loginOk(h, seeded);
	});
});

describe("TOTP two-factor authentication", () => {
	it("setup answers a base32 secret and an otpauth:// URI; enable answers 10 distinct recovery codes", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const setup = await call(h, "/api/v1/auth/totp/setup", { token });
		expect(setup.status).toBe(200);
		const { secret, otpauth_uri } = (await setup.json()) as { secret: string; otpauth_uri: string };
		expect(secret).toMatch(/^[A-Z2-7]{32}$/);
		const uri = new URL(otpauth_uri);
		expect(uri.protocol).toBe("otpauth:");
		expect(uri.host).toBe("totp");
		expect(uri.searchParams.get("secret")).toBe(secret);
		expect(uri.searchParams.get("issuer")).toBe("Hexcovery");
		expect(decodeURIComponent(uri.pathname)).toContain(seeded.email);

		const enable = await call(h, "/api/v1/auth/totp/enable", {
			token,
			body: { password: seeded.password, code: await codeNow(h, secret) },
		});
		expect(enable.status).toBe(200);
		const { recovery_codes } = (await enable.json()) as { recovery_codes: string[] };
		expect(recovery_codes).toHaveLength(10);
		expect(new Set(recovery_codes).size).toBe(10);
		for (const code of recovery_codes) expect(code).toMatch(/^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$/);

		const me = await call(h, "/api/v1/me", { method: "GET", token });
		expect(((await me.json()) as UserJson).totp_enabled).toBe(true);
	});

	it("login with the current code (a later step than the one used to enable) → 200", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const session = await loginOk(h, seeded, { totp_code: await codeNow(h, secret) });
		expect(session.body.user.totp_enabled).toBe(true);
	});

	it("a recovery code logs in, in any case and with or without the dash", async () => {
		const seeded = await seedUser(h);
		const { recoveryCodes } = await enableTotp(h, (await loginOk(h, seeded)).token);
		const [first, second] = recoveryCodes as [string, string];
		await loginOk(h, seeded, { recovery_code: first });
		await loginOk(h, seeded, { recovery_code: ` ${second.replace("-", "").toUpperCase()} ` });
	});

	it("disable with password and code → 204; login then needs no code", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { secret } = await enableTotp(h, token);
		h.clock.advance(30_000);
		const disable = await call(h, "/api/v1/auth/totp/disable", {
			token,
			body: { password: PASSWORD, code: await codeNow(h, secret) },
		});
		expect(disable.status, await disable.clone().text()).toBe(204);
		const [row] = await h.database.db.select().from(users).where(eq(users.id, seeded.user.id));
		expect(row).toMatchObject({ totpSecret: null, totpEnabledAt: null });
		expect((await loginOk(h, seeded)).body.user.totp_enabled).toBe(false);
	});

	it("disable also takes a recovery code instead of the TOTP code", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { recoveryCodes } = await enableTotp(h, token);
		const disable = await call(h, "/api/v1/auth/totp/disable", {
			token,
			body: { password: PASSWORD, code: recoveryCodes[3] },
		});
		expect(disable.status, await disable.clone().text()).toBe(204);
		await loginOk(h, seeded);
	});
});

describe("POST /api/v1/auth/refresh", () => {
	it("rotates the cookie and answers a new, valid access token", async () => {
		const seeded = await seedUser(h, { role: "member" });
		const first = await loginOk(h, seeded);
		h.clock.advance(60_000);
		const second = await expectSession(await refresh(h, first.cookie));
		expect(second.cookie).not.toBe(first.cookie);
		expect(second.token).not.toBe(first.token);
		expect(second.body).toMatchObject({ token_type: "Bearer", expires_in: 900 });
		expect(second.body.user.id).toBe(seeded.user.id);
		const { payload } = await verifyWithJwks(h, second.token);
		expect(payload).toMatchObject({ sub: seeded.user.id, org_id: seeded.orgId, role: "member" });
		expect(payload.iat).toBe(Math.floor(h.clock.now() / 1000));
		// The cookie runs to the session's absolute expiry, 30 days after login.
		expect(second.setCookie).toContain(`; Max-Age=${30 * 86_400 - 60}; Path=/api/v1/auth; HttpOnly; Secure`);

		// The successor rotates in turn.
		h.clock.advance(60_000);
		const third = await expectSession(await refresh(h, second.cookie));
		expect(new Set([first.cookie, second.cookie, third.cookie]).size).toBe(3);
	});

	it("two refreshes racing with the same cookie both succeed (dashboard tabs)", async () => {
		const seeded = await seedUser(h);
		const { cookie } = await loginOk(h, seeded);
		const [a, b] = await Promise.all([refresh(h, cookie), refresh(h, cookie)]);
		const tabA = await expectSession(a as Response);
		const tabB = await expectSession(b as Response);
		expect(new Set([cookie, tabA.cookie, tabB.cookie]).size).toBe(3);
		// Each tab carries on with its own successor.
		h.clock.advance(60_000);
		await expectSession(await refresh(h, tabA.cookie));
		await expectSession(await refresh(h, tabB.cookie));
	});

	it("a rotated cookie presented again within 10 s still succeeds", async () => {
		const seeded = await seedUser(h);
		const { cookie } = await loginOk(h, seeded);
		await expectSession(await refresh(h, cookie));
		h.clock.advance(10_000);
		const late = await expectSession(await refresh(h, cookie));
		expect(late.cookie).not.toBe(cookie);
	});

	it("accepts the configured dashboard origin and the API's own origin", async () => {
		const seeded = await seedUser(h);
		let { cookie } = await loginOk(h, seeded);
		for (const origin of [ALLOWED_ORIGIN, SAME_ORIGIN]) {
			({ cookie } = await expectSession(await refresh(h, cookie, { headers: { Origin: origin } })));
		}
	});
});

describe("POST /api/v1/auth/logout", () => {
	it("answers 204, clears the cookie and revokes the session", async () => {
		const seeded = await seedUser(h);
		const { cookie } = await loginOk(h, seeded);
		const response = await logout(h, cookie, { headers: { Origin: ALLOWED_ORIGIN } });
		expect(response.status).toBe(204);
		expect(await response.text()).toBe("");
		expect(refreshCookieOf(response)?.line).toMatch(
			/^hexcovery_refresh=; Max-Age=0; Path=\/api\/v1\/auth; HttpOnly; Secure; SameSite=Strict/,
		);
		await expectError(await refresh(h, cookie), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("without a cookie still answers 204 and clears it", async () => {
		const response = await logout(h, undefined);
		expect(response.status).toBe(204);
		expect(refreshCookieOf(response)?.line).toMatch(/^hexcovery_refresh=; Max-Age=0; Path=\/api\/v1\/auth/);
	});
});

describe("POST /api/v1/me/password", () => {
	it("changes the password, starts a new session and ends every older one", async () => {
		const seeded = await seedUser(h);
		const older = await loginOk(h, seeded);
		const current = await loginOk(h, seeded);
		h.clock.advance(1_000);

		const response = await call(h, "/api/v1/me/password", {
			token: current.token,
			body: { current_password: PASSWORD, new_password: OTHER_PASSWORD },
		});
		const fresh = await expectSession(response);
		expect(fresh.body.user.id).toBe(seeded.user.id);
		expect(fresh.cookie).not.toBe(current.cookie);
		await verifyWithJwks(h, fresh.token);

		// Every refresh family the user had before is revoked; the new one works.
		await expectError(await refresh(h, older.cookie), 401, "invalid_token", BEARER_CHALLENGE);
		await expectError(await refresh(h, current.cookie), 401, "invalid_token", BEARER_CHALLENGE);
		await expectSession(await refresh(h, fresh.cookie));

		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD }),
			401,
			"invalid_credentials",
		);
		await loginOk(h, { email: seeded.email, password: OTHER_PASSWORD });
	});

	it("clears must_change_password: the new token reaches routes the old one could not", async () => {
		const seeded = await seedUser(h, { mustChangePassword: true, role: "member" });
		const first = await loginOk(h, seeded);
		expect(first.body.user.must_change_password).toBe(true);
		expect((await verifyWithJwks(h, first.token)).payload.pcr).toBe(true);
		// Before the change: /me is reachable, the rest is not.
		expect((await call(h, "/api/v1/me", { method: "GET", token: first.token })).status).toBe(200);
		await expectError(
			await call(h, "/api/v1/annotations", { method: "GET", token: first.token }),
			403,
			"password_change_required",
		);

		const changed = await expectSession(
			await call(h, "/api/v1/me/password", {
				token: first.token,
				body: { current_password: PASSWORD, new_password: OTHER_PASSWORD },
			}),
		);
		expect(changed.body.user.must_change_password).toBe(false);
		expect((await verifyWithJwks(h, changed.token)).payload.pcr).toBeUndefined();
		const [row] = await h.database.db.select().from(users).where(eq(users.id, seeded.user.id));
		expect(row?.mustChangePassword).toBe(false);
		expect((await call(h, "/api/v1/annotations", { method: "GET", token: changed.token })).status).toBe(200);
		// A refreshed token keeps it cleared.
		const refreshed = await expectSession(await refresh(h, changed.cookie));
		expect(refreshed.body.user.must_change_password).toBe(false);
	});
});
