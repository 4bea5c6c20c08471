import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/app-env.js";
import { checksumOf, generateApiKey } from "../../src/auth/api-key.js";
import { apiKeyOnly, apiKeyOrSession, requireAccess, sessionOnly } from "../../src/auth/credentials.js";
import { errorHandler } from "../../src/errors.js";
import { silentLog } from "../../src/log.js";
import { createApiKey, revokeApiKey } from "../../src/services/api-keys.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const BEARER_CHALLENGE = 'Bearer realm="hexcovery", error="invalid_token"';
const API_KEY_CHALLENGE = 'ApiKey realm="hexcovery", header="X-API-Key"';
const PATH = "/api/v1/annotations";

interface ErrorJson {
	error: { code: string; message: string; request_id: string };
}

type Headers = Record<string, string>;

let t: TestApp;
let orgId: string;
let key: string;
let keyId: string;

beforeAll(async () => {
	t = await createTestApp();
	({ orgId, key, keyId } = await t.createOrgWithKey("Credentials Co"));
});
afterAll(() => t.close());

function get(headers: Headers = {}): Promise<Response> {
	return Promise.resolve(t.app.request(PATH, { method: "GET", headers }));
}

function post(headers: Headers = {}, body: unknown = { title: "Deploy v1" }): Promise<Response> {
	return Promise.resolve(
		t.app.request(PATH, {
			method: "POST",
			headers: { "Content-Type": "application/json", ...headers },
			body: JSON.stringify(body),
		}),
	);
}

/** Asserts the status, the error code, X-Request-Id (also in the body) and, for 401s, the challenge. */
async function expectError(
	response: Response,
	status: number,
	code: string,
	challenge?: string,
): Promise<ErrorJson> {
	const body = (await response.json()) as ErrorJson;
	expect({ status: response.status, code: body.error?.code }).toEqual({ status, code });
	const id = response.headers.get("X-Request-Id");
	expect(id).toBeTruthy();
	expect(body.error.request_id).toBe(id);
	expect(typeof body.error.message).toBe("string");
	expect(body.error.message.length).toBeGreaterThan(0);
	if (status === 401) {
		expect(challenge, "every 401 needs an expected challenge").toBeDefined();
		expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
	}
	return body;
}

async function expectOk(response: Response, status = 200): Promise<unknown> {
	const text = await response.text();
	expect(response.status, text).toBe(status);
	expect(response.headers.get("X-Request-Id")).toBeTruthy();
	return JSON.parse(text);
}

/** A well-formed key (valid checksum) that is not in the database. */
function unknownKey(): string {
	return generateApiKey();
}

/** Flips the last checksum character to another base62 character. */
function badChecksum(valid: string): string {
	const last = valid.at(-1) === "0" ? "1" : "0";
	return valid.slice(0, -1) + last;
}

