/**
 * Security review finding 3: the sweep delivered at most 50 alerts a minute for all orgs together,
 * oldest first, and nothing capped monitors per org: one org's 35,275 queued deliveries held
 * another org's single alert back for ~12 h. Now: rounds fair across orgs, a budget that grows with
 * the backlog, a flapping monitor's waiting deliveries collapsed, and caps on monitors and channels.
 */
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { heartbeatSettingsFrom } from "../../src/config.js";
import { alertDeliveries, notificationChannels } from "../../src/db/schema.js";
import { attemptDeliveries, sweepDeliveries } from "../../src/heartbeats/alerts.js";
import { newId } from "../../src/ids.js";
import { runSweep } from "../../src/sweep.js";
import { FakeClock } from "../support/clock.js";
import { DeferredWork, request, startReceiver, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

let t: TestApp;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeEach(async () => {
	t = await createTestApp({
		clock: new FakeClock(T0),
		heartbeats: { allowPrivateWebhookTargets: true, maxMonitorsPerOrg: 3, maxChannelsPerOrg: 2 },
	});
	receiver = await startReceiver();
});
afterEach(async () => {
	await receiver.close();
	t.close();
});

async function channelFor(orgId: string, path: string): Promise<string> {
	const id = newId("nch");
	await t.deps.db.insert(notificationChannels).values({
		id,
		orgId,
		name: path,
		type: "webhook",
		url: `${receiver.url}${path}`,
		secretEncrypted: null,
		enabled: true,
		createdAt: T0,
		updatedAt: T0,
	});
	return id;
}

async function queue(orgId: string, channelId: string, count: number, dueAt: number) {
	const rows = Array.from({ length: count }, (_, i) => ({
		orgId,
		channelId,
		monitorId: null,
		flipId: null,
		event: "monitor.status_changed" as const,
		payload: JSON.stringify({ event: "monitor.status_changed", n: i }),
		status: "pending" as const,
		attempts: 0,
		nextAttemptAt: dueAt + i,
		createdAt: dueAt + i,
	}));
	for (let i = 0; i < rows.length; i += 100)
		await t.deps.db.insert(alertDeliveries).values(rows.slice(i, i + 100));
}

describe("alert delivery fairness (finding 3)", () => {
	it("one org's backlog does not hold back another org's alert: the first round serves every org", async () => {
		const noisy = await t.createOrgWithKey("Noisy");
		const quiet = await t.createOrgWithKey("Quiet");
		await queue(noisy.orgId, await channelFor(noisy.orgId, "/noisy"), 300, T0 - 3_600_000);
		await queue(quiet.orgId, await channelFor(quiet.orgId, "/quiet"), 1, T0 - 1);
		const round = await attemptDeliveries(t.deps);
		expect(round).toHaveLength(50);
		expect(round.filter((d) => d.orgId === quiet.orgId).map((d) => d.status)).toEqual(["delivered"]);
		expect(receiver.received.filter((r) => r.path === "/quiet")).toHaveLength(1);
	});

	it("the sweep's budget grows with the backlog: 301 due deliveries go out in one sweep, in fair rounds", async () => {
		const noisy = await t.createOrgWithKey("Noisy");
		const quiet = await t.createOrgWithKey("Quiet");
		await queue(noisy.orgId, await channelFor(noisy.orgId, "/noisy"), 300, T0 - 3_600_000);
		await queue(quiet.orgId, await channelFor(quiet.orgId, "/quiet"), 1, T0 - 1);
		const delivered = await sweepDeliveries(t.deps);
		expect(delivered).toHaveLength(301);
		expect(receiver.received).toHaveLength(301);
		const pending = await t.deps.db
			.select()
			.from(alertDeliveries)
			.where(eq(alertDeliveries.status, "pending"));
		expect(pending).toEqual([]);
	});

	it("a flapping monitor's waiting deliveries collapse: after three flips the receiver gets the latest once", async () => {
		const org = await t.createOrgWithKey("Flappy");
		await channelFor(org.orgId, "/flap");
		receiver.respond(() => 500);
		const work = new DeferredWork();
		for (const path of ["flappy/fail", "flappy", "flappy/fail"]) {
			const answer = await request(t, "POST", `/api/v1/heartbeat/${path}`, { key: org.key, deferred: work });
			expect(answer.status).toBeLessThan(300);
			await work.settle();
			t.clock.advance(1_000);
		}
		expect(receiver.received).toHaveLength(3); // each flip tried once, right away, and refused
		receiver.respond(() => 204);
		t.clock.advance(10 * 60_000);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(4);
		expect(JSON.parse(receiver.received[3]?.body ?? "{}")).toMatchObject({
			old_status: "up",
			new_status: "down",
		});
		const log = await t.deps.db.select().from(alertDeliveries).orderBy(alertDeliveries.id);
		expect(log.map((d) => [d.status, d.error])).toEqual([
			["failed", "superseded by a later flip"],
			["failed", "superseded by a later flip"],
			["delivered", null],
		]);
	});
});

describe("caps per org (finding 3)", () => {
	it("a first ping beyond the monitor cap → 409 monitor_limit_reached; existing monitors keep working", async () => {
		const org = await t.createOrgWithKey("Capped");
		for (const slug of ["a", "b", "c"]) {
			expect((await request(t, "POST", `/api/v1/heartbeat/${slug}`, { key: org.key })).status).toBe(201);
		}
		const refused = await request(t, "POST", "/api/v1/heartbeat/d", { key: org.key });
		expect(refused.status).toBe(409);
		expect(refused.json.error.code).toBe("monitor_limit_reached");
		expect(refused.json.error.message).toMatch(/at most 3 monitors/);
		expect((await request(t, "POST", "/api/v1/heartbeat/a", { key: org.key })).status).toBe(200);
		// Another org has its own allowance.
		const other = await t.createOrgWithKey("Other");
		expect((await request(t, "POST", "/api/v1/heartbeat/d", { key: other.key })).status).toBe(201);
	});

	it("a channel beyond the channel cap → 409 channel_limit_reached", async () => {
		const org = await t.createOrgWithKey("Capped");
		const member = await tokenFor(t, org.orgId, "member");
		const add = (n: number) =>
			request(t, "POST", "/api/v1/notification-channels", {
				token: member,
				json: { name: `c${n}`, url: `${receiver.url}/c${n}` },
			});
		expect((await add(1)).status).toBe(201);
		expect((await add(2)).status).toBe(201);
		const refused = await add(3);
		expect({ status: refused.status, code: refused.json.error.code }).toEqual({
			status: 409,
			code: "channel_limit_reached",
		});
	});

	it("creates racing at the channel cap: exactly as many succeed as there is room for", async () => {
		const org = await t.createOrgWithKey("Raced");
		const member = await tokenFor(t, org.orgId, "member");
		const add = (n: number) =>
			request(t, "POST", "/api/v1/notification-channels", {
				token: member,
				json: { name: `r${n}`, url: `${receiver.url}/r${n}` },
			});
		expect((await add(0)).status).toBe(201);
		// One place left (the cap is 2 here): ten at once. Each counted before any inserted, and all passed.
		const statuses = (await Promise.all(Array.from({ length: 10 }, (_, n) => add(n + 1)))).map(
			(r) => r.status,
		);
		expect(statuses.filter((s) => s === 201)).toHaveLength(1);
		expect(statuses.filter((s) => s === 409)).toHaveLength(9);
		const list = await request(t, "GET", "/api/v1/notification-channels", { token: member });
		expect(list.json.data).toHaveLength(2);
	});

	it("the caps are settings with defaults of 1,000 monitors and 20 channels", () => {
		expect(heartbeatSettingsFrom({})).toMatchObject({ maxMonitorsPerOrg: 1_000, maxChannelsPerOrg: 20 });
		expect(
			heartbeatSettingsFrom({ HEARTBEAT_MAX_MONITORS_PER_ORG: "50", HEARTBEAT_MAX_CHANNELS_PER_ORG: "5" }),
		).toMatchObject({ maxMonitorsPerOrg: 50, maxChannelsPerOrg: 5 });
		expect(() => heartbeatSettingsFrom({ HEARTBEAT_MAX_MONITORS_PER_ORG: "0" })).toThrow(
			/HEARTBEAT_MAX_MONITORS_PER_ORG/,
		);
	});
});
