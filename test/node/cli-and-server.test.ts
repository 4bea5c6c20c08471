import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWellFormedApiKey } from "../../src/auth/api-key.js";
import { reasonOf } from "../../src/cli.js";
import { parseSigningKeys } from "../../src/config.js";

const run = promisify(execFile);
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-cli-"));
	// A folder that does not exist yet: the server and the CLI must create it.
	env = {
		...process.env,
		DATABASE_URL: `file:${join(dir, "nested/db/hexcovery.db")}`,
		DATA_DIR: join(dir, "data"),
		// No fixed port in tests: the OTLP/gRPC listener stays off.
		OTLP_GRPC_PORT: "0",
	};
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<string[]> {
	const { stdout } = await run(TSX, ["src/cli.ts", ...args], { env });
	return stdout.trimEnd().split("\n");
}

async function cliFailure(...args: string[]): Promise<{ code: number; stderr: string }> {
	try {
		await run(TSX, ["src/cli.ts", ...args], { env });
	} catch (error) {
		const failed = error as { code: number; stderr: string };
		return { code: failed.code, stderr: failed.stderr };
	}
	throw new Error("the command succeeded");
}

describe("CLI", () => {
	it("creates an org and a key, lists and revokes it; the secret is the last line", async () => {
		const orgId = (await cli("org", "create", "Acme", "Inc")).at(-1) as string;
		expect(orgId).toMatch(/^org_[0-9A-Za-z]{20}$/);
		const key = (await cli("key", "create", "--org", orgId, "--name", "deploy-bot")).at(-1) as string;
		expect(isWellFormedApiKey(key)).toBe(true);

		const listed = await cli("key", "list", "--org", orgId);
		expect(listed).toHaveLength(1);
		const [keyId, start, status, name] = (listed[0] as string).split(" ");
		expect(keyId).toMatch(/^key_/);
		expect(start).toBe(key.slice(0, 8));
		expect(status).toBe("active");
		expect(name).toBe("deploy-bot");

		expect(await cli("key", "revoke", keyId as string)).toEqual([`revoked ${keyId}`]);
		expect((await cli("key", "list", "--org", orgId))[0]).toBe(`${keyId} ${start} revoked deploy-bot`);

		const db = createClient({ url: env.DATABASE_URL as string });
		const stored = await db.execute("SELECT key_hash, start FROM api_keys");
		db.close();
		expect(JSON.stringify(stored.rows)).not.toContain(key);
	});

	it("prints a usable private JWKS for jwt keygen", async () => {
		const [jwks] = await cli("jwt", "keygen");
		const keys = parseSigningKeys(jwks as string);
		expect(keys).toHaveLength(1);
		expect(keys[0]?.d).toBeTruthy();
	});

	it("fails with usage errors and a non-zero exit", async () => {
		expect((await cliFailure("bogus")).code).toBe(64);
		expect((await cliFailure("key", "create", "--name", "x")).stderr).toContain("--org");
		expect((await cliFailure("key", "create", "--org", "org_missing", "--name", "x")).stderr).toContain(
			"org_missing",
		);
		expect((await cliFailure("key", "revoke", "key_missing")).stderr).toContain("key_missing");
		// Listing an unknown org's keys is the same mistake (it printed nothing and exited 0).
		const listed = await cliFailure("key", "list", "--org", "org_missing");
		expect([listed.code, listed.stderr]).toEqual([
			64,
			expect.stringContaining("no organization org_missing"),
		]);
	});

	it("a database it cannot reach is one line saying why, not the SQL it was running", async () => {
		let failed: { code: number; stderr: string } | undefined;
		try {
			await run(TSX, ["src/cli.ts", "org", "list"], { env: { ...env, DATABASE_URL: "http://127.0.0.1:1" } });
		} catch (error) {
			failed = error as { code: number; stderr: string };
		}
		expect(failed?.code).toBe(1);
		const lines = (failed?.stderr ?? "").trim().split("\n");
		expect(lines).toHaveLength(1);
		expect(lines[0]).toMatch(
			/^hexcovery: cannot use the database at http:\/\/127\.0\.0\.1:1\/: fetch failed \(.+\)$/,
		);
		expect(failed?.stderr).not.toMatch(/CREATE TABLE|Failed query|params:/);
	});

	it("says a failure's reason in one line: the driver's cause, an empty AggregateError's first error, no token", () => {
		const refused = new Error("fetch failed", {
			cause: new AggregateError(
				[new Error("connect ECONNREFUSED ::1:8080"), new Error("connect ECONNREFUSED 127.0.0.1:8080")],
				"",
			),
		});
		expect(
			reasonOf(new Error("Failed query: CREATE TABLE x (\n id int\n)\nparams: ", { cause: refused })),
		).toBe("fetch failed (connect ECONNREFUSED ::1:8080)");
		expect(reasonOf(new Error("URL_INVALID: libsql://db.example?authToken=s3cret is not valid\nmore"))).toBe(
			"URL_INVALID: libsql://db.example?authToken=redacted is not valid",
		);
	});

	it("applies migrations with migrate", async () => {
		expect(await cli("migrate")).toEqual(["migrations applied"]);
	});
});

