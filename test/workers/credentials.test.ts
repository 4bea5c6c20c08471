/**
 * Contract §1, every row of the classification table, inside workerd through the Worker's own fetch
 * handler (real KV, libSQL through the HTTP stand-in, JWTs signed with the Worker's own keys).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/app-env.js";
import { generateApiKey } from "../../src/auth/api-key.js";
import { apiKeyOnly, apiKeyOrSession, requireAccess, sessionOnly } from "../../src/auth/credentials.js";
import { generateSigningKey } from "../../src/auth/jwt.js";
import { systemClock } from "../../src/clock.js";
import { type JwtSettings, publicJwkOf } from "../../src/config.js";
import { errorHandler } from "../../src/errors.js";
import { silentLog } from "../../src/log.js";
import { createApiKey, revokeApiKey } from "../../src/services/api-keys.js";
import {
	API_KEY_CHALLENGE,
	BEARER_CHALLENGE,
	db,
	expectError,
	expectOk,
	jwtSettings,
	mintToken,
	newKey,
	orgWithKey,
	workerFetch,
	workerLikeDeps,
} from "./support.js";

const PATH = "/api/v1/annotations";
type Headers = Record<string, string>;

const get = (headers: Headers = {}) => workerFetch(PATH, { headers });
const post = (headers: Headers = {}, body: unknown = { title: "Deploy v1" }) =>
	workerFetch(PATH, {
		method: "POST",
		headers: { "Content-Type": "application/json", ...headers },
		body: JSON.stringify(body),
	});

/** Flips the last checksum character to another base62 character. */
function badChecksum(valid: string): string {
	return valid.slice(0, -1) + (valid.at(-1) === "0" ? "1" : "0");
}

/** Settings identical to the Worker's but with a key the Worker has never seen. */
async function foreignSettings(sameKid: boolean): Promise<JwtSettings> {
	const key = await generateSigningKey();
	if (sameKid) key.kid = jwtSettings.signingKeys[0]?.kid ?? key.kid;
	return { ...jwtSettings, signingKeys: [key], publicKeys: [publicJwkOf(key)] };
}

let orgId: string;
let key: string;
let keyId: string;

beforeAll(async () => {
	({ orgId, key, keyId } = await orgWithKey("Credentials"));
});

