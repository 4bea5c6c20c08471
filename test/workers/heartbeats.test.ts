/**
 * Heartbeats inside workerd: pings through the Worker's fetch handler, the sweep through its Cron
 * Trigger handler (`scheduled`), and a webhook delivered from the Worker (waitUntil) to the recording
 * receiver behind miniflare's outboundService (test/support/webhook-sink.ts). The database is the
 * one shared by every workers test file (libSQL through the HTTP stand-in), so each test has its own org.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { encryptSecret, parseEncryptionKey } from "../../src/auth/totp.js";
import { alertDeliveries, monitorFlips, monitors, notificationChannels } from "../../src/db/schema.js";
import { sendWebhook } from "../../src/heartbeats/alerts.js";
import { nextDueAfter, scheduleProblem } from "../../src/heartbeats/schedule.js";
import { newId } from "../../src/ids.js";
import worker from "../../src/runtime/worker.js";
import {
	db,
	expectError,
	expectOk,
	mintToken,
	ORIGIN,
	orgWithKey,
	tokenForNewUser,
	workerFetch,
	workerLikeDeps,
} from "./support.js";

const SINK = "http://hooks.test";

interface PingAnswer {
	monitor: {
		slug: string;
		status: string;
		started: boolean;
		period_s: number | null;
		next_due_at: string | null;
	};
}

/** A request to the Worker's own fetch handler, waiting for its waitUntil work (alert deliveries). */
async function fetchAndWait(path: string, init: RequestInit): Promise<Response> {
	const ctx = createExecutionContext();
	const res = await worker.fetch(new Request(ORIGIN + path, init), env, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

async function sweep(): Promise<void> {
	const ctx = createExecutionContext();
	await worker.scheduled(
		createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }),
		env,
		ctx,
	);
	await waitOnExecutionContext(ctx);
}

/** Makes a monitor overdue by moving its due time into the past, as if the clock had moved on. */
async function makeOverdue(orgId: string, slug: string, byMs: number): Promise<void> {
	const [row] = await db.select().from(monitors).where(eq(monitors.slug, slug));
	expect(row?.orgId).toBe(orgId);
	const due = Date.now() - byMs;
	await db
		.update(monitors)
		.set({ nextDueAt: due, alertAfter: due })
		.where(eq(monitors.id, row?.id as string));
}

async function received(
	path: string,
): Promise<{ path: string; headers: Record<string, string>; body: string }[]> {
	const res = await fetch(`${SINK}/_received?path=${encodeURIComponent(path)}`);
	return res.json();
}

