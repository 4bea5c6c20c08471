/**
 * The dashboard side of heartbeats (JWT): monitors and notification channels — the role table
 * (viewers read, members and up write), listing, paging, changing, pausing and deleting.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROLES, type Role } from "../../src/auth/jwt.js";
import { monitorFlips, monitorPings, monitors, notificationChannels } from "../../src/db/schema.js";
import { newId } from "../../src/ids.js";
import { runSweep } from "../../src/sweep.js";
import { FakeClock } from "../support/clock.js";
import { request, tokenFor } from "../support/heartbeats.js";
import { seedUser, sessionFor } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

describe("RBAC: viewers read, members and up write; API keys are refused; no credential is 401", () => {
	interface Row {
		method: "GET" | "POST" | "PATCH" | "DELETE";
		/** `:slug` and `:channel` become a fresh monitor and channel of the caller's org. */
		path: string;
		body?: unknown;
		minRole: Role;
		ok: number;
	}
	const ROWS: Row[] = [
		{ method: "GET", path: "/api/v1/monitors", minRole: "viewer", ok: 200 },
		{ method: "GET", path: "/api/v1/monitors?status=up", minRole: "viewer", ok: 200 },
		{ method: "GET", path: "/api/v1/monitors/:slug", minRole: "viewer", ok: 200 },
		{ method: "PATCH", path: "/api/v1/monitors/:slug", body: { grace_s: 600 }, minRole: "member", ok: 200 },
		{ method: "DELETE", path: "/api/v1/monitors/:slug", minRole: "member", ok: 204 },
		{ method: "POST", path: "/api/v1/monitors/:slug/pause", minRole: "member", ok: 200 },
		{ method: "POST", path: "/api/v1/monitors/:slug/resume", minRole: "member", ok: 200 },
		{ method: "GET", path: "/api/v1/monitors/:slug/pings", minRole: "viewer", ok: 200 },
		{ method: "GET", path: "/api/v1/monitors/:slug/flips", minRole: "viewer", ok: 200 },
		{ method: "GET", path: "/api/v1/notification-channels", minRole: "viewer", ok: 200 },
		{
			method: "POST",
			path: "/api/v1/notification-channels",
			body: { name: "n", url: "https://hooks.example.com/x" },
			minRole: "member",
			ok: 201,
		},
		{
			method: "PATCH",
			path: "/api/v1/notification-channels/:channel",
			body: { enabled: false },
			minRole: "member",
			ok: 200,
		},
		{ method: "DELETE", path: "/api/v1/notification-channels/:channel", minRole: "member", ok: 204 },
		{ method: "GET", path: "/api/v1/notification-channels/:channel/deliveries", minRole: "viewer", ok: 200 },
		// The channel's URL does not answer (nothing is reachable): the route still answers 200 with the failure.
		{ method: "POST", path: "/api/v1/notification-channels/:channel/test", minRole: "member", ok: 200 },
	];
	type Caller = Role | "api_key" | "none";
	const CALLERS: Caller[] = [...ROLES, "api_key", "none"];

	let t: TestApp;
	let org: { orgId: string; key: string };
	let n = 0;
	beforeAll(async () => {
		t = await createTestApp({ clock: new FakeClock(T0) });
		org = await t.createOrgWithKey("RBAC");
	});
	afterAll(() => t.close());

	const cells = ROWS.flatMap((row) =>
		CALLERS.map((caller) => [`${row.method} ${row.path} as ${caller}`, row, caller] as const),
	);
	it.each(cells)("%s", async (_name, row, caller) => {
		n++;
		// A fresh org per cell: every cell adds a channel, and an org has at most 20.
		org = await t.createOrgWithKey(`RBAC ${n}`);
		const slug = `m${n}`;
		expect((await request(t, "POST", `/api/v1/heartbeat/${slug}`, { key: org.key })).status).toBe(201);
		const channelId = newId("nch");
		await t.deps.db.insert(notificationChannels).values({
			id: channelId,
			orgId: org.orgId,
			name: "c",
			type: "webhook",
			// A loopback target, refused at send time (private targets are off here): no connection is
			// attempted, and the test route reports the failure.
			url: "http://127.0.0.1:9/",
			secretEncrypted: null,
			enabled: true,
			createdAt: T0,
			updatedAt: T0,
		});
		const path = row.path.replace(":slug", slug).replace(":channel", channelId);
		const auth =
			caller === "none"
				? {}
				: caller === "api_key"
					? { key: org.key }
					: { token: await tokenFor(t, org.orgId, caller) };
		const res = await request(t, row.method, path, {
			...auth,
			...(row.body !== undefined && { json: row.body }),
		});
		const expected =
			caller === "none"
				? { status: 401, code: "missing_credentials" }
				: caller === "api_key"
					? { status: 403, code: "session_required" }
					: ROLES.indexOf(caller) >= ROLES.indexOf(row.minRole)
						? { status: row.ok }
						: { status: 403, code: "insufficient_role" };
		expect({ status: res.status, ...(expected.code && { code: res.json?.error?.code }) }, res.text).toEqual(
			expected,
		);
	});
});