describe("contract §1 table in workerd, row by row, on /api/v1/annotations", () => {
	it("row 1: both X-API-Key and Authorization → 400 ambiguous_credentials", async () => {
		const jwt = await mintToken({ orgId, role: "owner" });
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
		await expectError(
			await get({ "X-API-Key": "garbage", Authorization: "Basic Zm9vOmJhcg==" }),
			400,
			"ambiguous_credentials",
		);
		// A viewer token plus a key on POST: ambiguity is decided before the role.
		const viewer = await mintToken({ orgId, role: "viewer" });
		await expectError(
			await post({ "X-API-Key": key, Authorization: `Bearer ${viewer}` }),
			400,
			"ambiguous_credentials",
		);
	});

	it("row 2: a scheme other than Bearer → 401 unsupported_authorization_scheme", async () => {
		const jwt = await mintToken({ orgId });
		for (const value of [
			`Basic ${btoa("user:pass")}`,
			`Token ${jwt}`,
			`ApiKey ${key}`,
			`Bearer${jwt}`,
			jwt,
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
		for (const value of [key, generateApiKey(), "hxk_short"]) {
			await expectError(
				await get({ Authorization: `Bearer ${value}` }),
				401,
				"api_key_in_bearer_slot",
				BEARER_CHALLENGE,
			);
		}
	});

	it("row 4: X-API-Key: eyJ….….… → 401 jwt_in_api_key_slot, even for a valid token", async () => {
		const jwt = await mintToken({ orgId, role: "owner" });
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
			"hxk_",
			"not-a-key",
		]) {
			await expectError(await get({ "X-API-Key": value }), 401, "invalid_api_key", API_KEY_CHALLENGE);
		}
	});

	it("row 6: well-formed but unknown, revoked or expired → the same 401 invalid_api_key (no oracle)", async () => {
		const unknown = await expectError(
			await get({ "X-API-Key": generateApiKey() }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);

		// Revoked before the Worker ever saw it: nothing cached anywhere, the database answers.
		const revoked = await newKey(orgId, "revoked");
		expect(await revokeApiKey(db, systemClock, null, revoked.keyId)).toBe(true);
		const revokedBody = await expectError(
			await get({ "X-API-Key": revoked.key }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);

		// Expired a moment ago (workerd's clock cannot be moved, so the expiry is set in the past).
		const expired = await createApiKey(db, systemClock, {
			orgId,
			name: "expired",
			createdBy: "cli",
			expiresAt: Date.now() - 1_000,
		});
		const expiredBody = await expectError(
			await get({ "X-API-Key": expired.key }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);

		expect(revokedBody.error.message).toBe(unknown.error.message);
		expect(expiredBody.error.message).toBe(unknown.error.message);
		// The org's live key is unaffected, and a key expiring in the future works.
		await expectOk(await get({ "X-API-Key": key }));
		const later = await createApiKey(db, systemClock, {
			orgId,
			name: "expires later",
			createdBy: "cli",
			expiresAt: Date.now() + 3_600_000,
		});
		await expectOk(await get({ "X-API-Key": later.key }));
	});

	it("row 7: a Bearer token that fails verification → 401 invalid_token", async () => {
		for (const value of ["Bearer garbage", "Bearer ", "Bearer", "Bearer a.b.c", "Bearer eyJ.eyJ.sig"]) {
			await expectError(await get({ Authorization: value }), 401, "invalid_token", BEARER_CHALLENGE);
		}
		// Signed by a key the Worker does not hold: under an unknown kid, and under the Worker's own kid.
		for (const sameKid of [false, true]) {
			const forged = await mintToken({ orgId, role: "owner" }, { settings: await foreignSettings(sameKid) });
			await expectError(
				await get({ Authorization: `Bearer ${forged}` }),
				401,
				"invalid_token",
				BEARER_CHALLENGE,
			);
		}
		// The Worker's own key, but the wrong issuer or audience.
		for (const wrong of [{ issuer: "someone-else" }, { audience: "another-api" }]) {
			const token = await mintToken({ orgId }, { settings: { ...jwtSettings, ...wrong } });
			await expectError(
				await get({ Authorization: `Bearer ${token}` }),
				401,
				"invalid_token",
				BEARER_CHALLENGE,
			);
		}
		// A tampered payload (role raised to owner) under the original signature.
		const [h, p, s] = (await mintToken({ orgId, role: "viewer" })).split(".");
		const claims = JSON.parse(atob((p ?? "").replaceAll("-", "+").replaceAll("_", "/"))) as Record<
			string,
			unknown
		>;
		const raised = btoa(JSON.stringify({ ...claims, role: "owner" }))
			.replaceAll("+", "-")
			.replaceAll("/", "_")
			.replace(/=+$/, "");
		await expectError(
			await post({ Authorization: `Bearer ${h}.${raised}.${s}` }),
			401,
			"invalid_token",
			BEARER_CHALLENGE,
		);
	});

	it("row 8: a Bearer token past exp → 401 token_expired", async () => {
		const past = { now: () => Date.now() - 901_000 };
		const expired = await mintToken({ orgId, role: "owner" }, { clock: past });
		await expectError(
			await get({ Authorization: `Bearer ${expired}` }),
			401,
			"token_expired",
			BEARER_CHALLENGE,
		);
		// The same signer a little less far back is still inside its 900 s.
		const fresh = await mintToken({ orgId, role: "owner" }, { clock: { now: () => Date.now() - 600_000 } });
		await expectOk(await get({ Authorization: `Bearer ${fresh}` }));
	});

	it("row 9: no credential on a protected route → 401 missing_credentials with the ApiKey challenge", async () => {
		await expectError(await get(), 401, "missing_credentials", API_KEY_CHALLENGE);
		await expectError(await post(), 401, "missing_credentials", API_KEY_CHALLENGE);
		await expectError(
			await workerFetch(`${PATH}/ann_x`, { method: "DELETE" }),
			401,
			"missing_credentials",
			API_KEY_CHALLENGE,
		);
	});

	it("row 12: a valid JWT whose role is too low → 403 insufficient_role (viewer POSTing)", async () => {
		const viewer = await mintToken({ orgId, role: "viewer" });
		await expectOk(await get({ Authorization: `Bearer ${viewer}` }));
		await expectError(await post({ Authorization: `Bearer ${viewer}` }), 403, "insufficient_role");
		const list = await expectOk<{ data: { title: string }[] }>(await get({ "X-API-Key": key }));
		expect(list.data.map((a) => a.title)).not.toContain("Deploy v1");
	});

	it("accepted: a key reads and writes; JWT viewer+ reads, member+ writes", async () => {
		const created = await expectOk<{ created_by: { type: string; id: string } }>(
			await post({ "X-API-Key": key }, { title: "by key" }),
			201,
		);
		expect(created.created_by).toMatchObject({ type: "api_key", id: keyId });
		for (const role of ["member", "admin", "owner"] as const) {
			const jwt = await mintToken({ orgId, role, userId: `usr_${role}` });
			const byUser = await expectOk<{ created_by: { type: string; id: string } }>(
				await post({ Authorization: `bearer ${jwt}` }, { title: `by ${role}` }),
				201,
			);
			expect(byUser.created_by).toMatchObject({ type: "user", id: `usr_${role}` });
		}
		const titles = (
			await expectOk<{ data: { title: string }[] }>(await get({ "X-API-Key": ` ${key} ` }))
		).data.map((a) => a.title);
		expect(titles).toEqual(expect.arrayContaining(["by key", "by member", "by admin", "by owner"]));
	});
});

describe("rows 10 and 11: route policies, in a tiny app built from the real guard and Worker-like deps", () => {
	function policyApp() {
		const deps = workerLikeDeps();
		const app = new Hono<AppEnv>();
		app.use(requestId());
		app.get("/session", requireAccess(deps, sessionOnly("viewer")), (c) =>
			c.json({ who: c.var.principal.kind }),
		);
		app.get("/admin", requireAccess(deps, sessionOnly("admin")), (c) =>
			c.json({ who: c.var.principal.kind }),
		);
		app.post("/heartbeat", requireAccess(deps, apiKeyOnly), (c) => c.json({ who: c.var.principal.kind }));
		app.get("/either", requireAccess(deps, apiKeyOrSession("member")), (c) =>
			c.json({ who: c.var.principal.kind }),
		);
		app.onError(errorHandler(silentLog));
		return async (path: string, init: RequestInit = {}) => {
			const ctx = createExecutionContext();
			const res = await app.fetch(new Request(`https://policy.test${path}`, init), env, ctx);
			await waitOnExecutionContext(ctx);
			return res;
		};
	}

	it("row 10: a valid API key on a session-only route → 403 session_required", async () => {
		const call = policyApp();
		await expectError(await call("/session", { headers: { "X-API-Key": key } }), 403, "session_required");
		await expectError(await call("/admin", { headers: { "X-API-Key": key } }), 403, "session_required");
		const viewer = await mintToken({ orgId, role: "viewer" });
		expect(
			await expectOk(await call("/session", { headers: { Authorization: `Bearer ${viewer}` } })),
		).toEqual({
			who: "user",
		});
	});

	it("row 11: a valid JWT on an API-key-only route → 403 api_key_required, whatever the role", async () => {
		const call = policyApp();
		for (const role of ["viewer", "member", "admin", "owner"] as const) {
			const jwt = await mintToken({ orgId, role });
			await expectError(
				await call("/heartbeat", { method: "POST", headers: { Authorization: `Bearer ${jwt}` } }),
				403,
				"api_key_required",
			);
		}
		expect(
			await expectOk(await call("/heartbeat", { method: "POST", headers: { "X-API-Key": key } })),
		).toEqual({
			who: "api_key",
		});
	});

	it("role and authentication order on the policy routes", async () => {
		const call = policyApp();
		for (const role of ["viewer", "member"] as const) {
			const jwt = await mintToken({ orgId, role });
			await expectError(
				await call("/admin", { headers: { Authorization: `Bearer ${jwt}` } }),
				403,
				"insufficient_role",
			);
		}
		const admin = await mintToken({ orgId, role: "admin" });
		await expectOk(await call("/admin", { headers: { Authorization: `Bearer ${admin}` } }));
		const viewer = await mintToken({ orgId, role: "viewer" });
		await expectError(
			await call("/either", { headers: { Authorization: `Bearer ${viewer}` } }),
			403,
			"insufficient_role",
		);
		await expectOk(await call("/either", { headers: { "X-API-Key": key } }));
		// Authentication precedes policy: a bad credential is 401 on any route, never 403.
		await expectError(
			await call("/session", { headers: { "X-API-Key": generateApiKey() } }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);
		await expectError(
			await call("/heartbeat", { method: "POST", headers: { Authorization: "Bearer nope" } }),
			401,
			"invalid_token",
			BEARER_CHALLENGE,
		);
		for (const path of ["/session", "/admin", "/either"]) {
			await expectError(await call(path), 401, "missing_credentials", API_KEY_CHALLENGE);
		}
		await expectError(
			await call("/heartbeat", { method: "POST" }),
			401,
			"missing_credentials",
			API_KEY_CHALLENGE,
		);
	});
});
