import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createAuthApp, type Harness, loginOk, seedUser } from "./auth-support.js";

let h: Harness;
beforeAll(async () => {
	h = await createAuthApp();
});
afterAll(() => h.close());

describe("security: password checks behind a session share the login back-off", () => {
	it("a stolen access token cannot guess the current password at full speed on /me/password", async () => {
		const seeded = await seedUser(h);
		const { token: accessToken } = await loginOk(h, seeded);
		const change = (current: string) =>
			call(h, "/api/v1/me/password", {
				token: accessToken,
				body: { current_password: current, new_password: "a brand new passphrase 77" },
			});
		for (let i = 0; i < 5; i++) expect((await change(`wrong guess ${i}`)).status).toBe(401);
		// Blocked now — even the right password waits, and the account's login waits too.
		const blocked = await change(seeded.password);
		expect(blocked.status).toBe(429);
		expect(Number(blocked.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		h.clock.advance(60_000);
		expect((await change(seeded.password)).status).toBe(200);
	});

	it("failed logins and /me/password share the account's scope", async () => {
		const seeded = await seedUser(h);
		const { token: accessToken } = await loginOk(h, seeded);
		for (let i = 0; i < 5; i++) {
			const login = await call(h, "/api/v1/auth/login", {
				body: { email: seeded.email, password: `nope ${i}` },
			});
			expect(login.status).toBe(401);
		}
		const change = await call(h, "/api/v1/me/password", {
			token: accessToken,
			body: { current_password: seeded.password, new_password: "a brand new passphrase 78" },
		});
		expect(change.status).toBe(429);
	});
});