describe("heartbeats through the Worker", () => {
	it("cron schedules in IANA zones are DST-correct in workerd too (its Intl time zone data)", () => {
		const berlin = { periodS: null, schedule: "30 8 * * *", tz: "Europe/Berlin" };
		expect(new Date(nextDueAfter(berlin, Date.parse("2026-03-27T12:00:00Z")) ?? 0).toISOString()).toBe(
			"2026-03-28T07:30:00.000Z",
		);
		expect(new Date(nextDueAfter(berlin, Date.parse("2026-03-28T07:31:00Z")) ?? 0).toISOString()).toBe(
			"2026-03-29T06:30:00.000Z",
		);
		const gap = { periodS: null, schedule: "30 2 * * *", tz: "Europe/Berlin" };
		expect(new Date(nextDueAfter(gap, Date.parse("2026-03-28T12:00:00Z")) ?? 0).toISOString()).toBe(
			"2026-03-29T01:00:00.000Z",
		);
		expect(scheduleProblem("0 0 31 2 *", "UTC")).toBe("schedule never fires");
		expect(scheduleProblem("0 3 * * *", "Asia/Kolkata")).toBeNull();
	});

	it("pings: 201 then 200, the contract's answer, Ping-Body-Limit; 405 for GET; JWT → 403 api_key_required", async () => {
		const { key, orgId } = await orgWithKey("Edge pings");
		const first = await workerFetch("/api/v1/heartbeat/edge-job?period=5m&grace=2m", {
			method: "POST",
			headers: { "X-API-Key": key },
			body: "x".repeat(20_000),
		});
		expect(first.headers.get("Ping-Body-Limit")).toBe("10000");
		const created = await expectOk<PingAnswer>(first, 201);
		expect(created.monitor).toMatchObject({ slug: "edge-job", status: "up", period_s: 300, started: false });
		const start = await expectOk<PingAnswer>(
			await workerFetch("/api/v1/heartbeat/edge-job/start?rid=r1", {
				method: "POST",
				headers: { "X-API-Key": key },
			}),
		);
		expect(start.monitor.started).toBe(true);

		const get = await workerFetch("/api/v1/heartbeat/edge-job", { headers: { "X-API-Key": key } });
		expect(get.headers.get("Allow")).toBe("POST");
		expect(get.headers.get("Ping-Body-Limit")).toBe("10000");
		await expectError(get, 405, "method_not_allowed");

		const token = await mintToken({ orgId, role: "owner" });
		const jwt = await workerFetch("/api/v1/heartbeat/edge-job", {
			method: "POST",
			headers: { Authorization: `Bearer ${token}` },
		});
		await expectError(jwt, 403, "api_key_required");
	});

	it("the Cron Trigger runs the sweep: an overdue monitor goes down once, with its flip, and a ping brings it back", async () => {
		const { key, orgId } = await orgWithKey("Edge sweep");
		await expectOk(
			await workerFetch("/api/v1/heartbeat/nightly?period=1h&grace=5m", {
				method: "POST",
				headers: { "X-API-Key": key },
			}),
			201,
		);
		await sweep();
		const [before] = await db.select().from(monitors).where(eq(monitors.orgId, orgId));
		expect(before?.status).toBe("up");

		await makeOverdue(orgId, "nightly", 10 * 60_000);
		await sweep();
		await sweep();
		const [after] = await db.select().from(monitors).where(eq(monitors.orgId, orgId));
		expect(after?.status).toBe("down");
		expect(after?.alertAfter).toBeNull();
		const flips = await db.select().from(monitorFlips).where(eq(monitorFlips.orgId, orgId));
		expect(flips.map((f) => `${f.oldStatus}→${f.newStatus}:${f.cause}`).sort()).toEqual([
			"new→up:success_ping",
			"up→down:grace_ended",
		]);

		const back = await expectOk<PingAnswer>(
			await workerFetch("/api/v1/heartbeat/nightly", { method: "POST", headers: { "X-API-Key": key } }),
		);
		expect(back.monitor.status).toBe("up");
	});

	it("a flip to down is delivered from the Worker (waitUntil), signed with HMAC-SHA256; the sweep delivers the next one", async () => {
		const { key, orgId } = await orgWithKey("Edge alerts");
		const secret = "edge-webhook-secret-0123456789";
		const path = `/hook/${crypto.randomUUID()}`;
		const now = Date.now();
		await db.insert(notificationChannels).values({
			id: newId("nch"),
			orgId,
			name: "edge sink",
			type: "webhook",
			url: `${SINK}${path}`,
			secretEncrypted: await encryptSecret(secret, parseEncryptionKey(env.TOTP_ENCRYPTION_KEY)),
			enabled: true,
			createdAt: now,
			updatedAt: now,
		});

		const failed = await fetchAndWait("/api/v1/heartbeat/edge-alert/fail?period=1h&grace=5m", {
			method: "POST",
			headers: { "X-API-Key": key },
		});
		expect(failed.status).toBe(201);
		const [first] = await received(path);
		expect(first).toBeDefined();
		const payload = JSON.parse(first?.body ?? "{}");
		expect(payload).toMatchObject({
			event: "monitor.status_changed",
			org: { id: orgId },
			monitor: { slug: "edge-alert", status: "down" },
			old_status: "new",
			new_status: "down",
			cause: "fail_ping",
		});
		expect(payload.org.name).toMatch(/^Edge alerts /);
		const hmacKey = await crypto.subtle.importKey(
			"raw",
			new TextEncoder().encode(secret),
			{ name: "HMAC", hash: "SHA-256" },
			false,
			["verify"],
		);
		const signature = first?.headers["x-hexcovery-signature"] ?? "";
		expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
		const mac = Uint8Array.from(signature.slice(7).match(/../g) ?? [], (h) => Number.parseInt(h, 16));
		expect(await crypto.subtle.verify("HMAC", hmacKey, mac, new TextEncoder().encode(first?.body))).toBe(
			true,
		);
		expect(first?.headers["x-hexcovery-event"]).toBe("monitor.status_changed");

		// down → up: delivered too; this time left to the sweep (a plain fetch, not waited for).
		await db.update(alertDeliveries).set({ status: "delivered" }).where(eq(alertDeliveries.orgId, orgId));
		const ok = await workerFetch("/api/v1/heartbeat/edge-alert", {
			method: "POST",
			headers: { "X-API-Key": key },
		});
		expect(ok.status).toBe(200);
		await sweep();
		const all = await received(path);
		const statuses = all.map((r) => JSON.parse(r.body).new_status);
		expect(statuses).toEqual(["down", "up"]);
		const log = await db.select().from(alertDeliveries).where(eq(alertDeliveries.orgId, orgId));
		expect(log.map((d) => d.status)).toEqual(["delivered", "delivered"]);
	});

	it("webhook targets at the edge: private literals are refused at creation and again before sending; a test send fails generically", async () => {
		const { orgId } = await orgWithKey("Edge SSRF");
		const token = await tokenForNewUser(orgId, "member", "Edge member");
		const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
		for (const url of [
			"http://127.0.0.1:8080/",
			"http://169.254.169.254/latest/meta-data/",
			"http://[::ffff:7f00:1]/",
			"http://[fd00:ec2::254]/",
			"http://app.localhost/",
		]) {
			const created = await workerFetch("/api/v1/notification-channels", {
				method: "POST",
				headers,
				body: JSON.stringify({ name: "probe", url }),
			});
			await expectError(created, 400, "invalid_request");
		}
		// A channel stored before the rule (or written around the API) is refused again when sending.
		const id = newId("nch");
		const now = Date.now();
		await db.insert(notificationChannels).values({
			id,
			orgId,
			name: "old",
			type: "webhook",
			url: "http://169.254.169.254/latest/meta-data/",
			secretEncrypted: null,
			enabled: true,
			createdAt: now,
			updatedAt: now,
		});
		const answer = await expectOk<{ status: string; response_status: number | null; error: string | null }>(
			await workerFetch(`/api/v1/notification-channels/${id}/test`, { method: "POST", headers }),
		);
		expect(answer).toMatchObject({ status: "failed", response_status: null, error: "delivery failed" });
		const [delivery] = await db.select().from(alertDeliveries).where(eq(alertDeliveries.channelId, id));
		expect(delivery).toMatchObject({ status: "failed", responseStatus: null, error: "delivery failed" });
		// What the sender decided, before any fetch: refused by the literal rule.
		const sent = await sendWebhook(
			{ url: "http://169.254.169.254/latest/meta-data/", secretEncrypted: null, enabled: true },
			{ id: 1, event: "monitor.status_changed", payload: "{}" },
			workerLikeDeps(),
		);
		expect(sent).toMatchObject({
			ok: false,
			status: null,
			error: expect.stringMatching(/local or private address/),
		});
	});
});
