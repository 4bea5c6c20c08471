import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operationIdFor } from "../../src/http/openapi.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

interface Operation {
	operationId?: string;
	security?: Record<string, string[]>[];
	requestBody?: { content: Record<string, unknown> };
	responses: Record<string, unknown>;
}
interface Document {
	servers?: { url: string }[];
	info: { license?: { name: string } };
	paths: Record<string, Record<string, Operation>>;
}

let t: TestApp;
let doc: Document;
beforeAll(async () => {
	t = await createTestApp();
	doc = (await (await t.app.request("/api/v1/openapi.json")).json()) as Document;
});
afterAll(() => t.close());

function operations(): { method: string; path: string; op: Operation }[] {
	return Object.entries(doc.paths).flatMap(([path, ops]) =>
		Object.entries(ops).map(([method, op]) => ({ method, path, op })),
	);
}

describe("the OpenAPI document (what `npm run lint` checks with Redocly, asserted here too)", () => {
	it("derives operation ids from the method and the path", () => {
		expect(operationIdFor("get", "/api/v1/annotations/{id}")).toBe("getAnnotationsById");
		expect(operationIdFor("post", "/api/v1/heartbeat/{slug}/{exit_code}")).toBe(
			"postHeartbeatBySlugByExitCode",
		);
		expect(operationIdFor("delete", "/api/v1/teams/{id}/members/{user_id}")).toBe(
			"deleteTeamsByIdMembersByUserId",
		);
		expect(operationIdFor("get", "/api/v1/notification-channels")).toBe("getNotificationChannels");
		expect(operationIdFor("post", "/v1/traces")).toBe("postV1Traces");
		expect(operationIdFor("get", "/.well-known/jwks.json")).toBe("getWellKnownJwksJson");
	});

	it("gives every operation a unique operationId", () => {
		const ids = operations().map(({ op }) => op.operationId);
		expect(ids.length).toBeGreaterThan(70);
		for (const id of ids) expect(id).toMatch(/^[a-z]+[A-Za-z0-9]*$/);
		expect(new Set(ids).size).toBe(ids.length);
		expect(doc.paths["/api/v1/annotations/{id}"]?.put?.operationId).toBe("putAnnotationsById");
	});

	it("declares security on every operation: none on the public routes, a scheme on the rest", () => {
		const publicRoutes = [
			"get /health",
			"get /.well-known/jwks.json",
			"get /api/v1/setup",
			"post /api/v1/setup",
			"post /api/v1/auth/login",
			"post /api/v1/auth/refresh",
			"post /api/v1/auth/logout",
		];
		for (const { method, path, op } of operations()) {
			expect(op.security, `${method} ${path}`).toBeDefined();
			if (publicRoutes.includes(`${method} ${path}`)) expect(op.security).toEqual([]);
			else expect(op.security?.length, `${method} ${path}`).toBeGreaterThan(0);
		}
	});

	it("lists a 4xx on every operation but the three public GETs that cannot answer one", async () => {
		const noClientError = ["get /health", "get /.well-known/jwks.json", "get /api/v1/setup"];
		for (const { method, path, op } of operations()) {
			const has4xx = Object.keys(op.responses).some((status) => /^4/.test(status));
			expect(has4xx, `${method} ${path}`).toBe(!noClientError.includes(`${method} ${path}`));
		}
		// Those three really answer nothing but 200, whatever credential or junk comes along.
		for (const path of ["/health", "/.well-known/jwks.json", "/api/v1/setup"]) {
			const res = await t.app.request(`${path}?org_id=x`, {
				headers: { "X-API-Key": "hxk_nonsense", Authorization: "Basic eA==" },
			});
			expect(res.status, path).toBe(200);
		}
	});

	it("lists what every credentialed route and every JSON body can answer: 400 and 401; 400, 413 and 415", async () => {
		for (const { method, path, op } of operations()) {
			if (path.startsWith("/v1/")) continue; // OTLP: google.rpc.Status, its own list
			const statuses = Object.keys(op.responses);
			if ((op.security ?? []).length > 0)
				expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(["400", "401"]));
			if (op.requestBody?.content["application/json"])
				expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(["400", "413", "415"]));
		}
		// What the security review saw answered but not listed: GET /api/v1/me → 400, PATCH → 415.
		const { key } = await t.createOrgWithKey();
		const ambiguous = await t.app.request("/api/v1/me", {
			headers: { "X-API-Key": key, Authorization: "Bearer x.y.z" },
		});
		expect(ambiguous.status).toBe(400);
		expect(Object.keys(doc.paths["/api/v1/me"]?.get?.responses ?? {})).toContain("400");
		expect(Object.keys(doc.paths["/api/v1/me"]?.patch?.responses ?? {})).toEqual(
			expect.arrayContaining(["413", "415"]),
		);
	});

	it("names its server (relative to where it is served) and a license", () => {
		expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
		expect(doc.info.license?.name).toEqual(expect.any(String));
	});
});
