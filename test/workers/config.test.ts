/**
 * Public routes (contract §3), HTTP basics (§2) and misconfiguration, inside workerd. The Worker
 * module imported here is the very module instance `exports.default` serves.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateSigningKey } from "../../src/auth/jwt.js";
import worker, { type WorkerEnv } from "../../src/runtime/worker.js";
import { expectError, jwtSettings, mintToken, ORIGIN, orgWithKey, UUID, workerFetch } from "./support.js";

describe("public routes through the Worker", () => {
	it("GET /health → 200 {status: ok} with an X-Request-Id; a well-formed incoming id is echoed", async () => {
		const res = await workerFetch("/health");
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ status: "ok" });
		const id = res.headers.get("X-Request-Id");
		expect(id).toMatch(UUID);
		const again = await workerFetch("/health");
		expect(again.headers.get("X-Request-Id")).not.toBe(id);
		const echoed = await workerFetch("/health", { headers: { "X-Request-Id": "edge-trace-1" } });
		expect(echoed.headers.get("X-Request-Id")).toBe("edge-trace-1");
		const replaced = await workerFetch("/health", { headers: { "X-Request-Id": "<script>" } });
		expect(replaced.headers.get("X-Request-Id")).toMatch(UUID);
	});

	it("GET /.well-known/jwks.json publishes the Worker's public keys only, and they verify its tokens", async () => {
		const res = await workerFetch("/.well-known/jwks.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("X-Request-Id")).toMatch(UUID);
		expect(res.headers.get("Cache-Control")).toBe("public, max-age=300");
		const text = await res.text();
		const jwks = JSON.parse(text) as { keys: Record<string, unknown>[] };
		const signing = jwtSettings.signingKeys[0];
		expect(jwks).toEqual({
			keys: [{ kty: "OKP", crv: "Ed25519", x: signing?.x, kid: signing?.kid, alg: "EdDSA", use: "sig" }],
		});
		expect(text).not.toContain(signing?.d);
		expect(text).not.toContain('"d"');

		// A token the Worker accepts verifies under the published key with WebCrypto alone.
		const { orgId } = await orgWithKey("JWKS");
		const token = await mintToken({ orgId, role: "viewer" });
		const [h, p, s] = token.split(".") as [string, string, string];
		const b64 = (t: string) =>
			Uint8Array.from(atob(t.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
		const header = JSON.parse(new TextDecoder().decode(b64(h))) as { kid: string };
		const jwk = jwks.keys.find((k) => k.kid === header.kid);
		expect(jwk).toBeDefined();
		const publicKey = await crypto.subtle.importKey(
			"jwk",
			{ kty: "OKP", crv: "Ed25519", x: jwk?.x as string },
			{ name: "Ed25519" },
			false,
			["verify"],
		);
		expect(
			await crypto.subtle.verify(
				{ name: "Ed25519" },
				publicKey,
				b64(s),
				new TextEncoder().encode(`${h}.${p}`),
			),
		).toBe(true);
	});

	it("GET /api/v1/openapi.json is OpenAPI 3.1 with the annotation paths and both security schemes", async () => {
		const res = await workerFetch("/api/v1/openapi.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("X-Request-Id")).toMatch(UUID);
		const doc = (await res.json()) as {
			openapi: string;
			paths: Record<string, Record<string, { security?: unknown }>>;
			components: { securitySchemes: Record<string, Record<string, string>> };
		};
		expect(doc.openapi).toMatch(/^3\.1\./);
		expect(Object.keys(doc.paths)).toEqual(
			expect.arrayContaining([
				"/health",
				"/.well-known/jwks.json",
				"/api/v1/annotations",
				"/api/v1/annotations/{id}",
			]),
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

	it("a known path with the wrong method → 405 method_not_allowed with Allow", async () => {
		const cases: [string, string, string[]][] = [
			["POST", "/health", ["GET", "HEAD"]],
			["PATCH", "/api/v1/annotations", ["GET", "HEAD", "POST"]],
			["PATCH", "/api/v1/annotations/ann_x", ["DELETE", "GET", "HEAD", "PUT"]],
		];
		for (const [method, path, allow] of cases) {
			const res = await workerFetch(path, { method });
			const allowHeader = res.headers.get("Allow");
			await expectError(res, 405, "method_not_allowed");
			expect(allowHeader?.split(/,\s*/).sort()).toEqual(allow);
		}
	});

	it("an unknown path → 404 not_found in the error shape and nothing more", async () => {
		for (const path of ["/nope", "/api/v1/nope", "/api/v2/annotations"]) {
			const body = await expectError(await workerFetch(path), 404, "not_found");
			expect(Object.keys(body)).toEqual(["error"]);
			expect(Object.keys(body.error).sort()).toEqual(["code", "message", "request_id"]);
		}
	});
});