function startServer(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
	const child = spawn(TSX, ["src/runtime/node.ts"], {
		env: { ...env, PORT: "0", LOG_LEVEL: "info" },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let output = "";
	return new Promise((resolve, reject) => {
		const onData = (chunk: Buffer) => {
			output += chunk.toString();
			const match = /"url":"(http:\/\/localhost:\d+)"/.exec(output);
			if (match) resolve({ child, url: match[1] as string, output: () => output });
		};
		child.stdout?.on("data", onData);
		child.stderr?.on("data", onData);
		child.once("exit", (code) => reject(new Error(`server exited early (${code}): ${output}`)));
	});
}

describe("Node server", () => {
	it("serves the README flow, then shuts down gracefully on SIGTERM, finishing an in-flight request", async () => {
		const orgId = (await cli("org", "create", "Server")).at(-1) as string;
		const key = (await cli("key", "create", "--org", orgId, "--name", "s")).at(-1) as string;
		const server = await startServer();
		expect(existsSync(join(dir, "data/jwt-keys.json"))).toBe(true);
		expect(server.output()).toContain("JWT_SIGNING_KEYS is not set: generated a development value");
		expect(existsSync(join(dir, "data/totp-key.txt"))).toBe(true);

		const health = await fetch(`${server.url}/health`);
		expect(await health.json()).toEqual({ status: "ok" });

		// An in-flight request: headers and half the body sent before SIGTERM, the rest after.
		const body = JSON.stringify({ title: "in flight", tags: ["deploy"] });
		const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
			const req = request(`${server.url}/api/v1/annotations`, {
				method: "POST",
				headers: {
					"X-API-Key": key,
					"Content-Type": "application/json",
					"Content-Length": Buffer.byteLength(body),
				},
			});
			req.on("response", (res) => {
				let text = "";
				res.on("data", (chunk) => {
					text += chunk;
				});
				res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
			});
			req.on("error", reject);
			req.write(body.slice(0, 10));
			setTimeout(() => {
				server.child.kill("SIGTERM");
				setTimeout(() => req.end(body.slice(10)), 300);
			}, 200);
		});
		const exited = new Promise<number | null>((resolve) =>
			server.child.once("exit", (code) => resolve(code)),
		);
		const result = await answer;
		expect(result.status).toBe(201);
		expect(JSON.parse(result.body).title).toBe("in flight");
		expect(await exited).toBe(0);
		expect(server.output()).toContain("hexcovery stopped");

		// What was acknowledged is in the database.
		const db = createClient({ url: env.DATABASE_URL as string });
		const rows = await db.execute("SELECT title FROM annotations WHERE org_id = ?", [orgId]);
		db.close();
		expect(rows.rows.map((r) => r.title)).toEqual(["in flight"]);
	});
});

describe("Node server start-up mistakes get one clear line, not a stack trace", () => {
	async function startFailure(
		settings: NodeJS.ProcessEnv,
	): Promise<{ code: number; stderr: string; stdout: string }> {
		try {
			await run(TSX, ["src/runtime/node.ts"], { env: { ...env, ...settings }, timeout: 60_000 });
		} catch (error) {
			const failed = error as { code: number; stderr: string; stdout: string };
			return { code: failed.code, stderr: failed.stderr, stdout: failed.stdout };
		}
		throw new Error("the server started");
	}

	it("a DATABASE_URL that is a bare path asks whether file: was meant", async () => {
		const failed = await startFailure({ DATABASE_URL: join(dir, "x.db"), PORT: "0" });
		expect(failed.code).toBe(2);
		expect(failed.stderr.trim().split("\n")).toEqual([
			`hexcovery: Setting DATABASE_URL is invalid: it needs a scheme (file:, libsql:, http:, https:); did you mean file:${join(dir, "x.db")}?`,
		]);
	});

	it.each([
		["PORT", "", { OTLP_GRPC_PORT: "0" }],
		["OTLP_GRPC_PORT", " (0 turns OTLP/gRPC off)", { PORT: "0" }],
	] as const)(
		"a busy %s: one line on stderr naming the port and the setting, exit 1, no stack trace",
		async (setting, extra, others) => {
			const blocker = createServer();
			await new Promise<void>((resolve) => blocker.listen(0, resolve));
			const { port } = blocker.address() as AddressInfo;
			try {
				// At the level a user gets by default: the log (stdout) has no stack trace either.
				const failed = await startFailure({ ...others, [setting]: String(port), LOG_LEVEL: "info" });
				expect(failed.code).toBe(1);
				expect(failed.stdout).not.toMatch(/\n\s+at /);
				expect(failed.stderr.trim().split("\n")).toEqual([
					`hexcovery: port ${port} is in use; set ${setting} to a free one${extra}.`,
				]);
			} finally {
				blocker.close();
			}
		},
	);
});
