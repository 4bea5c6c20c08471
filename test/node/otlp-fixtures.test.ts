import type { Client } from "@libsql/client";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";
import { exactReader, FIXTURE_NOW_MS, fixture, rowsOf } from "../support/otlp.js";
import { type EncodeOptions, encodeOtlp, type RequestKind } from "../support/otlp-protobuf.js";

/**
 * Our fixtures (shaped like opentelemetry-proto's examples/*.json) decode to the right rows, posted
 * as OTLP JSON and as protobuf (also with fields in reverse order and repeated scalars unpacked).
 */

let t: TestApp;
let reader: Client;
afterEach(() => {
	reader?.close();
	t?.close();
});

async function setup() {
	t = await createTestApp({ clock: new FakeClock(FIXTURE_NOW_MS) });
	reader = exactReader(t.database.dir);
	return t.createOrgWithKey();
}

type Encoding =
	| { name: string; format: "json" }
	| { name: string; format: "protobuf"; options: EncodeOptions };
const ENCODINGS: Encoding[] = [
	{ name: "OTLP JSON", format: "json" },
	{ name: "protobuf", format: "protobuf", options: {} },
	{
		name: "protobuf, fields reversed, unpacked",
		format: "protobuf",
		options: { reverseFields: true, unpacked: true },
	},
];

async function post(key: string, path: string, kind: RequestKind, body: unknown, encoding: Encoding) {
	const response = await t.app.request(path, {
		method: "POST",
		headers: {
			"X-API-Key": key,
			"Content-Type": encoding.format === "json" ? "application/json" : "application/x-protobuf",
		},
		body: encoding.format === "json" ? JSON.stringify(body) : encodeOtlp(kind, body, encoding.options),
	});
	expect(response.status, await response.clone().text()).toBe(200);
	expect(response.headers.get("Content-Type")).toBe(
		encoding.format === "json" ? "application/json" : "application/x-protobuf",
	);
	const answer = new Uint8Array(await response.arrayBuffer());
	// Full success: partial_success unset — `{}` in JSON, an empty message in protobuf.
	expect(encoding.format === "json" ? new TextDecoder().decode(answer) : answer.length).toEqual(
		encoding.format === "json" ? "{}" : 0,
	);
}

const RESOURCE_ONE_SERVICE = '{"service.name":"checkout"}';
const SCOPE = {
	scope_name: "checkout.http",
	scope_version: "2.3.0",
	scope_attributes: '{"scope.team":"payments"}',
};

describe.each(ENCODINGS)("fixtures as $name", (encoding) => {
	it("trace.json → one span row, field by field", async () => {
		const { orgId, key } = await setup();
		await post(key, "/v1/traces", "TraceRequest", fixture("trace"), encoding);
		expect(await rowsOf(reader, "spans")).toEqual([
			{
				id: 1,
				org_id: orgId,
				timestamp: 1544712660000000000n,
				duration_ns: 1250000000,
				trace_id: "0af7651916cd43dd8448eb211c80319c",
				span_id: "b7ad6b7169203331",
				parent_span_id: "00f067aa0ba902b7",
				name: "POST /cart",
				kind: "server",
				status_code: "error",
				status_message: "upstream timeout",
				service: "checkout",
				host: "web-1",
				...SCOPE,
				resource_attributes: '{"service.name":"checkout","host.name":"web-1"}',
				attributes: '{"http.route":"/cart","http.status_code":201}',
				events: '[{"timestamp":1544712660500000000,"name":"retry","attributes":{"attempt":2}}]',
				links: null,
			},
		]);
	});

	it("logs.json → one log row with every value type", async () => {
		const { orgId, key } = await setup();
		await post(key, "/v1/logs", "LogsRequest", fixture("logs"), encoding);
		expect(await rowsOf(reader, "logs")).toEqual([
			{
				id: 1,
				org_id: orgId,
				timestamp: 1544712660300000000n,
				observed_timestamp: 1544712660400000000n,
				severity_number: 17,
				severity_text: "Error",
				level: "error",
				body: "payment declined",
				trace_id: "0af7651916cd43dd8448eb211c80319c",
				span_id: "b7ad6b7169203331",
				event_name: null,
				service: "checkout",
				host: null,
				...SCOPE,
				scope_name: "checkout.logger",
				resource_attributes: RESOURCE_ONE_SERVICE,
				attributes:
					'{"text.attr":"card","flag.attr":true,"count.attr":9007199254740993,"ratio.attr":0.25,' +
					'"list.attr":["a",1],"map.attr":{"inner":"x"}}',
			},
		]);
		// The int64 beyond 2^53 stays exact for SQL.
		const exact = await reader.execute("SELECT json_extract(attributes, '$.\"count.attr\"') AS n FROM logs");
		expect(exact.rows[0]?.n).toBe(9007199254740993n);
	});

	it("metrics.json → one row per data point, for sum, gauge, histogram and exponential histogram", async () => {
		const { orgId, key } = await setup();
		await post(key, "/v1/metrics", "MetricsRequest", fixture("metrics"), encoding);
		const common = {
			org_id: orgId,
			timestamp: 1544712660300000000n,
			service: "checkout",
			host: null,
			...SCOPE,
			scope_name: "checkout.meter",
			resource_attributes: RESOURCE_ONE_SERVICE,
			count: null,
			sum: null,
			min: null,
			max: null,
			bucket_counts: null,
			explicit_bounds: null,
			exponential_buckets: null,
			quantiles: null,
		};
		expect(await rowsOf(reader, "metric_points")).toEqual([
			{
				...common,
				id: 1,
				start_timestamp: 1544712660300000000n,
				metric_name: "orders.placed",
				kind: "sum",
				unit: "1",
				temporality: "delta",
				is_monotonic: 1,
				value: 7,
				attributes: '{"region":"eu"}',
			},
			{
				...common,
				id: 2,
				start_timestamp: null,
				metric_name: "queue.depth",
				kind: "gauge",
				unit: "1",
				temporality: null,
				is_monotonic: null,
				value: 42,
				attributes: '{"queue":"email"}',
			},
			{
				...common,
				id: 3,
				start_timestamp: 1544712660300000000n,
				metric_name: "request.duration",
				kind: "histogram",
				unit: "ms",
				temporality: "cumulative",
				is_monotonic: null,
				value: null,
				count: 3,
				sum: 12.5,
				min: 1,
				max: 8,
				bucket_counts: "[1,2]",
				explicit_bounds: "[5]",
				attributes: '{"route":"/cart"}',
			},
			{
				...common,
				id: 4,
				start_timestamp: 1544712660300000000n,
				metric_name: "payload.size",
				kind: "exponential_histogram",
				unit: "By",
				temporality: "delta",
				is_monotonic: null,
				value: null,
				count: 4,
				sum: 30,
				min: 0,
				max: 12,
				exponential_buckets:
					'{"scale":1,"zero_count":1,"zero_threshold":0,"positive":{"offset":2,"bucket_counts":[1,2]},' +
					'"negative":{"offset":0,"bucket_counts":[]}}',
				attributes: '{"route":"/cart"}',
			},
		]);
		const names = await rowsOf(reader, "metric_names", { orderBy: "name" });
		expect(names.map((n) => [n.name, n.kind, n.unit, n.description])).toEqual([
			["orders.placed", "sum", "1", "Orders placed"],
			["payload.size", "exponential_histogram", "By", "Payload size"],
			["queue.depth", "gauge", "1", "Queue depth"],
			["request.duration", "histogram", "ms", "Request duration"],
		]);
	});
});
