/**
 * From the limits audit: a monitor flapping on every ping kept a flip, and a delivery per channel,
 * for each ping until `retention_days` (up to ten years). A monitor now keeps its newest
 * MAX_FLIPS_PER_MONITOR flips (deleted every FLIP_PRUNE_EVERY flips, so up to 1,099); older ones go
 * with their finished deliveries, on both write paths.
 */
import { and, count, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { alertDeliveries, monitorFlips, monitors, notificationChannels } from "../../src/db/schema.js";
import { FLIP_PRUNE_EVERY, MAX_FLIPS_PER_MONITOR } from "../../src/heartbeats/store.js";
import { newId } from "../../src/ids.js";
import { FakeClock } from "../support/clock.js";
import { DeferredWork, request, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
let t: TestApp | undefined;
afterEach(async () => {
	await t?.close();
	t = undefined;
});

describe.each([
	["through the libSQL client (Workers, the sweep)", false],
	["through the Node runtime's group-commit writer", true],
])("a monitor's flips, %s", (_, writer) => {
	it(`keeps the newest ${MAX_FLIPS_PER_MONITOR.toLocaleString("en-US")}, and drops the older ones' finished deliveries`, async () => {
		t = await createTestApp({ clock: new FakeClock(T0), writer });
		const app = t;
		const org = await app.createOrgWithKey("Flappy");
		const work = new DeferredWork();
		const ping = async (path: string) => {
			const answer = await request(app, "POST", `/api/v1/heartbeat/${path}`, {
				key: org.key,
				deferred: work,
			});
			expect(answer.status).toBeLessThan(300);
			await work.settle();
			app.clock.advance(1_000);
		};
		await ping("flappy");
		await ping("quiet");
		const [flappy, quiet] = (await Promise.all(
			["flappy", "quiet"].map(
				async (slug) =>
					(
						await app.deps.db.select().from(monitors).where(eq(monitors.slug, slug))
					)[0] as { id: string },
			),
		)) as [{ id: string }, { id: string }];
		const flipSeqOf = async (id: string) =>
			(await app.deps.db.select({ n: monitors.flipSeq }).from(monitors).where(eq(monitors.id, id)))[0]?.n;
		// The counter counts flips, as the flips table does: the first ping's `new` → `up`, then only flips.
		const firstFlips = await app.deps.db
			.select()
			.from(monitorFlips)
			.where(eq(monitorFlips.monitorId, flappy.id));
		expect(await flipSeqOf(flappy.id)).toBe(firstFlips.length);
		await ping("flappy"); // up → up: no flip, light or not
		expect(await flipSeqOf(flappy.id)).toBe(firstFlips.length);
		await ping("flappy/fail");
		await ping("flappy");
		expect(await flipSeqOf(flappy.id)).toBe(firstFlips.length + 2);
		const channelId = newId("nch");
		await app.deps.db.insert(notificationChannels).values({
			id: channelId,
			orgId: org.orgId,
			name: "disabled",
			type: "webhook",
			url: "https://example.com/hook",
			secretEncrypted: null,
			enabled: false,
			createdAt: T0,
			updatedAt: T0,
		});
		// A history already at the cap, older than anything now: each flip with a delivery (finished,
		// except the oldest one's, still pending); the other monitor has a history of its own.
		const seed = async (monitorId: string, n: number) => {
			const flips = Array.from({ length: n }, (_, i) => ({
				id: `flp_${monitorId}_${String(i).padStart(5, "0")}`,
				monitorId,
				orgId: org.orgId,
				at: T0 - 10_000_000 + i * 1_000,
				oldStatus: i % 2 === 0 ? ("up" as const) : ("down" as const),
				newStatus: i % 2 === 0 ? ("down" as const) : ("up" as const),
				cause: "fail_ping",
			}));
			for (let i = 0; i < flips.length; i += 200)
				await app.deps.db.insert(monitorFlips).values(flips.slice(i, i + 200));
			const deliveries = flips.map((f, i) => ({
				orgId: org.orgId,
				channelId,
				monitorId,
				flipId: f.id,
				event: "monitor.status_changed" as const,
				payload: "{}",
				status: i === 0 ? ("pending" as const) : ("delivered" as const),
				attempts: 1,
				nextAttemptAt: i === 0 ? T0 + 3_600_000 : null,
				createdAt: f.at,
			}));
			for (let i = 0; i < deliveries.length; i += 200)
				await app.deps.db.insert(alertDeliveries).values(deliveries.slice(i, i + 200));
			return flips;
		};
		const history = await seed(flappy.id, MAX_FLIPS_PER_MONITOR);
		await seed(quiet.id, MAX_FLIPS_PER_MONITOR);
		const flipsOf = async (monitorId: string) =>
			(
				await app.deps.db
					.select({ n: count() })
					.from(monitorFlips)
					.where(eq(monitorFlips.monitorId, monitorId))
			)[0]?.n;
		const deliveryOf = async (flipId: string) =>
			app.deps.db
				.select({ status: alertDeliveries.status })
				.from(alertDeliveries)
				.where(and(eq(alertDeliveries.flipId, flipId)));

		// The first pings flipped `new` to `up` too: those are the newest so far.
		const before = (await flipsOf(flappy.id)) ?? 0;
		const quietBefore = await flipsOf(quiet.id);
		expect(before).toBeGreaterThanOrEqual(MAX_FLIPS_PER_MONITOR);
		// Every 100th flip of a monitor deletes those beyond its newest 1,000: flappy is at its 97th,
		// quiet at its 99th.
		await app.deps.db.update(monitors).set({ flipSeq: 97 }).where(eq(monitors.id, flappy.id));
		await app.deps.db.update(monitors).set({ flipSeq: 99 }).where(eq(monitors.id, quiet.id));
		// Three flips: down, up, down; the first two (98th, 99th) keep everything.
		await ping("flappy/fail");
		expect(await flipsOf(flappy.id)).toBe(before + 1);
		await ping("flappy");
		await ping("flappy/fail");

		expect(await flipsOf(flappy.id)).toBe(MAX_FLIPS_PER_MONITOR);
		const dropped = before + 3 - MAX_FLIPS_PER_MONITOR;
		const stored = async (id: string) =>
			(await app.deps.db.select().from(monitorFlips).where(eq(monitorFlips.id, id))).length;
		for (const gone of history.slice(0, dropped)) expect(await stored(gone.id)).toBe(0);
		expect(await stored(history[dropped]?.id as string)).toBe(1);
		// The dropped flips' deliveries are gone (the oldest one's, pending, was superseded by the first
		// new flip to down first); a kept flip keeps its delivery.
		for (const gone of history.slice(0, dropped)) expect(await deliveryOf(gone.id)).toEqual([]);
		expect(await deliveryOf(history[dropped]?.id as string)).toEqual([{ status: "delivered" }]);
		// The other monitor's history is its own.
		expect(await flipsOf(quiet.id)).toBe(quietBefore);
		expect(FLIP_PRUNE_EVERY).toBe(100); // the numbers above
		// A flip that alerts no one (a pause, quiet's 100th) drops the other monitor's oldest flip, whose delivery is
		// still pending: that delivery stays, to be sent.
		const member = await tokenFor(app, org.orgId, "member");
		expect((await request(app, "POST", "/api/v1/monitors/quiet/pause", { token: member })).status).toBe(200);
		expect(await flipsOf(quiet.id)).toBe(MAX_FLIPS_PER_MONITOR);
		const quietOldest = `flp_${quiet.id}_00000`;
		expect(await stored(quietOldest)).toBe(0);
		expect(await deliveryOf(quietOldest)).toEqual([{ status: "pending" }]);
		// The API lists the newest first, the latest flip on top.
		const listed = await request(app, "GET", "/api/v1/monitors/flappy/flips?limit=1", {
			token: await tokenFor(app, org.orgId, "viewer"),
		});
		expect(listed.json.data[0]).toMatchObject({ old_status: "up", new_status: "down" });
	});
});
