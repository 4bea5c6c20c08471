/**
 * Security review finding 8: no `X-Content-Type-Options: nosniff`, no `Cache-Control: no-store` on
 * responses carrying tokens or secrets. Every response now carries nosniff; every /api/ response
 * without its own policy carries no-store.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { call, createAuthApp, type Harness, loginOk, refresh, seedUser } from "./auth-support.js";

let h: Harness;
beforeEach(async () => {
	h = await createAuthApp();
});
afterEach(() => h.close());

function expectNoStore(response: Response, what: string) {
	expect(response.status, what).toBeLessThan(300);
	expect(response.headers.get("Cache-Control"), what).toBe("no-store");
	expect(response.headers.get("X-Content-Type-Options"), what).toBe("nosniff");
}

describe("security headers (finding 8)", () => {
	it("login, refresh, TOTP setup, API key creation and invitations answer Cache-Control: no-store", async () => {
		const seeded = await seedUser(h, { role: "owner" });
		const login = await call(h, "/api/v1/auth/login", {
			address: "192.0.2.1",
			body: { email: seeded.email, password: seeded.password },
		});
		expectNoStore(login, "login");
		const { token, cookie } = await loginOk(h, seeded);
		expectNoStore(await refresh(h, cookie, { headers: { Origin: "http://localhost" } }), "refresh");
		expectNoStore(await call(h, "/api/v1/auth/totp/setup", { token, method: "POST" }), "totp setup");
		expectNoStore(
			await call(h, "/api/v1/api-keys", { token, method: "POST", body: { name: "ci" } }),
			"key creation",
		);
		expectNoStore(
			await call(h, "/api/v1/users", {
				token,
				method: "POST",
				body: { email: "new.member@example.com", name: "New", role: "member" },
			}),
			"invitation",
		);
		expectNoStore(await call(h, "/api/v1/me", { token, method: "GET" }), "me");
	});

	it("every response carries nosniff: health, errors, 404, 405, OTLP, the docs page", async () => {
		const responses = await Promise.all([
			h.app.request("/health"),
			h.app.request("/api/v1/annotations"),
			h.app.request("/nowhere"),
			h.app.request("/api/v1/heartbeat/job", { method: "GET" }),
			h.app.request("/v1/logs", {
				method: "POST",
				body: "{}",
				headers: { "Content-Type": "application/json" },
			}),
			h.app.request("/docs"),
			h.app.request("/.well-known/jwks.json"),
		]);
		expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 405, 401, 200, 200]);
		for (const response of responses) expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
		// Errors under /api/ are not cached either; the JWKS keeps its own public policy.
		expect(responses[1]?.headers.get("Cache-Control")).toBe("no-store");
		expect(responses[6]?.headers.get("Cache-Control")).toBe("public, max-age=300");
	});

	it("a client X-Request-Id is kept only when safe; CR/LF, markup or 129 characters get a fresh UUID", async () => {
		const kept = await h.app.request("/health", { headers: { "X-Request-Id": "ci-run_42=" } });
		expect(kept.headers.get("X-Request-Id")).toBe("ci-run_42=");
		for (const incoming of ["a\tb", "<img src=x>", 'a"b', "x".repeat(129), "id%0d%0aSet-Cookie:x"]) {
			const response = await h.app.request("/health", { headers: { "X-Request-Id": incoming } });
			expect(response.headers.get("X-Request-Id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
		}
	});
});