/** Calls the Worker's fetch handler with a modified env and waits for its deferred work. */
async function fetchWith(workerEnv: WorkerEnv, path = "/health"): Promise<Response> {
	const ctx = createExecutionContext();
	const res = await worker.fetch(new Request(ORIGIN + path), workerEnv, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

/** 500 `misconfigured`, naming the setting, and no configured value anywhere in the answer. */
async function expectMisconfigured(res: Response, setting: string, secrets: string[]): Promise<string> {
	const text = await res.clone().text();
	const body = await expectError(res, 500, "misconfigured");
	expect(body.error.message).toContain(setting);
	for (const secret of [env.DATABASE_URL, env.JWT_SIGNING_KEYS, ...secrets]) {
		expect(secret.length).toBeGreaterThan(3);
		expect(text).not.toContain(secret);
	}
	for (const key of jwtSettings.signingKeys) {
		expect(text).not.toContain(key.d);
		expect(text).not.toContain(key.x);
	}
	return body.error.message;
}

describe("misconfiguration: the Worker answers 500 misconfigured, naming the setting, never a value", () => {
	it("DATABASE_URL missing, empty or not text", async () => {
		for (const value of [undefined, ""]) {
			const message = await expectMisconfigured(
				await fetchWith({ ...env, DATABASE_URL: value }),
				"DATABASE_URL",
				[],
			);
			expect(message).toMatch(/missing/);
		}
		const notText = await expectMisconfigured(
			await fetchWith({ ...env, DATABASE_URL: { url: "libsql://secret-db.example" } as unknown as string }),
			"DATABASE_URL",
			["secret-db.example"],
		);
		expect(notText).toMatch(/invalid/);
	});

	it("DATABASE_URL that the libSQL client refuses: misconfigured, not an uncaught exception quoting the URL", async () => {
		const refused: [string, string[]][] = [
			["not a url s3cr3t-value", ["s3cr3t-value"]],
			["file:./secret-local.db", ["secret-local"]],
			["postgres://admin:hunter2pw@db.internal/prod", ["hunter2pw", "db.internal"]],
			["libsql://db.example.turso.io?token=abc123secret", ["abc123secret", "db.example"]],
		];
		for (const [value, secrets] of refused) {
			const message = await expectMisconfigured(
				await fetchWith({ ...env, DATABASE_URL: value }),
				"DATABASE_URL",
				[value, ...secrets],
			);
			expect(message).toMatch(/invalid/);
		}
	});

	it("TELEMETRY_URL that is not ClickHouse's HTTP origin: misconfigured, the credentials never echoed", async () => {
		const refused: [string, string[]][] = [
			["libsql://telemetry.example", ["telemetry.example"]],
			["https://admin:hunter2pw@ch.internal:8443", ["hunter2pw", "ch.internal"]],
			["https://ch.internal:8443/db?password=abc123secret", ["abc123secret", "ch.internal"]],
		];
		for (const [value, secrets] of refused) {
			const message = await expectMisconfigured(
				await fetchWith({ ...env, TELEMETRY_URL: value } as WorkerEnv),
				"TELEMETRY_URL",
				[value, ...secrets],
			);
			expect(message).toMatch(/invalid/);
		}
		const orphan = await expectMisconfigured(
			await fetchWith({ ...env, TELEMETRY_PASSWORD: "pw-without-url" } as WorkerEnv),
			"TELEMETRY_URL",
			["pw-without-url"],
		);
		expect(orphan).toMatch(/missing/);
	});

	it("JWT_SIGNING_KEYS missing", async () => {
		const message = await expectMisconfigured(
			await fetchWith({ ...env, JWT_SIGNING_KEYS: undefined }),
			"JWT_SIGNING_KEYS",
			[],
		);
		expect(message).toMatch(/missing/);
	});

	it("JWT_SIGNING_KEYS invalid: the message never carries the key material", async () => {
		const real = await generateSigningKey();
		const invalid: [string, string[]][] = [
			// Not JSON, but holding something secret-looking.
			[`{"keys":[{"d":"${real.d}"`, [real.d]],
			// A public key only (no `d`).
			[JSON.stringify({ keys: [{ ...real, d: undefined }] }), [real.x]],
			// No kid.
			[JSON.stringify({ keys: [{ ...real, kid: undefined }] }), [real.d, real.x]],
			// Another curve.
			[JSON.stringify({ keys: [{ ...real, crv: "X25519" }] }), [real.d, real.x]],
			// Duplicate kid.
			[
				JSON.stringify({ keys: [real, { ...real, x: `${real.x}A`, d: `${real.d}B` }] }),
				[real.d, real.x, real.kid],
			],
			// A public half that is not 32 bytes of base64url (it would be published as is).
			[JSON.stringify({ keys: [{ ...real, x: "!!!not-base64url" }] }), [real.d, "!!!not-base64url"]],
			[JSON.stringify({ keys: [{ ...real, d: `${real.d}AAAA` }] }), [real.d, real.x]],
			// An empty set.
			[JSON.stringify({ keys: [] }), []],
		];
		for (const [value, secrets] of invalid) {
			const message = await expectMisconfigured(
				await fetchWith({ ...env, JWT_SIGNING_KEYS: value }),
				"JWT_SIGNING_KEYS",
				secrets,
			);
			expect(message).toMatch(/invalid/);
		}
	});

	it("KEY_CACHE missing", async () => {
		const message = await expectMisconfigured(
			await fetchWith({ ...env, KEY_CACHE: undefined }),
			"KEY_CACHE",
			[],
		);
		expect(message).toMatch(/missing/);
	});

	it("every route answers misconfigured, and a good env serves again right after", async () => {
		const bad = { ...env, DATABASE_URL: undefined };
		for (const path of ["/api/v1/annotations", "/.well-known/jwks.json", "/nope"]) {
			await expectMisconfigured(await fetchWith(bad, path), "DATABASE_URL", []);
		}
		const ok = await fetchWith(env);
		expect(ok.status).toBe(200);
		expect(await ok.json()).toEqual({ status: "ok" });
		const viaExports = await workerFetch("/health");
		expect(viaExports.status).toBe(200);
	});
});

describe("the Cron Trigger handler", () => {
	it("runs without throwing on a good env", async () => {
		const ctx = createExecutionContext();
		await expect(
			worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx),
		).resolves.toBeUndefined();
		await waitOnExecutionContext(ctx);
	});

	it("rejects on a bad env, naming the setting", async () => {
		const cases: [Partial<WorkerEnv>, string][] = [
			[{ DATABASE_URL: undefined }, "DATABASE_URL"],
			[{ JWT_SIGNING_KEYS: "not json" }, "JWT_SIGNING_KEYS"],
			[{ KEY_CACHE: undefined }, "KEY_CACHE"],
			[{ DATABASE_URL: "file:./local.db" }, "DATABASE_URL"],
		];
		for (const [change, setting] of cases) {
			const ctx = createExecutionContext();
			const run = worker.scheduled(createScheduledController(), { ...env, ...change }, ctx);
			await expect(run).rejects.toThrow(setting);
			await expect(run).rejects.toMatchObject({ name: "ConfigError", setting });
			await waitOnExecutionContext(ctx);
		}
		// And a good env works again afterwards.
		await expect(
			worker.scheduled(createScheduledController(), env, createExecutionContext()),
		).resolves.toBeUndefined();
	});
});
