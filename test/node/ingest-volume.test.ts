/**
 * Security review finding 10: one API key sending 16 parallel 15.5 MiB exports stalled `/health` up
 * to 7.3 s, and a slow body stayed open for minutes (Node's default request timeout is 300 s).
 * Now: a per-org byte budget (429 with Retry-After) and, on Node, a request timeout (408).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { systemClock } from "../../src/clock.js";
import { openMigratedDatabase } from "../../src/db/node.js";
import { DEFAULT_OTLP_SETTINGS, otlpSettingsFrom } from "../../src/ingest/settings.js";
import { type RunningServer, startNodeServer } from "../../src/runtime/node.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const MiB = 1024 * 1024;

/** An OTLP/JSON logs export of about `bytes` bytes (one record with a long body). */
function exportOf(bytes: number): string {
	const record = {
		timeUnixNano: `${BigInt(T0) * 1_000_000n}`,
		body: { stringValue: "x".repeat(bytes - 200) },
	};
	return JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] });
}

describe("per-org ingest byte budget (finding 10)", () => {
	let t: TestApp;
	afterEach(() => t?.close());

	async function setup() {
		t = await createTestApp({ clock: new FakeClock(T0) });
		const app = createApp({
			...t.deps,
			config: {
				...t.deps.config,
				otlp: {
					...DEFAULT_OTLP_SETTINGS,
					maxBodyBytes: 2 * MiB,
					orgBytesPerSecond: MiB,
					orgByteBurst: 2 * MiB,
				},
			},
		});
		const send = (key: string, body: string, declare = true) =>
			app.request("/v1/logs", {
				method: "POST",
				headers: {
					"X-API-Key": key,
					"Content-Type": "application/json",
					...(declare ? { "Content-Length": String(new TextEncoder().encode(body).length) } : {}),
				},
				body,
			});
		return { send, a: await t.createOrgWithKey("A"), b: await t.createOrgWithKey("B") };
	}

	it("a burst beyond the budget → 429 rate_limited with Retry-After; other orgs go on; it refills", async () => {
		const { send, a, b } = await setup();
		const body = exportOf(900 * 1024);
		expect((await send(a.key, body)).status).toBe(200);
		expect((await send(a.key, body)).status).toBe(200);
		const refused = await send(a.key, body);
		expect(refused.status).toBe(429);
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		const status = (await refused.json()) as { code: number; message: string };
		expect(status.code).toBe(8); // RESOURCE_EXHAUSTED, as a google.rpc.Status
		expect(status.message).toMatch(/byte|budget/i);
		expect((await send(b.key, body)).status).toBe(200);
		t.clock.advance(1_000);
		expect((await send(a.key, body)).status).toBe(200);
	});

	it("a declared size over the body limit → 413 at once, not a 429 the client would retry forever", async () => {
		const { send, a } = await setup();
		// 3 MiB: over the 2 MiB body limit and over the 2 MiB burst, which alone would answer 429.
		const tooBig = await send(a.key, exportOf(3 * MiB));
		expect(tooBig.status).toBe(413);
		expect(tooBig.headers.get("Retry-After")).toBeNull();
		expect(((await tooBig.json()) as { code: number }).code).toBe(8);
		// Refused before the budget: the org's budget is untouched.
		expect((await send(a.key, exportOf(900 * 1024))).status).toBe(200);
		expect((await send(a.key, exportOf(900 * 1024))).status).toBe(200);
	});

	it("a body without Content-Length is paid for once read: the org's next export waits", async () => {
		const { send, a } = await setup();
		expect((await send(a.key, exportOf(1_900 * 1024), false)).status).toBe(200);
		expect((await send(a.key, exportOf(1_900 * 1024), false)).status).toBe(200); // into debt
		const refused = await send(a.key, exportOf(10_000), false);
		expect(refused.status).toBe(429);
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
	});

	it("an export counts as a quarter of its rows' stored size when that is more than its body: amplified exports run out the budget sooner", async () => {
		const { send, a, b } = await setup();
		/** ~256 KiB of body either way: as one long log body, or as a resource attribute repeated on 24 records. */
		const amplified = JSON.stringify({
			resourceLogs: [
				{
					resource: { attributes: [{ key: "blob", value: { stringValue: "r".repeat(256 * 1024) } }] },
					scopeLogs: [
						{
							logRecords: Array.from({ length: 24 }, (_, i) => ({
								timeUnixNano: `${BigInt(T0) * 1_000_000n}`,
								body: { stringValue: `record ${i}` },
							})),
						},
					],
				},
			],
		});
		// Stored ≈ 24 × 256 KiB = 6 MiB, under the 8 MiB (4 × 2 MiB) an export may take; charged 1.5 MiB.
		expect((await send(a.key, amplified)).status).toBe(200);
		expect((await send(a.key, amplified)).status).toBe(200); // into debt
		const refused = await send(a.key, amplified);
		expect(refused.status).toBe(429);
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		// The same body size, stored once: eight fit the same 2 MiB burst.
		const plain = exportOf(amplified.length);
		for (let i = 0; i < 7; i++) expect((await send(b.key, plain)).status).toBe(200);
	});

	it("all orgs' export bytes in flight are capped per process: a slow large export makes others wait (429), a small one still fits, and it frees its bytes when done", async () => {
		t = await createTestApp({ clock: new FakeClock(T0) });
		const app = createApp({
			...t.deps,
			config: {
				...t.deps.config,
				otlp: { ...DEFAULT_OTLP_SETTINGS, maxBodyBytes: 2 * MiB, maxBytesInFlight: 2 * MiB },
			},
		});
		const a = await t.createOrgWithKey("A");
		const b = await t.createOrgWithKey("B");
		const slowBody = new TextEncoder().encode(exportOf(1_500 * 1024));
		let finish!: () => void;
		const held = new Promise<void>((resolve) => {
			finish = resolve;
		});
		const slow = app.request("/v1/logs", {
			method: "POST",
			headers: {
				"X-API-Key": a.key,
				"Content-Type": "application/json",
				"Content-Length": String(slowBody.length),
			},
			body: new ReadableStream({
				async pull(controller) {
					await held;
					controller.enqueue(slowBody);
					controller.close();
				},
			}),
			duplex: "half",
		} as RequestInit);
		const send = (key: string, body: string) =>
			app.request("/v1/logs", {
				method: "POST",
				headers: {
					"X-API-Key": key,
					"Content-Type": "application/json",
					"Content-Length": String(new TextEncoder().encode(body).length),
				},
				body,
			});
		// Another org's 1 MiB export does not fit beside the 1.5 MiB one in flight: 429, told to retry.
		let refused = await send(b.key, exportOf(1024 * 1024));
		for (let i = 0; i < 50 && refused.status === 200; i++) {
			await new Promise((r) => setTimeout(r, 5));
			refused = await send(b.key, exportOf(1024 * 1024));
		}
		expect(refused.status).toBe(429);
		expect(refused.headers.get("Retry-After")).toBe("1");
		expect(((await refused.json()) as { message: string }).message).toMatch(
			/holds as many export bytes as it may at once/,
		);
		// A small one fits.
		expect((await send(b.key, exportOf(100 * 1024))).status).toBe(200);
		finish();
		expect((await slow).status).toBe(200);
		// The slow one's bytes are free again.
		expect((await send(b.key, exportOf(1024 * 1024))).status).toBe(200);
	});

	it("settings: OTLP_ORG_BYTES_PER_SECOND (8 MiB) and OTLP_ORG_BYTE_BURST (32 MiB)", () => {
		expect(otlpSettingsFrom({})).toMatchObject({
			orgBytesPerSecond: 8 * MiB,
			orgByteBurst: 32 * MiB,
			maxBytesInFlight: 256 * MiB,
		});
		expect(otlpSettingsFrom({ OTLP_MAX_BYTES_IN_FLIGHT: "1000" }).maxBytesInFlight).toBe(1000);
		expect(
			otlpSettingsFrom({ OTLP_ORG_BYTES_PER_SECOND: "1000", OTLP_ORG_BYTE_BURST: "5000" }),
		).toMatchObject({
			orgBytesPerSecond: 1000,
			orgByteBurst: 5000,
		});
		expect(() => otlpSettingsFrom({ OTLP_ORG_BYTE_BURST: "-1" })).toThrow(/OTLP_ORG_BYTE_BURST/);
	});
});