describe("contract §1 table, row by row, on /api/v1/annotations", () => {
	it("row 1: both X-API-Key and Authorization → 400 ambiguous_credentials", async () => {
		const jwt = await t.mintToken({ orgId, role: "owner" });
		await expectError(
			await get({ "X-API-Key": key, Authorization: `Bearer ${jwt}` }),
			400,
			"ambiguous_credentials",
		);
		await expectError(
			await post({ "X-API-Key": key, Authorization: `Bearer ${jwt}` }),
			400,
			"ambiguous_credentials",
		);
	});

	it("row 2: Authorization with a scheme other than Bearer → 401 unsupported_authorization_scheme", async () => {
		const jwt = await t.mintToken({ orgId });
		for (const value of [
			`Basic ${btoa("user:pass")}`,
			`Basic ${btoa(`${key}:`)}`,
			`Token ${jwt}`,
			`ApiKey ${key}`,
			`Digest username="x"`,
			`Bearer${jwt}`,
			jwt,
			"Bearer-ish abc",
		]) {
			await expectError(
				await get({ Authorization: value }),
				401,
				"unsupported_authorization_scheme",
				BEARER_CHALLENGE,
			);
		}
	});

	it("row 3: Authorization: Bearer hxk_… → 401 api_key_in_bearer_slot, even for a valid key", async () => {
		await expectError(
			await get({ Authorization: `Bearer ${key}` }),
			401,
			"api_key_in_bearer_slot",
			BEARER_CHALLENGE,
		);
		await expectError(
			await get({ Authorization: `Bearer ${unknownKey()}` }),
			401,
			"api_key_in_bearer_slot",
			BEARER_CHALLENGE,
		);
		await expectError(
			await get({ Authorization: "Bearer hxk_short" }),
			401,
			"api_key_in_bearer_slot",
			BEARER_CHALLENGE,
		);
	});

	it("row 4: X-API-Key: eyJ….….… → 401 jwt_in_api_key_slot, even for a valid token", async () => {
		const jwt = await t.mintToken({ orgId, role: "owner" });
		await expectError(await get({ "X-API-Key": jwt }), 401, "jwt_in_api_key_slot", API_KEY_CHALLENGE);
		await expectError(
			await get({ "X-API-Key": "eyJhbGciOiJub25lIn0.e30." }),
			401,
			"jwt_in_api_key_slot",
			API_KEY_CHALLENGE,
		);
	});

	it("row 5: X-API-Key malformed or with a bad checksum → 401 invalid_api_key", async () => {
		for (const value of [
			badChecksum(key),
			key.slice(0, 39),
			`${key}0`,
			`HXK_${key.slice(4)}`,
			`sk_${key.slice(3)}`,
			"hxk_",
			"not-a-key",
			`${key.slice(0, 20)}!${key.slice(21)}`,
		]) {
			await expectError(await get({ "X-API-Key": value }), 401, "invalid_api_key", API_KEY_CHALLENGE);
		}
	});

	it("row 6: X-API-Key well-formed but unknown, revoked or expired → one identical answer (no oracle)", async () => {
		const unknown = await expectError(
			await get({ "X-API-Key": unknownKey() }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);

		const revoked = await createApiKey(t.database.db, t.clock, {
			orgId,
			name: "to revoke",
			createdBy: "cli",
		});
		await expectOk(await get({ "X-API-Key": revoked.key }));
		expect(await revokeApiKey(t.database.db, t.clock, t.deps.keyResolver, revoked.summary.id)).toBe(true);
		const revokedBody = await expectError(
			await get({ "X-API-Key": revoked.key }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);

		const expiring = await createApiKey(t.database.db, t.clock, {
			orgId,
			name: "expiring",
			createdBy: "cli",
			expiresAt: t.clock.now() + 60_000,
		});
		await expectOk(await get({ "X-API-Key": expiring.key }));
		t.clock.advance(60_000);
		const expiredBody = await expectError(
			await get({ "X-API-Key": expiring.key }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);

		// Same code, same message, same challenge: only the request id differs.
		expect(revokedBody.error.message).toBe(unknown.error.message);
		expect(expiredBody.error.message).toBe(unknown.error.message);
		// The one usable key still works (the org's other key was never touched).
		await expectOk(await get({ "X-API-Key": key }));
	});

	it("row 7: a Bearer token that fails verification → 401 invalid_token", async () => {
		for (const value of ["Bearer garbage", "Bearer ", "Bearer", "Bearer a.b.c", "Bearer eyJ.eyJ.sig"]) {
			await expectError(await get({ Authorization: value }), 401, "invalid_token", BEARER_CHALLENGE);
		}
	});

	it("row 8: a Bearer token past exp → 401 token_expired", async () => {
		const jwt = await t.mintToken({ orgId });
		await expectOk(await get({ Authorization: `Bearer ${jwt}` }));
		t.clock.advance(901_000);
		await expectError(await get({ Authorization: `Bearer ${jwt}` }), 401, "token_expired", BEARER_CHALLENGE);
	});

	it("row 9: no credential on a protected route → 401 missing_credentials with the ApiKey challenge", async () => {
		await expectError(await get(), 401, "missing_credentials", API_KEY_CHALLENGE);
		await expectError(await post(), 401, "missing_credentials", API_KEY_CHALLENGE);
	});

	it("row 12: a valid JWT whose role is too low → 403 insufficient_role (viewer POSTing)", async () => {
		const viewer = await t.mintToken({ orgId, role: "viewer" });
		await expectOk(await get({ Authorization: `Bearer ${viewer}` }));
		await expectError(await post({ Authorization: `Bearer ${viewer}` }), 403, "insufficient_role");
	});
});

describe("accepted credentials on /api/v1/annotations", () => {
	it("a valid API key reads (200) and writes (201)", async () => {
		await expectOk(await get({ "X-API-Key": key }));
		const created = (await expectOk(await post({ "X-API-Key": key }, { title: "by key" }), 201)) as {
			created_by: { type: string; id: string };
		};
		expect(created.created_by).toMatchObject({ type: "api_key", id: keyId });
	});

	it("JWT roles: viewer+ reads, member+ writes", async () => {
		for (const role of ["viewer", "member", "admin", "owner"] as const) {
			const jwt = await t.mintToken({ orgId, role });
			await expectOk(await get({ Authorization: `Bearer ${jwt}` }));
		}
		for (const role of ["member", "admin", "owner"] as const) {
			const jwt = await t.mintToken({ orgId, role });
			await expectOk(await post({ Authorization: `Bearer ${jwt}` }, { title: `by ${role}` }), 201);
		}
	});

	it("the scheme name is case-insensitive (RFC 7235) and surrounding spaces are tolerated", async () => {
		const jwt = await t.mintToken({ orgId, role: "viewer" });
		await expectOk(await get({ Authorization: `bearer ${jwt}` }));
		await expectOk(await get({ Authorization: `BEARER   ${jwt}` }));
		await expectOk(await get({ "X-API-Key": ` ${key} ` }));
	});
});

describe("precedence: classification happens before any lookup", () => {
	it("both headers, one of them garbage → still 400 ambiguous_credentials", async () => {
		const jwt = await t.mintToken({ orgId });
		await expectError(
			await get({ "X-API-Key": "garbage", Authorization: `Bearer ${jwt}` }),
			400,
			"ambiguous_credentials",
		);
		await expectError(
			await get({ "X-API-Key": key, Authorization: "Bearer garbage" }),
			400,
			"ambiguous_credentials",
		);
		await expectError(
			await get({ "X-API-Key": key, Authorization: "Basic Zm9vOmJhcg==" }),
			400,
			"ambiguous_credentials",
		);
		await expectError(await get({ "X-API-Key": "", Authorization: "" }), 400, "ambiguous_credentials");
	});

	it("ambiguity wins over a missing role: a viewer token plus a key on POST is 400, not 403", async () => {
		const viewer = await t.mintToken({ orgId, role: "viewer" });
		await expectError(
			await post({ "X-API-Key": key, Authorization: `Bearer ${viewer}` }),
			400,
			"ambiguous_credentials",
		);
	});

	it("security: a key in the wrong slot, a bad checksum or ambiguity costs no database read", async () => {
		const before = t.store.reads;
		const jwt = await t.mintToken({ orgId });
		await expectError(
			await get({ Authorization: `Bearer ${unknownKey()}` }),
			401,
			"api_key_in_bearer_slot",
			BEARER_CHALLENGE,
		);
		await expectError(await get({ "X-API-Key": jwt }), 401, "jwt_in_api_key_slot", API_KEY_CHALLENGE);
		const random = unknownKey().slice(4, 34);
		await expectError(
			await get({ "X-API-Key": `hxk_${random}${checksumOf(`${random.slice(1)}x`)}` }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);
		await expectError(
			await get({ "X-API-Key": unknownKey(), Authorization: `Bearer ${jwt}` }),
			400,
			"ambiguous_credentials",
		);
		expect(t.store.reads).toBe(before);
		// The counter does move for a well-formed unknown key, so the assertion above can fail.
		await expectError(await get({ "X-API-Key": unknownKey() }), 401, "invalid_api_key", API_KEY_CHALLENGE);
		expect(t.store.reads).toBe(before + 1);
	});

	it("security: JWT verification makes no database read", async () => {
		const before = t.store.reads;
		const jwt = await t.mintToken({ orgId, role: "viewer" });
		await expectOk(await get({ Authorization: `Bearer ${jwt}` }));
		await expectError(await get({ Authorization: "Bearer x.y.z" }), 401, "invalid_token", BEARER_CHALLENGE);
		expect(t.store.reads).toBe(before);
	});
});

describe("route policies: session-only and API-key-only (authorize via requireAccess)", () => {
	function policyApp() {
		const app = new Hono<AppEnv>();
		app.use(requestId());
		app.get("/session", requireAccess(t.deps, sessionOnly("viewer")), (c) =>
			c.json({ who: c.var.principal.kind }),
		);
		app.get("/admin", requireAccess(t.deps, sessionOnly("admin")), (c) =>
			c.json({ who: c.var.principal.kind }),
		);
		app.get("/key", requireAccess(t.deps, apiKeyOnly), (c) => c.json({ who: c.var.principal.kind }));
		app.get("/either", requireAccess(t.deps, apiKeyOrSession("member")), (c) =>
			c.json({ who: c.var.principal.kind }),
		);
		app.onError(errorHandler(silentLog));
		return app;
	}

	it("row 10: a valid API key on a session-only route → 403 session_required", async () => {
		const app = policyApp();
		await expectError(
			await app.request("/session", { headers: { "X-API-Key": key } }),
			403,
			"session_required",
		);
		await expectError(
			await app.request("/admin", { headers: { "X-API-Key": key } }),
			403,
			"session_required",
		);
		const jwt = await t.mintToken({ orgId, role: "viewer" });
		const ok = await app.request("/session", { headers: { Authorization: `Bearer ${jwt}` } });
		expect(ok.status).toBe(200);
		expect(await ok.json()).toEqual({ who: "user" });
	});

	it("row 11: a valid JWT on an API-key-only route → 403 api_key_required, whatever the role", async () => {
		const app = policyApp();
		for (const role of ["viewer", "member", "admin", "owner"] as const) {
			const jwt = await t.mintToken({ orgId, role });
			await expectError(
				await app.request("/key", { headers: { Authorization: `Bearer ${jwt}` } }),
				403,
				"api_key_required",
			);
		}
		const ok = await app.request("/key", { headers: { "X-API-Key": key } });
		expect(ok.status).toBe(200);
		expect(await ok.json()).toEqual({ who: "api_key" });
	});

	it("insufficient_role on a session-only admin route; missing credentials stay 401 everywhere", async () => {
		const app = policyApp();
		for (const role of ["viewer", "member"] as const) {
			const jwt = await t.mintToken({ orgId, role });
			await expectError(
				await app.request("/admin", { headers: { Authorization: `Bearer ${jwt}` } }),
				403,
				"insufficient_role",
			);
		}
		const admin = await t.mintToken({ orgId, role: "admin" });
		expect((await app.request("/admin", { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
		for (const path of ["/session", "/admin", "/key", "/either"]) {
			await expectError(await app.request(path), 401, "missing_credentials", API_KEY_CHALLENGE);
		}
	});

	it("authentication errors precede policy: a bad key on a session-only route is 401, not 403", async () => {
		const app = policyApp();
		await expectError(
			await app.request("/session", { headers: { "X-API-Key": unknownKey() } }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);
		await expectError(
			await app.request("/key", { headers: { Authorization: "Bearer nope" } }),
			401,
			"invalid_token",
			BEARER_CHALLENGE,
		);
	});

	it("apiKeyOrSession(member) accepts a key and a member, refuses a viewer", async () => {
		const app = policyApp();
		expect((await app.request("/either", { headers: { "X-API-Key": key } })).status).toBe(200);
		const member = await t.mintToken({ orgId, role: "member" });
		expect((await app.request("/either", { headers: { Authorization: `Bearer ${member}` } })).status).toBe(
			200,
		);
		const viewer = await t.mintToken({ orgId, role: "viewer" });
		await expectError(
			await app.request("/either", { headers: { Authorization: `Bearer ${viewer}` } }),
			403,
			"insufficient_role",
		);
	});
});
