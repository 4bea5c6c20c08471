import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TelemetryRow } from "../../bench/pages.js";
import {
	createWorld,
	expectedHosts,
	expectedLogs,
	expectedTraces,
	get,
	HOUR,
	insertRows,
	NS,
	ns,
	spanRow,
	T0,
	type World,
} from "../support/pages.js";

/**
 * Cursors while data arrives: between two page fetches, rows are written before, at and after the
 * cursor's position, and the clock moves on (so a rolling `range=1h` would slide). Each traversal
 * must return every row that existed when it began exactly once, in order, plus only the new rows
 * that landed in the part not read yet.
 */

let world: World;
beforeEach(async () => {
	world = await createWorld({ logs: 800, spans: 800, metrics: 100 });
});
afterEach(() => world.t.close());

function logRow(orgId: string, timestampNs: bigint, body: string): TelemetryRow {
	return {
		org_id: orgId,
		timestamp: timestampNs,
		observed_timestamp: timestampNs,
		severity_number: 9,
		severity_text: "INFO",
		level: "info",
		body,
		trace_id: null,
		span_id: null,
		event_name: null,
		service: "svc-00",
		host: "host-000.prod",
		scope_name: null,
		scope_version: null,
		resource_attributes: "{}",
		scope_attributes: null,
		attributes: "{}",
	};
}

/** Fetches every page; `between` runs once, after the first page, with that page's rows. */
async function traverse<T>(
	path: string,
	between: (first: T[]) => Promise<void>,
): Promise<{ rows: T[]; pages: number }> {
	const rows: T[] = [];
	let cursor: string | null = null;
	let pages = 0;
	do {
		const res = await get(world, `${path}${cursor ? `&cursor=${cursor}` : ""}`);
		expect(res.status).toBe(200);
		rows.push(...res.json.data);
		cursor = res.json.next_cursor;
		if (++pages === 1) await between(res.json.data);
	} while (cursor);
	return { rows, pages };
}

describe("cursors while new data arrives", () => {
	it("logs: no gap, no repeat, the window pinned by the cursor", async () => {
		const original = expectedLogs(world, { orgId: world.orgA, fromMs: T0 - HOUR, toMs: T0 });
		const later: TelemetryRow[] = [];
		const { rows, pages } = await traverse<{ id: string; time_unix_nano: string; body: string }>(
			"/api/v1/pages/logs?range=1h&limit=40",
			async (first) => {
				const last = first.at(-1) as { time_unix_nano: string };
				const cursorNs = BigInt(last.time_unix_nano);
				const newest = BigInt(first[0]?.time_unix_nano as string);
				later.push(logRow(world.orgA, cursorNs - 1n, "older than the cursor: still to come"));
				later.push(logRow(world.orgA, BigInt(T0 - HOUR) * NS + 5n, "at the far end of the window"));
				await insertRows(world, "logs", [
					...later,
					logRow(world.orgA, cursorNs, "the cursor's timestamp, a larger id: already passed"),
					logRow(world.orgA, newest + 1n, "newer than the first page"),
					logRow(world.orgA, BigInt(T0) * NS + 1n, "after the window"),
					logRow(world.orgB, cursorNs - 2n, "another org"),
				]);
				// A rolling window would now start 10 minutes later (tokens live 15) and drop the rows in between.
				world.t.clock.advance(10 * 60_000);
			},
		);
		expect(pages).toBeGreaterThan(3);
		const ids = rows.map((row) => row.id);
		expect(new Set(ids).size).toBe(ids.length);
		const expected = [...original, ...later].sort((a, b) =>
			ns(a) === ns(b) ? Number(b.id) - Number(a.id) : ns(a) > ns(b) ? -1 : 1,
		);
		expect(ids).toEqual(expected.map((row) => String(row.id)));
	});

	it("traces: no gap, no repeat while root spans arrive", async () => {
		const original = expectedTraces(world, { orgId: world.orgA, fromMs: T0 - HOUR, toMs: T0 });
		const later: string[] = [];
		const { rows } = await traverse<{ trace_id: string; time_unix_nano: string }>(
			"/api/v1/pages/traces?range=1h&limit=10",
			async (first) => {
				const cursorNs = BigInt(first.at(-1)?.time_unix_nano as string);
				const root = (traceId: string, at: bigint, orgId = world.orgA) =>
					spanRow({ org_id: orgId, trace_id: traceId, span_id: traceId.slice(0, 16), timestamp: at });
				later.push("11111111111111111111111111111111");
				await insertRows(world, "spans", [
					root("11111111111111111111111111111111", cursorNs - 1n),
					root("22222222222222222222222222222222", cursorNs),
					root("33333333333333333333333333333333", BigInt(first[0]?.time_unix_nano as string) + 1n),
					root("44444444444444444444444444444444", cursorNs - 3n, world.orgB),
				]);
				world.t.clock.advance(10 * 60_000);
			},
		);
		const ids = rows.map((row) => row.trace_id);
		expect(new Set(ids).size).toBe(ids.length);
		const expected = original.map((trace) => trace.trace_id);
		const at = expected.findIndex((id) => {
			const trace = original.find((t) => t.trace_id === id);
			return (
				BigInt(trace?.time_unix_nano as string) <
				BigInt(rows.find((r) => r.trace_id === later[0])?.time_unix_nano as string)
			);
		});
		expected.splice(at, 0, ...later);
		expect(ids).toEqual(expected);
	});

	it("hosts: by name, new hosts appear only after the cursor", async () => {
		const original = expectedHosts(world, world.orgA, T0 - HOUR, T0).map((host) => host.host);
		expect(original.length).toBeGreaterThan(4);
		const { rows } = await traverse<{ host: string }>(
			"/api/v1/pages/hosts?range=1h&limit=2",
			async (first) => {
				const cursor = first.at(-1)?.host as string;
				const at = BigInt(T0 - 10 * 60_000) * NS;
				const log = (host: string) => ({ ...logRow(world.orgA, at, "new host"), host });
				await insertRows(world, "logs", [log(`${cursor}-after`), log("aaa-before-everything")]);
				world.t.clock.advance(10 * 60_000);
			},
		);
		const names = rows.map((row) => row.host);
		expect(new Set(names).size).toBe(names.length);
		expect(names).toEqual([...original, `${original[1]}-after`].sort());
	});
});