describe("monitors on the dashboard", () => {
	let t: TestApp;
	let org: { orgId: string; key: string };
	let user: Awaited<ReturnType<typeof seedUser>>;
	/** A fresh token each time: the fake clock moves past a token's 15 minutes. */
	const session = async () => (await sessionFor(t, user)).token;
	beforeEach(async () => {
		t = await createTestApp({ clock: new FakeClock(T0) });
		org = await t.createOrgWithKey("Dash");
		user = await seedUser(t, { orgId: org.orgId, role: "member" });
	});
	afterEach(() => t.close());
	const ping = (path: string, body?: string) =>
		request(t, "POST", `/api/v1/heartbeat/${path}`, { key: org.key, ...(body !== undefined && { body }) });
	const get = async (path: string) => request(t, "GET", path, { token: await session() });

	it("lists by slug, filters by status, pages with next_cursor; refuses a bad cursor or status", async () => {
		for (const slug of ["echo", "alpha", "delta", "bravo", "charlie"]) await ping(`${slug}?period=1h`);
		await ping("delta/fail");
		await ping("bravo/fail");
		const all = await get("/api/v1/monitors");
		expect(all.json.data.map((m: { slug: string }) => m.slug)).toEqual([
			"alpha",
			"bravo",
			"charlie",
			"delta",
			"echo",
		]);
		expect(all.json.next_cursor).toBeNull();
		const down = await get("/api/v1/monitors?status=down");
		expect(down.json.data.map((m: { slug: string }) => m.slug)).toEqual(["bravo", "delta"]);
		expect((await get("/api/v1/monitors?status=paused")).json.data).toEqual([]);

		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const page = await get(
				`/api/v1/monitors?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
			);
			expect(page.status).toBe(200);
			seen.push(...page.json.data.map((m: { slug: string }) => m.slug));
			cursor = page.json.next_cursor;
			pages++;
		} while (cursor !== null && pages < 10);
		expect(seen).toEqual(["alpha", "bravo", "charlie", "delta", "echo"]);
		expect(pages).toBe(3);
		for (const query of ["?status=sleeping", "?cursor=%%%", "?limit=0", "?limit=1001", "?other=1"]) {
			expect((await get(`/api/v1/monitors${query}`)).status, query).toBe(400);
		}
	});

	it("GET /:slug shows the full monitor; unknown and invalid slugs are 404 / 400", async () => {
		await ping("job/start?rid=r1&period=2h&grace=10m&max_runtime=30m");
		const res = await get("/api/v1/monitors/job");
		expect(res.json).toEqual({
			id: expect.stringMatching(/^mon_[0-9A-Za-z]{20}$/),
			slug: "job",
			name: null,
			status: "new",
			started: true,
			period_s: 7_200,
			grace_s: 600,
			schedule: null,
			tz: "UTC",
			max_runtime_s: 1_800,
			last_ping_at: "2026-11-28T12:00:00.000Z",
			last_ping_kind: "start",
			last_duration_ms: null,
			next_due_at: "2026-11-28T14:00:00.000Z",
			alert_after: "2026-11-28T12:30:00.000Z",
			open_runs: [{ rid: "r1", started_at: "2026-11-28T12:00:00.000Z" }],
			created_at: "2026-11-28T12:00:00.000Z",
			updated_at: "2026-11-28T12:00:00.000Z",
		});
		expect((await get("/api/v1/monitors/nope")).status).toBe(404);
		expect((await get("/api/v1/monitors/NOPE")).status).toBe(400);
	});

	it("PATCH changes name and schedule, recomputes the due time at once and records the resulting flip", async () => {
		await ping("job?period=1h&grace=5m");
		t.clock.advance(62 * 60_000);
		await runSweep(t.deps);
		expect((await get("/api/v1/monitors/job")).json.status).toBe("late");

		// A longer period: no longer late.
		const longer = await request(t, "PATCH", "/api/v1/monitors/job", {
			token: await session(),
			json: { period_s: 7_200, name: "Nightly job" },
		});
		expect(longer.status, longer.text).toBe(200);
		expect(longer.json).toMatchObject({
			name: "Nightly job",
			status: "up",
			period_s: 7_200,
			next_due_at: "2026-11-28T14:00:00.000Z",
			updated_at: "2026-11-28T13:02:00.000Z",
		});
		// To a cron schedule in Berlin; the due time follows it.
		const cron = await request(t, "PATCH", "/api/v1/monitors/job", {
			token: await session(),
			json: { schedule: "0  3 * * *", tz: "Europe/Berlin", max_runtime_s: 900 },
		});
		expect(cron.json).toMatchObject({
			period_s: null,
			schedule: "0 3 * * *",
			tz: "Europe/Berlin",
			max_runtime_s: 900,
			next_due_at: "2026-11-29T02:00:00.000Z",
			status: "up",
		});
		// Back to an interval that makes it overdue past the grace: down at once, with an alert-worthy flip.
		const back = await request(t, "PATCH", "/api/v1/monitors/job", {
			token: await session(),
			json: { schedule: null, grace_s: 60 },
		});
		// (schedule: null without period_s: the default period, 1d)
		expect(back.json).toMatchObject({ schedule: null, period_s: 86_400, grace_s: 60, status: "up" });
		const tight = await request(t, "PATCH", "/api/v1/monitors/job", {
			token: await session(),
			json: { period_s: 60 },
		});
		expect(tight.json.status).toBe("down");
		const flips = await get("/api/v1/monitors/job/flips");
		expect(
			flips.json.data.map(
				(f: { old_status: string; new_status: string; cause: string }) =>
					`${f.old_status}→${f.new_status}:${f.cause}`,
			),
		).toEqual(["up→down:grace_ended", "late→up:settings_changed", "up→late:due", "new→up:success_ping"]);

		for (const body of [
			{ period_s: 3_600, schedule: "0 3 * * *" },
			{ schedule: "0 3 * *" },
			{ schedule: "0 0 31 2 *" },
			{ tz: "Nowhere/City" },
			{ period_s: 0 },
			{ grace_s: -1 },
			{ grace_s: 366 * 86_400 },
			{ slug: "renamed" },
			{},
			{ name: "" },
		]) {
			const res = await request(t, "PATCH", "/api/v1/monitors/job", { token: await session(), json: body });
			expect(res.status, JSON.stringify(body)).toBe(400);
			expect(res.json.error.code).toBe("invalid_request");
		}
		expect(
			(
				await request(t, "PATCH", "/api/v1/monitors/job", {
					token: await session(),
					body: "x",
					headers: { "Content-Type": "text/plain" },
				})
			).status,
		).toBe(415);
	});

	it("pings are listed newest first with their bodies and paged; flips too", async () => {
		await ping("job?period=1h", "first");
		for (let i = 2; i <= 5; i++) {
			t.clock.advance(1_000);
			await ping(i % 2 === 0 ? "job/fail" : "job", `body ${i}`);
		}
		const page1 = await get("/api/v1/monitors/job/pings?limit=3");
		expect(
			page1.json.data.map((p: { seq: number; body: string; kind: string }) => [p.seq, p.kind, p.body]),
		).toEqual([
			[5, "success", "body 5"],
			[4, "fail", "body 4"],
			[3, "success", "body 3"],
		]);
		expect(page1.json.data[0]).toMatchObject({
			at: "2026-11-28T12:00:04.000Z",
			exit_code: null,
			rid: null,
			duration_ms: null,
			body_truncated: false,
			remote_addr: "127.0.0.1",
		});
		expect(page1.json.data[0].api_key_id).toMatch(/^key_/);
		const page2 = await get(
			`/api/v1/monitors/job/pings?limit=3&cursor=${encodeURIComponent(page1.json.next_cursor)}`,
		);
		expect(page2.json.data.map((p: { seq: number }) => p.seq)).toEqual([2, 1]);
		expect(page2.json.next_cursor).toBeNull();

		const flips1 = await get("/api/v1/monitors/job/flips?limit=2");
		expect(flips1.json.data.map((f: { new_status: string }) => f.new_status)).toEqual(["up", "down"]);
		const flips2 = await get(
			`/api/v1/monitors/job/flips?limit=2&cursor=${encodeURIComponent(flips1.json.next_cursor)}`,
		);
		expect(flips2.json.data.map((f: { new_status: string }) => f.new_status)).toEqual(["up", "down"]);
		const flips3 = await get(
			`/api/v1/monitors/job/flips?limit=2&cursor=${encodeURIComponent(flips2.json.next_cursor)}`,
		);
		expect(
			flips3.json.data.map(
				(f: { old_status: string; new_status: string }) => `${f.old_status}→${f.new_status}`,
			),
		).toEqual(["new→up"]);
		expect(flips3.json.next_cursor).toBeNull();
	});

	it("DELETE removes the monitor with its pings and flips; the next ping creates a new one", async () => {
		await ping("gone?period=1h");
		await ping("gone/fail");
		await ping("kept");
		const removed = await request(t, "DELETE", "/api/v1/monitors/gone", { token: await session() });
		expect(removed.status).toBe(204);
		expect((await request(t, "DELETE", "/api/v1/monitors/gone", { token: await session() })).status).toBe(
			404,
		);
		expect((await get("/api/v1/monitors/gone")).status).toBe(404);
		expect((await t.deps.db.select().from(monitors)).map((m) => m.slug)).toEqual(["kept"]);
		expect(await t.deps.db.select().from(monitorPings)).toHaveLength(1);
		expect((await t.deps.db.select().from(monitorFlips)).map((f) => f.newStatus)).toEqual(["up"]);
		const again = await ping("gone");
		expect(again.status).toBe(201);
		expect(again.json.monitor).toMatchObject({ period_s: 86_400, status: "up" });
	});
});
