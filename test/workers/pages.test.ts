import { describe, expect, it } from "vitest";
import {
	API_KEY_CHALLENGE,
	expectError,
	expectOk,
	orgWithKey,
	tokenForNewUser,
	workerFetch,
} from "./support.js";

/**
 * The built-in pages inside workerd, through the Worker's fetch handler, over libSQL through the
 * HTTP stand-in: each page's statements go as one read batch over Hrana. Data arrives by OTLP/JSON.
 * Golden answers over a generated data set are the Node tests' (test/node/pages.test.ts).
 */

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
/** One "now" for the whole seed, so offsets between records are exact. */
const base = BigInt(Date.now()) * 1_000_000n;
const nano = (msAgo: number) => String(base - BigInt(msAgo) * 1_000_000n);

async function seed() {
	const { orgId, key } = await orgWithKey("Pages edge");
	const resource = {
		attributes: [
			{ key: "service.name", value: { stringValue: "edge-api" } },
			{ key: "host.name", value: { stringValue: "edge-host-1" } },
		],
	};
	const span = (spanId: string, parent: string | undefined, start: number, end: number, error = false) => ({
		traceId: TRACE,
		spanId,
		...(parent ? { parentSpanId: parent } : {}),
		name: parent ? "SELECT orders" : "GET /orders",
		kind: parent ? 3 : 2,
		startTimeUnixNano: nano(start),
		endTimeUnixNano: nano(end),
		status: error ? { code: 2, message: "boom" } : {},
	});
	const post = (path: string, body: unknown) =>
		workerFetch(path, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		});
	await expectOk(
		await post("/v1/traces", {
			resourceSpans: [
				{
					resource,
					scopeSpans: [
						{
							spans: [
								span("00f067aa0ba902b7", undefined, 5000, 4000),
								span("00f067aa0ba902b8", "00f067aa0ba902b7", 4900, 4500, true),
								span("00f067aa0ba902b9", "00f067aa0ba902b8", 4800, 4700),
							],
						},
					],
				},
			],
		}),
	);
	await expectOk(
		await post("/v1/logs", {
			resourceLogs: [
				{
					resource,
					scopeLogs: [
						{
							logRecords: [
								{
									timeUnixNano: nano(4600),
									severityNumber: 17,
									body: { stringValue: "Query FAILED: deadlock" },
									traceId: TRACE,
									spanId: "00f067aa0ba902b8",
								},
								{ timeUnixNano: nano(3000), severityNumber: 9, body: { stringValue: "ok" } },
							],
						},
					],
				},
			],
		}),
	);
	return { orgId, key, token: await tokenForNewUser(orgId, "viewer", "Edge viewer") };
}

describe("pages on Workers", () => {
	it("answers every page from a read batch over remote libSQL", async () => {
		const { key, token } = await seed();
		const get = (path: string) => workerFetch(path, { headers: { Authorization: `Bearer ${token}` } });

		const overview = await expectOk<Record<string, { count: number; errors: number }>>(
			await get("/api/v1/pages/overview?range=15m"),
		);
		expect(overview.logs).toMatchObject({ count: 2, errors: 1 });
		expect(overview.spans).toMatchObject({ count: 3, errors: 1 });

		const logs = await expectOk<{ data: { body: string }[]; histogram: { buckets: { count: number }[] } }>(
			await get("/api/v1/pages/logs?range=15m&q=failed"),
		);
		expect(logs.data.map((row) => row.body)).toEqual(["Query FAILED: deadlock"]);
		expect(logs.histogram.buckets.reduce((n, b) => n + b.count, 0)).toBe(1);

		const traces = await expectOk<{ data: { trace_id: string; span_count: number; error: boolean }[] }>(
			await get("/api/v1/pages/traces?range=15m"),
		);
		expect(traces.data).toEqual([expect.objectContaining({ trace_id: TRACE, span_count: 3, error: true })]);

		const trace = await expectOk<{ spans: { depth: number; start_offset_ms: number }[]; logs: unknown[] }>(
			await get(`/api/v1/pages/traces/${TRACE}`),
		);
		expect(trace.spans.map((s) => s.depth)).toEqual([0, 1, 2]);
		expect(trace.spans.map((s) => s.start_offset_ms)).toEqual([0, 100, 200]);
		expect(trace.logs).toHaveLength(1);

		const hosts = await expectOk<{ data: { host: string; services: string[] }[] }>(
			await get("/api/v1/pages/hosts?range=15m"),
		);
		expect(hosts.data).toEqual([expect.objectContaining({ host: "edge-host-1", services: ["edge-api"] })]);
		await expectOk(await get("/api/v1/pages/hosts/edge-host-1?range=15m"));

		const schema = await expectOk<{ sources: { attributes: { key: string }[] }[] }>(
			await get("/api/v1/pages/schema?source=spans"),
		);
		expect(schema.sources[0]?.attributes.map((a) => a.key)).toContain("host.name");

		await expectError(
			await workerFetch("/api/v1/pages/overview", { headers: { "X-API-Key": key } }),
			403,
			"session_required",
		);
		await expectError(await workerFetch("/api/v1/pages/logs"), 401, "missing_credentials", API_KEY_CHALLENGE);
	});
});