describe("request body read timeout on Node (finding 10)", () => {
	let dir: string;
	let server: RunningServer;
	let key: string;
	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "hexcovery-timeout-"));
		const url = `file:${join(dir, "test.db")}`;
		const setup = await openMigratedDatabase(url);
		const org = await createOrg(setup.db, systemClock, "Slow");
		key = (await createApiKey(setup.db, systemClock, { orgId: org.id, name: "slow", createdBy: "cli" })).key;
		setup.client.close();
		server = await startNodeServer({
			PORT: "0",
			HOST: "127.0.0.1",
			OTLP_GRPC_PORT: "0",
			DATABASE_URL: url,
			DATA_DIR: join(dir, "data"),
			HTTP_REQUEST_TIMEOUT_MS: "300",
		});
	});
	afterAll(async () => {
		await server?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it("a body that stops arriving is answered 408 and the connection closed", async () => {
		const answer = await new Promise<string>((resolve, reject) => {
			const socket = connect(server.port, "127.0.0.1", () => {
				socket.write(
					`POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"resourceLogs":`,
				);
			});
			let text = "";
			socket.on("data", (chunk) => {
				text += chunk.toString("latin1");
			});
			socket.on("close", () => resolve(text));
			socket.on("error", reject);
		});
		expect(answer).toMatch(/^HTTP\/1\.1 408 /);
	});

	it("HTTP_REQUEST_TIMEOUT_MS is checked at start", async () => {
		await expect(startNodeServer({ PORT: "0", HTTP_REQUEST_TIMEOUT_MS: "soon" })).rejects.toThrow(
			/HTTP_REQUEST_TIMEOUT_MS/,
		);
	});
});
