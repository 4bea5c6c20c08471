/**
 * The Node server's access log: one structured line per request, and nothing secret in it. The
 * server's logger writes into memory here (LOG_LEVEL=info overrides the silence tests get).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../src/auth/jwt.js";
import { systemClock } from "../../src/clock.js";
import { openMigratedDatabase } from "../../src/db/node.js";
import { redactDatabaseUrl } from "../../src/runtime/logger.js";
import { type RunningServer, startNodeServer } from "../../src/runtime/node.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";

let dir: string;
let server: RunningServer;
let orgId: string;
let key: string;
const lines: string[] = [];

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-log-"));
	const url = `file:${join(dir, "log.db")}`;
	const setup = await openMigratedDatabase(url);
	orgId = (await createOrg(setup.db, systemClock, "Logged")).id;
	key = (await createApiKey(setup.db, systemClock, { orgId, name: "ci", createdBy: "cli" })).key;
	setup.client.close();
	const capture = new Writable({
		write(chunk, _encoding, done) {
			lines.push(...String(chunk).split("\n").filter(Boolean));
			done();
		},
	});
	server = await startNodeServer(
		{
			PORT: "0",
			HOST: "127.0.0.1",
			OTLP_GRPC_PORT: "0",
			LOG_LEVEL: "info",
			DATABASE_URL: url,
			JWT_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey()] }),
			TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString("base64url"),
		},
		{ logDestination: capture },
	);
});
afterAll(async () => {
	await server?.close();
	rmSync(dir, { recursive: true, force: true });
});

function entries(): Record<string, unknown>[] {
	return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("the access log", () => {
	it("starts with one line: database (redacted), migrations applied, listening address", () => {
		const start = entries().find((entry) => entry.msg === "hexcovery listening");
		expect(start).toMatchObject({
			level: 30,
			database: expect.stringMatching(/^file:.*log\.db$/),
			migrations: expect.any(Number),
			url: server.url.replace("127.0.0.1", "localhost"),
			listening: `127.0.0.1, port ${server.port}`,
			otlp_grpc: "off",
		});
		expect(start?.migrations as number).toBeGreaterThan(0);
		expect(start?.time).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
	});

	it("writes one line per request with who was served, and no key, token, cookie, password or query", async () => {
		const secrets = {
			bearer: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfMSJ9.c2VjcmV0LXNpZ25hdHVyZQ",
			cookie: "hx_refresh=rt_super-secret-refresh-cookie",
			password: "correct-horse-battery-staple-42",
			query: "query-secret-1234",
		};
		const before = lines.length;
		const keyed = await fetch(`${server.url}/api/v1/annotations?service=${secrets.query}`, {
			headers: { "X-API-Key": key, Cookie: secrets.cookie, "X-Request-Id": "req-log-1" },
		});
		expect(keyed.status).toBe(200);
		const bearer = await fetch(`${server.url}/api/v1/me`, {
			headers: { Authorization: `Bearer ${secrets.bearer}` },
		});
		expect(bearer.status).toBe(401);
		const login = await fetch(`${server.url}/api/v1/auth/login`, {
			method: "POST",
			headers: { "Content-Type": "application/json", Cookie: secrets.cookie },
			body: JSON.stringify({ email: "someone@example.com", password: secrets.password }),
		});
		expect(login.status).toBe(401);
		const page = await fetch(`${server.url}/settings/api-keys?key=${secrets.query}`);
		expect(page.status).toBe(200);

		const logged = lines.slice(before);
		const text = logged.join("\n");
		for (const secret of [key, key.slice(4, 20), ...Object.values(secrets), "rt_super"]) {
			expect(text).not.toContain(secret);
		}
		const requests = logged.map((line) => JSON.parse(line) as Record<string, unknown>);
		expect(requests.map((entry) => [entry.method, entry.path, entry.status])).toEqual([
			["GET", "/api/v1/annotations", 200],
			["GET", "/api/v1/me", 401],
			["POST", "/api/v1/auth/login", 401],
			["GET", "/settings/api-keys", 200],
		]);
		expect(requests[0]).toMatchObject({
			msg: "request",
			request_id: "req-log-1",
			org_id: orgId,
			credential: "api_key",
			duration_ms: expect.any(Number),
			time: expect.any(String),
		});
		expect(requests[1]).toMatchObject({ org_id: null, credential: "none" });
		expect(requests[1]?.request_id).toBe(bearer.headers.get("X-Request-Id"));
		for (const entry of requests) {
			expect(Object.keys(entry).sort()).toEqual([
				"credential",
				"duration_ms",
				"level",
				"method",
				"msg",
				"org_id",
				"path",
				"request_id",
				"status",
				"time",
			]);
		}
	});

	it("an OTLP export's line names its org and credential too (the route authenticates in its handler)", async () => {
		const before = lines.length;
		const exported = await fetch(`${server.url}/v1/logs`, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json", "X-Request-Id": "otlp-log-1" },
			body: "{}",
		});
		expect(exported.status).toBe(200);
		const entry = lines
			.slice(before)
			.map((line) => JSON.parse(line) as Record<string, unknown>)
			.find((e) => e.request_id === "otlp-log-1");
		expect(entry).toMatchObject({
			msg: "request",
			method: "POST",
			path: "/v1/logs",
			status: 200,
			org_id: orgId,
			credential: "api_key",
		});
		expect(JSON.stringify(entry)).not.toContain(key);
	});

	it("redacts passwords and tokens from a database URL", () => {
		expect(redactDatabaseUrl("libsql://db-org.turso.io?authToken=abc.def")).toBe(
			"libsql://db-org.turso.io?authToken=redacted",
		);
		expect(redactDatabaseUrl("http://user:hunter2@127.0.0.1:8081/")).toBe(
			"http://user:redacted@127.0.0.1:8081/",
		);
		expect(redactDatabaseUrl("file:./data/hexcovery.db")).toBe("file:./data/hexcovery.db");
		expect(redactDatabaseUrl("file:/tmp/x.db?key=s3cret")).not.toContain("s3cret");
	});
});
