import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { queryNumber } from "../../src/http/openapi.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

let t: TestApp;

beforeEach(async () => {
	t = await createTestApp({ clock: new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0)) });
});
afterEach(() => {
	vi.restoreAllMocks();
	t.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface ErrorJson {
	error: { code: string; message: string; request_id: string; details?: unknown };
}

async function errorOf(res: Response, status: number, code: string): Promise<ErrorJson> {
	expect(res.status).toBe(status);
	expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
	const body = (await res.json()) as ErrorJson;
	expect(body.error.code).toBe(code);
	expect(body.error.message).toEqual(expect.any(String));
	expect(body.error.request_id).toBe(res.headers.get("X-Request-Id"));
	return body;
}

/** No stack frames, SQL or driver text in what a client sees. */
function expectNoLeak(text: string) {
	expect(text).not.toMatch(/\bat \S+ \(|\bat file:|\bat async /);
	expect(text).not.toMatch(/SQL|SELECT|INSERT|annotations\.|Failed query|libsql|drizzle|node_modules/i);
	expect(text).not.toMatch(/\.ts:\d+|\.js:\d+/);
}

describe("http basics: happy", () => {
	it("GET /health answers 200 {status: ok}", async () => {
		const res = await t.app.request("/health");
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ status: "ok" });
		expect(res.headers.get("X-Request-Id")).toMatch(UUID);
	});

	it("gives each response its own X-Request-Id and echoes a well-formed incoming one", async () => {
		const a = await t.app.request("/health");
		const b = await t.app.request("/health");
		expect(a.headers.get("X-Request-Id")).toMatch(UUID);
		expect(b.headers.get("X-Request-Id")).toMatch(UUID);
		expect(a.headers.get("X-Request-Id")).not.toBe(b.headers.get("X-Request-Id"));

		const echoed = await t.app.request("/health", { headers: { "X-Request-Id": "req-42_abc=" } });
		expect(echoed.headers.get("X-Request-Id")).toBe("req-42_abc=");
	});

	it("replaces a malformed or overlong incoming X-Request-Id with a fresh one", async () => {
		for (const incoming of ["has space", "semi;colon", "<script>", "x".repeat(129)]) {
			const res = await t.app.request("/health", { headers: { "X-Request-Id": incoming } });
			expect(res.headers.get("X-Request-Id")).toMatch(UUID);
		}
	});

	it("echoes the incoming X-Request-Id on errors, in the header and the body", async () => {
		const res = await t.app.request("/api/v1/annotations", { headers: { "X-Request-Id": "trace-7" } });
		expect(res.headers.get("X-Request-Id")).toBe("trace-7");
		const body = await errorOf(res, 401, "missing_credentials");
		expect(body.error.request_id).toBe("trace-7");
	});

	it("serves an OpenAPI 3.1 document with the annotation paths and both security schemes", async () => {
		const res = await t.app.request("/api/v1/openapi.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("X-Request-Id")).toMatch(UUID);
		const doc = (await res.json()) as {
			openapi: string;
			paths: Record<string, Record<string, { security?: unknown }>>;
			components: { securitySchemes: Record<string, Record<string, string>> };
		};
		expect(doc.openapi).toMatch(/^3\.1\./);
		expect(Object.keys(doc.paths)).toEqual(
			expect.arrayContaining(["/health", "/api/v1/annotations", "/api/v1/annotations/{id}"]),
		);
		expect(Object.keys(doc.paths["/api/v1/annotations"] ?? {}).sort()).toEqual(["get", "post"]);
		expect(Object.keys(doc.paths["/api/v1/annotations/{id}"] ?? {}).sort()).toEqual(["delete", "get", "put"]);
		expect(doc.paths["/api/v1/annotations"]?.post?.security).toEqual([{ ApiKey: [] }, { Bearer: [] }]);
		expect(doc.components.securitySchemes.ApiKey).toMatchObject({
			type: "apiKey",
			in: "header",
			name: "X-API-Key",
		});
		expect(doc.components.securitySchemes.Bearer).toMatchObject({ type: "http", scheme: "bearer" });
	});

	it("GET /docs is an HTML page pointing at the OpenAPI document", async () => {
		const res = await t.app.request("/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
		const html = await res.text();
		expect(html).toMatch(/<html/i);
		expect(html).toContain("/docs/api-reference.js");
		expect(html).not.toMatch(/cdn|unpkg|jsdelivr|https?:\/\//i);
		const script = await (await t.app.request("/docs/api-reference.js")).text();
		expect(script).toContain("/api/v1/openapi.json");
	});
});

describe("http basics: errors", () => {
	it("an unknown path answers 404 not_found in the error shape", async () => {
		for (const path of ["/nope", "/api/v1/nope", "/api/v2/annotations"]) {
			const res = await t.app.request(path);
			const body = await errorOf(res, 404, "not_found");
			expect(Object.keys(body)).toEqual(["error"]);
			expect(Object.keys(body.error).sort()).toEqual(["code", "message", "request_id"]);
		}
	});

	it("a known path with the wrong method answers 405 method_not_allowed with Allow", async () => {
		const health = await t.app.request("/health", { method: "POST" });
		await errorOf(health, 405, "method_not_allowed");
		expect(health.headers.get("Allow")?.split(/,\s*/).sort()).toEqual(["GET", "HEAD"]);

		const patch = await t.app.request("/api/v1/annotations", { method: "PATCH" });
		await errorOf(patch, 405, "method_not_allowed");
		expect(patch.headers.get("Allow")?.split(/,\s*/).sort()).toEqual(["GET", "HEAD", "POST"]);

		const patchOne = await t.app.request("/api/v1/annotations/ann_x", {
			method: "PATCH",
			headers: { "Content-Type": "application/json" },
			body: "{}",
		});
		await errorOf(patchOne, 405, "method_not_allowed");
		expect(patchOne.headers.get("Allow")?.split(/,\s*/).sort()).toEqual(["DELETE", "GET", "HEAD", "PUT"]);
	});

	it("a closed database answers 500 internal_error with no SQL or stack in the body", async () => {
		const { orgId } = await t.createOrgWithKey();
		const token = await t.mintToken({ orgId, role: "member" });
		t.database.client.close();

		for (const [method, body] of [
			["GET", undefined],
			["POST", JSON.stringify({ title: "t", external_id: "x" })],
		] as const) {
			const res = await t.app.request("/api/v1/annotations", {
				method,
				headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
				...(body === undefined ? {} : { body }),
			});
			const text = await res.clone().text();
			const error = await errorOf(res, 500, "internal_error");
			expect(Object.keys(error.error).sort()).toEqual(["code", "message", "request_id"]);
			expectNoLeak(text);
			// The detail went to the log instead, under the same request id.
			const line = t.logged.find((l) => l.request_id === error.error.request_id);
			expect(line).toMatchObject({ level: "error", msg: "unexpected error" });
		}
	});

	it("a failing SQL statement answers 500 internal_error and keeps the SQL in the log", async () => {
		const { key } = await t.createOrgWithKey();
		await t.database.client.execute("DROP TABLE annotation_tags");
		await t.database.client.execute("DROP TABLE annotations");

		const res = await t.app.request("/api/v1/annotations?tags=deploy", {
			headers: { "X-API-Key": key, "X-Request-Id": "fail-1" },
		});
		const text = await res.clone().text();
		const body = await errorOf(res, 500, "internal_error");
		expect(body.error.request_id).toBe("fail-1");
		expectNoLeak(text);

		const line = t.logged.find((l) => l.request_id === "fail-1");
		expect(line).toMatchObject({ level: "error", msg: "unexpected error" });
		expect(JSON.stringify(line)).toContain("SELECT");
	});

	it("error bodies from validation, auth and routing never leak stack frames or SQL", async () => {
		const { key } = await t.createOrgWithKey();
		const answers = await Promise.all([
			t.app.request("/api/v1/annotations", {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: "{not json",
			}),
			t.app.request("/api/v1/annotations?cursor=%27%20OR%201%3D1", { headers: { "X-API-Key": key } }),
			t.app.request("/api/v1/annotations", { headers: { "X-API-Key": "hxk_short" } }),
			t.app.request("/api/v1/annotations", { headers: { Authorization: "Bearer not.a.jwt" } }),
			t.app.request("/api/v1/annotations/ann_x", { headers: { "X-API-Key": key } }),
		]);
		expect(answers.map((r) => r.status)).toEqual([400, 400, 401, 401, 404]);
		for (const res of answers) {
			expect(res.headers.get("X-Request-Id")).toMatch(UUID);
			expectNoLeak(await res.text());
		}
	});
});

describe("http basics: JSON a parser takes but the API refuses", () => {
	const post = (key: string, body: string) =>
		t.app.request("/api/v1/annotations", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body,
		});

	it("a NUL character in a string is 400 with its place (SQLite's text ends at it: read back cut)", async () => {
		const { key } = await t.createOrgWithKey();
		const refused = await errorOf(
			await post(key, '{"title":"deploy","text":"before\\u0000after"}'),
			400,
			"invalid_request",
		);
		expect(refused.error.message).toBe(
			"Text in the request body cannot contain the NUL character (\\u0000) at line 1, column 33.",
		);
		// Two idempotency keys that differ only after a NUL were both taken, then read back equal.
		await errorOf(await post(key, '{"title":"a","external_id":"job\\u0000A"}'), 400, "invalid_request");
		// The text "\u0000" (an escaped backslash, then "u0000") is no NUL: stored and read back whole.
		const kept = await post(key, '{"title":"literal \\\\u0000 text"}');
		expect(kept.status).toBe(201);
		const { id } = (await kept.json()) as { id: string };
		const read = await t.app.request(`/api/v1/annotations/${id}`, { headers: { "X-API-Key": key } });
		expect(((await read.json()) as { title: string }).title).toBe("literal \\u0000 text");
	});

	it("half of a surrogate pair alone is 400 (stored as U+FFFD: two values differing in it read back equal)", async () => {
		const { key } = await t.createOrgWithKey();
		for (const half of ["\\ud800", "\\udbff", "\\udc00", "\\ud800x", "\\ud800\\u0041"]) {
			const refused = await errorOf(await post(key, `{"title":"a${half}"}`), 400, "invalid_request");
			expect(refused.error.message).toMatch(
				/^Text in the request body cannot contain half of a UTF-16 surrogate pair/,
			);
		}
		// A whole pair is a character like any other: kept as sent.
		const kept = await post(key, '{"title":"deploy \\ud83d\\ude80"}');
		expect(kept.status).toBe(201);
		expect(((await kept.json()) as { title: string }).title).toBe("deploy 🚀");
	});

	it("a Content-Encoding is 415 (a gzip body was parsed as text; an unknown coding was ignored)", async () => {
		const { key } = await t.createOrgWithKey();
		for (const encoding of ["gzip", "br", "x-evil"]) {
			const refused = await t.app.request("/api/v1/annotations", {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json", "Content-Encoding": encoding },
				body: '{"title":"deploy"}',
			});
			await errorOf(refused, 415, "unsupported_media_type");
		}
		const listed = await t.app.request("/api/v1/annotations", { headers: { "X-API-Key": key } });
		expect(((await listed.json()) as { data: unknown[] }).data).toEqual([]);
		const plain = await t.app.request("/api/v1/annotations", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json", "Content-Encoding": "identity" },
			body: '{"title":"deploy"}',
		});
		expect(plain.status).toBe(201);
	});

	it("nesting deeper than 64 levels is 400, also thousands deep (it was a 500)", async () => {
		const { key } = await t.createOrgWithKey();
		const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
		for (const levels of [65, 5_000, 50_000]) {
			const refused = await errorOf(
				await post(key, `{"title":"deep","tags":["x"],"extra":${nested(levels)}}`),
				400,
				"invalid_request",
			);
			expect(refused.error.message).toMatch(
				/^The request body nests deeper than 64 levels at line 1, column \d+\.$/,
			);
		}
		// 64 levels pass this check: the route's own validation answers (an unknown field).
		const validated = await errorOf(
			await post(key, `{"title":"deep","extra":${nested(63)}}`),
			400,
			"invalid_request",
		);
		expect(validated.error.message).not.toMatch(/nests deeper/);
		expect(JSON.stringify(validated.error.details)).toContain("extra");
	});
});

describe("http basics: numbers in a query string are written as numbers", () => {
	it("limit=0x10, ' 10 ' and 1e3 are 400 (they were read as 16, 10 and 1000); 10 is 10", async () => {
		const { key } = await t.createOrgWithKey();
		for (const limit of ["0x10", "%2010%20", "1e3", "10.0", "-1", ""]) {
			const res = await t.app.request(`/api/v1/annotations?limit=${limit}`, {
				headers: { "X-API-Key": key },
			});
			await errorOf(res, 400, "invalid_request");
		}
		const ok = await t.app.request("/api/v1/annotations?limit=10", { headers: { "X-API-Key": key } });
		expect(ok.status).toBe(200);
		expect(queryNumber()("10")).toBe(10);
		expect(queryNumber(true)("2.5")).toBe(2.5);
		expect(queryNumber(true)("0x10")).toBe("0x10");
	});

	it("an empty cursor is the first page on every list, as on the pages' (it was 400 here)", async () => {
		const { key } = await t.createOrgWithKey();
		const posted = await t.app.request("/api/v1/annotations", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: '{"title":"deploy"}',
		});
		expect(posted.status).toBe(201);
		const first = await t.app.request("/api/v1/annotations?cursor=", { headers: { "X-API-Key": key } });
		expect(first.status).toBe(200);
		expect(((await first.json()) as { data: unknown[] }).data).toHaveLength(1);
		await errorOf(
			await t.app.request("/api/v1/annotations?cursor=junk", { headers: { "X-API-Key": key } }),
			400,
			"invalid_request",
		);
	});
});
