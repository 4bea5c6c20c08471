/**
 * Storage failures on the Worker (contract §2): with the libSQL stand-in stopped or frozen, every
 * route answers 503 `storage_unavailable` with Retry-After — at DATABASE_TIMEOUT_MS when frozen,
 * never hanging — and warm API keys keep authenticating; restarted, it serves again.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { generateApiKey } from "../../src/auth/api-key.js";
import { buildWorkerDeps, type WorkerEnv } from "../../src/runtime/worker.js";
import { expectError, expectOk, ORIGIN, orgWithKey } from "./support.js";

const FAULTY = "http://libsql-faults.test";
const DEADLINE_MS = 400;

/** The Worker's own deps, over the stand-in that can fail, with a short database deadline. */
const app = createApp(
	buildWorkerDeps({
		...(env as unknown as WorkerEnv),
		DATABASE_URL: FAULTY,
		DATABASE_TIMEOUT_MS: String(DEADLINE_MS),
	}),
);
const call = (path: string, init: RequestInit = {}) => app.fetch(new Request(ORIGIN + path, init), env);
const fault = async (mode: "running" | "stopped" | "frozen") => {
	expect((await fetch(`${FAULTY}/__fault/${mode}`, { method: "POST" })).status).toBe(204);
};
/** A well-formed key nobody issued: only the database can say so. */
const COLD_KEY = generateApiKey();

async function expectStorageUnavailable(response: Response) {
	expect(response.headers.get("Retry-After")).toBe("5");
	await expectError(response, 503, "storage_unavailable");
}

describe("the database stopped, frozen, restarted", () => {
	let key: string;
	const ping = (slug: string) =>
		call(`/api/v1/heartbeat/${slug}`, { method: "POST", headers: { "X-API-Key": key } });

	beforeAll(async () => {
		({ key } = await orgWithKey("Outage Co"));
		await fault("running");
		// The key is warm in this isolate's memory before the outage.
		await expectOk(await ping("nightly"), 201);
	});
	afterAll(() => fault("running"));

	for (const mode of ["stopped", "frozen"] as const) {
		it(`${mode}: pings, reads, cold keys and logins answer 503 storage_unavailable, the warm key authenticates`, async () => {
			await fault(mode);
			// The warm key passes the guard (no 401); the write cannot happen.
			await expectStorageUnavailable(await ping("nightly"));
			await expectStorageUnavailable(await call("/api/v1/annotations", { headers: { "X-API-Key": key } }));
			await expectStorageUnavailable(
				await call("/api/v1/heartbeat/nightly", { method: "POST", headers: { "X-API-Key": COLD_KEY } }),
			);
			await expectStorageUnavailable(
				await call("/api/v1/auth/login", {
					method: "POST",
					headers: { "Content-Type": "application/json" },
					body: JSON.stringify({ email: "nobody@example.com", password: "correct horse battery" }),
				}),
			);
		});
	}

	it("restarted: the same requests are answered again", async () => {
		await fault("running");
		const answer = await expectOk<{ monitor: { status: string } }>(await ping("nightly"));
		expect(answer.monitor.status).toBe("up");
		await expectError(
			await call("/api/v1/heartbeat/nightly", { method: "POST", headers: { "X-API-Key": COLD_KEY } }),
			401,
			"invalid_api_key",
			'ApiKey realm="hexcovery", header="X-API-Key"',
		);
	});
});
