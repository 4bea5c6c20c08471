/**
 * Heartbeat alerts: notification channels, webhook delivery to a real HTTP receiver on 127.0.0.1
 * (signature, payload, Slack format), deferred after the ping's answer, retries with back-off and the
 * delivery log — with a fake clock and the real sweep.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alertDeliveries, notificationChannels } from "../../src/db/schema.js";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS, slackBody } from "../../src/heartbeats/alerts.js";
import { webhookUrlProblem } from "../../src/heartbeats/webhook-url.js";
import { runSweep } from "../../src/sweep.js";
import { FakeClock } from "../support/clock.js";
import { DeferredWork, request, startReceiver, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const SECRET = "s3cret-shared-with-the-receiver";

let t: TestApp;
let org: { orgId: string; key: string };
let member: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeEach(async () => {
	t = await createTestApp({ clock: new FakeClock(T0), heartbeats: { allowPrivateWebhookTargets: true } });
	org = await t.createOrgWithKey("Acme Alerts");
	member = await tokenFor(t, org.orgId, "member");
	receiver = await startReceiver();
});
afterEach(async () => {
	await receiver.close();
	t.close();
});

/** The receiver-side check, as docs/heartbeats.md shows it. */
function verify(body: string, header: string | undefined, secret: string): boolean {
	const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
	const given = Buffer.from(header ?? "");
	return given.length === expected.length && timingSafeEqual(given, expected);
}

async function addChannel(body: Record<string, unknown>): Promise<{ id: string }> {
	const res = await request(t, "POST", "/api/v1/notification-channels", { token: member, json: body });
	expect(res.status, res.text).toBe(201);
	return res.json;
}

const ping = (path: string, deferred?: DeferredWork) =>
	request(t, "POST", `/api/v1/heartbeat/${path}`, { key: org.key, ...(deferred && { deferred }) });

async function deliveries() {
	return t.deps.db.select().from(alertDeliveries).orderBy(alertDeliveries.id);
}

describe("webhook delivery", () => {
	it("every flip to or from down is POSTed to each enabled channel, signed, with org, monitor, old/new status and time", async () => {
		const signed = await addChannel({ name: "signed", url: `${receiver.url}/signed`, secret: SECRET });
		await addChannel({ name: "unsigned", url: `${receiver.url}/unsigned` });
		await addChannel({ name: "off", url: `${receiver.url}/off`, enabled: false });
		const work = new DeferredWork();

		expect((await ping("backup?period=1h&grace=5m", work)).status).toBe(201); // new → up: no alert
		await work.settle();
		expect(receiver.received).toHaveLength(0);

		t.clock.advance(60_000);
		const failed = await ping("backup/fail", work);
		expect(failed.json.monitor.status).toBe("down");
		await work.settle();
		expect(receiver.received.map((r) => r.path).sort()).toEqual(["/signed", "/unsigned"]);

		const toSigned = receiver.received.find((r) => r.path === "/signed");
		const body = JSON.parse(toSigned?.body ?? "{}");
		expect(body).toEqual({
			event: "monitor.status_changed",
			event_id: expect.stringMatching(/^flp_[0-9A-Za-z]{20}$/),
			time: "2026-11-28T12:01:00.000Z",
			org: { id: org.orgId, name: "Acme Alerts" },
			monitor: expect.objectContaining({ slug: "backup", status: "down", period_s: 3_600, grace_s: 300 }),
			old_status: "up",
			new_status: "down",
			cause: "fail_ping",
		});
		expect(toSigned?.headers["content-type"]).toBe("application/json");
		expect(toSigned?.headers["x-hexcovery-event"]).toBe("monitor.status_changed");
		expect(toSigned?.headers["x-hexcovery-delivery"]).toMatch(/^\d+$/);
		expect(toSigned?.headers["x-hexcovery-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
		expect(verify(toSigned?.body ?? "", toSigned?.headers["x-hexcovery-signature"] as string, SECRET)).toBe(
			true,
		);
		expect(verify(`${toSigned?.body} `, toSigned?.headers["x-hexcovery-signature"] as string, SECRET)).toBe(
			false,
		);
		expect(verify(toSigned?.body ?? "", toSigned?.headers["x-hexcovery-signature"] as string, "wrong")).toBe(
			false,
		);
		const toUnsigned = receiver.received.find((r) => r.path === "/unsigned");
		expect(toUnsigned?.headers["x-hexcovery-signature"]).toBeUndefined();
		expect(toUnsigned?.body).toBe(toSigned?.body);

		// down → up is announced too; up → late → down by the sweep as well, late alone is not.
		t.clock.advance(60_000);
		await ping("backup", work);
		await work.settle();
		t.clock.advance(3_600_000);
		await runSweep(t.deps); // up → late: no alert
		expect(receiver.received).toHaveLength(4);
		t.clock.advance(300_000);
		await runSweep(t.deps); // late → down
		const flow = receiver.received
			.filter((r) => r.path === "/signed")
			.map((r) => JSON.parse(r.body) as { old_status: string; new_status: string; cause: string })
			.map((p) => `${p.old_status}→${p.new_status}:${p.cause}`);
		expect(flow).toEqual(["up→down:fail_ping", "down→up:success_ping", "late→down:grace_ended"]);
		const log = await deliveries();
		expect(log.map((d) => [d.status, d.attempts])).toEqual(Array.from({ length: 6 }, () => ["delivered", 1]));
		expect(log.filter((d) => d.channelId === signed.id)).toHaveLength(3);
		expect(new Set(log.map((d) => d.flipId)).size).toBe(3);
	});

	it("does not hold the ping's answer: the answer arrives while the receiver has not answered yet", async () => {
		await addChannel({ name: "slow", url: `${receiver.url}/slow`, secret: SECRET });
		receiver.hold();
		const work = new DeferredWork();
		const answer = await ping("slow-job/fail", work);
		expect(answer.status).toBe(201);
		expect(answer.json.monitor.status).toBe("down");
		// Deferred: the delivery (and the key's last-used touch) run after the answer.
		expect(work.pending.length).toBeGreaterThanOrEqual(1);
		await receiver.waitFor(1);
		expect((await deliveries())[0]).toMatchObject({ status: "pending", attempts: 1 });
		receiver.release();
		await work.settle();
		expect((await deliveries())[0]).toMatchObject({ status: "delivered", attempts: 1, responseStatus: 204 });
	});

	it("retries a failing receiver with back-off (1 min, 5 min…) through the sweep, the same signed body each time", async () => {
		await addChannel({ name: "flaky", url: `${receiver.url}/flaky`, secret: SECRET });
		receiver.respond((_r, i) => (i < 2 ? 500 : 200));
		const work = new DeferredWork();
		await ping("flaky-job/3", work);
		await work.settle();
		expect(receiver.received).toHaveLength(1);
		expect((await deliveries())[0]).toMatchObject({
			status: "pending",
			attempts: 1,
			responseStatus: 500,
			error: "receiver answered 500",
			nextAttemptAt: T0 + RETRY_DELAYS_MS[0],
		});

		t.clock.advance(RETRY_DELAYS_MS[0] - 1);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(1);
		t.clock.advance(1);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(2);
		expect((await deliveries())[0]).toMatchObject({
			status: "pending",
			attempts: 2,
			nextAttemptAt: t.clock.now() + RETRY_DELAYS_MS[1],
		});
		t.clock.advance(RETRY_DELAYS_MS[1]);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(3);
		expect((await deliveries())[0]).toMatchObject({
			status: "delivered",
			attempts: 3,
			responseStatus: 200,
			error: null,
			deliveredAt: t.clock.now(),
			nextAttemptAt: null,
		});
		const bodies = new Set(receiver.received.map((r) => r.body));
		const signatures = new Set(receiver.received.map((r) => r.headers["x-hexcovery-signature"]));
		expect(bodies.size).toBe(1);
		expect(signatures.size).toBe(1);
		expect(JSON.parse([...bodies][0] as string)).toMatchObject({ new_status: "down", cause: "exit_code" });
		t.clock.advance(86_400_000);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(3);
	});

	it(`gives up after ${MAX_ATTEMPTS} attempts and records the failure; an unreachable receiver is retried the same way`, async () => {
		await addChannel({ name: "broken", url: `${receiver.url}/broken` });
		receiver.respond(() => 503);
		const work = new DeferredWork();
		await ping("doomed/fail", work);
		await work.settle();
		for (const delay of RETRY_DELAYS_MS) {
			t.clock.advance(delay);
			await runSweep(t.deps);
		}
		expect(receiver.received).toHaveLength(MAX_ATTEMPTS);
		expect((await deliveries())[0]).toMatchObject({
			status: "failed",
			attempts: MAX_ATTEMPTS,
			responseStatus: 503,
			nextAttemptAt: null,
		});
		t.clock.advance(7 * 86_400_000);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(MAX_ATTEMPTS);

		// Nothing listening: "could not connect", then retried.
		const closed = await startReceiver();
		const deadUrl = closed.url;
		await closed.close();
		member = await tokenFor(t, org.orgId, "member"); // the clock moved past the first token's expiry
		await addChannel({ name: "gone", url: `${deadUrl}/gone` });
		await ping("doomed", work);
		await work.settle();
		const gone = (await deliveries()).at(-1);
		expect(gone).toMatchObject({
			status: "pending",
			attempts: 1,
			error: "could not connect",
			responseStatus: null,
		});
	});

	it("a redirect is not followed: it counts as a failed attempt", async () => {
		await addChannel({ name: "moved", url: `${receiver.url}/moved` });
		receiver.respond(() => 302);
		const work = new DeferredWork();
		await ping("moved-job/fail", work);
		await work.settle();
		expect(receiver.received).toHaveLength(1);
		expect((await deliveries())[0]).toMatchObject({ status: "pending", responseStatus: 302 });
	});

	it("Slack incoming-webhook URLs get Slack's {text} format (and the signature of that body)", async () => {
		const slackUrl = "https://hooks.slack.com/services/T000/B000/XXXXXXXX";
		await addChannel({ name: "slack", url: slackUrl, secret: SECRET });
		const sent: { url: string; body: string; headers: Headers }[] = [];
		const realFetch = globalThis.fetch;
		const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			const url = String(input instanceof Request ? input.url : input);
			if (!url.startsWith("https://hooks.slack.com/")) return realFetch(input, init);
			sent.push({ url, body: String(init?.body), headers: new Headers(init?.headers) });
			return new Response("ok", { status: 200 });
		});
		try {
			const work = new DeferredWork();
			await ping("nightly-backup?period=1h", work);
			t.clock.advance(60_000);
			await ping("nightly-backup/fail", work);
			await work.settle();
		} finally {
			spy.mockRestore();
		}
		expect(sent).toHaveLength(1);
		expect(sent[0]?.url).toBe(slackUrl);
		const slack = JSON.parse(sent[0]?.body ?? "{}");
		expect(Object.keys(slack)).toEqual(["text"]);
		expect(slack.text).toContain("*nightly-backup* is DOWN (was up)");
		expect(slack.text).toContain("a failure ping arrived");
		expect(verify(sent[0]?.body ?? "", sent[0]?.headers.get("X-Hexcovery-Signature") ?? "", SECRET)).toBe(
			true,
		);
		expect(slackBody(JSON.stringify({ event: "test", time: "2026-11-28T12:00:00.000Z" }))).toBe(
			JSON.stringify({ text: "Hexcovery test notification (2026-11-28T12:00:00.000Z)." }),
		);
	});

	it("escapes &, < and > in what goes to Slack: a monitor name cannot mention @channel or hide a link (finding 9)", () => {
		const payload = {
			event: "monitor.down",
			time: "2026-11-28T12:00:00.000Z",
			monitor: { slug: "job", name: "<!channel> <https://phish.test|Click> & <@U123>" },
			old_status: "up",
			new_status: "down",
			cause: "<!here>",
		};
		const { text } = JSON.parse(slackBody(JSON.stringify(payload))) as { text: string };
		expect(text).toBe(
			":red_circle: Monitor *&lt;!channel&gt; &lt;https://phish.test|Click&gt; &amp; &lt;@U123&gt;* is DOWN (was up): &lt;!here&gt;. 2026-11-28T12:00:00.000Z",
		);
		expect(text).not.toMatch(/<[!@h]/);
	});
});

describe("notification channels", () => {
	it("create, list, patch, delete; the secret is never shown; viewers see only the URL's origin", async () => {
		const created = await request(t, "POST", "/api/v1/notification-channels", {
			token: member,
			json: { name: "ops", url: `${receiver.url}/ops/secret-path-token`, secret: SECRET },
		});
		expect(created.status, created.text).toBe(201);
		expect(created.json).toEqual({
			id: expect.stringMatching(/^nch_[0-9A-Za-z]{20}$/),
			name: "ops",
			type: "webhook",
			url: `${receiver.url}/ops/secret-path-token`,
			format: "json",
			has_secret: true,
			enabled: true,
			created_at: "2026-11-28T12:00:00.000Z",
			updated_at: "2026-11-28T12:00:00.000Z",
		});
		expect(created.text).not.toContain(SECRET);
		const [stored] = await t.deps.db.select().from(notificationChannels);
		expect(stored?.secretEncrypted).toMatch(/^v1\./);
		expect(stored?.secretEncrypted).not.toContain(SECRET);

		const viewer = await tokenFor(t, org.orgId, "viewer");
		const asViewer = await request(t, "GET", "/api/v1/notification-channels", { token: viewer });
		expect(asViewer.json.data).toEqual([
			expect.objectContaining({ id: created.json.id, url: `${receiver.url}/…` }),
		]);
		expect(asViewer.text).not.toContain("secret-path-token");
		const asMember = await request(t, "GET", "/api/v1/notification-channels", { token: member });
		expect(asMember.json.data[0].url).toBe(`${receiver.url}/ops/secret-path-token`);

		t.clock.advance(1_000);
		const patched = await request(t, "PATCH", `/api/v1/notification-channels/${created.json.id}`, {
			token: member,
			json: { secret: null, enabled: false, name: "ops (paused)" },
		});
		expect(patched.status).toBe(200);
		expect(patched.json).toMatchObject({
			has_secret: false,
			enabled: false,
			name: "ops (paused)",
			updated_at: "2026-11-28T12:00:01.000Z",
		});
		const slack = await request(t, "PATCH", `/api/v1/notification-channels/${created.json.id}`, {
			token: member,
			json: { url: "https://hooks.slack.com/services/T/B/C" },
		});
		expect(slack.json.format).toBe("slack");

		const removed = await request(t, "DELETE", `/api/v1/notification-channels/${created.json.id}`, {
			token: member,
		});
		expect(removed.status).toBe(204);
		expect(
			(await request(t, "DELETE", `/api/v1/notification-channels/${created.json.id}`, { token: member }))
				.status,
		).toBe(404);
		expect((await request(t, "GET", "/api/v1/notification-channels", { token: member })).json.data).toEqual(
			[],
		);
	});

	it("validates: http(s) only, no credentials in the URL, strict bodies, a secret of 16+ characters", async () => {
		const cases: [Record<string, unknown>, string][] = [
			[{ name: "x", url: "ftp://example.com/x" }, "url"],
			[{ name: "x", url: "not a url" }, "url"],
			[{ name: "x", url: "https://user:pw@example.com/" }, "url"],
			[{ name: "x", url: `https://example.com/${"a".repeat(2050)}` }, "url"],
			[{ name: "x", url: "https://example.com/", secret: "short" }, "secret"],
			[{ name: "", url: "https://example.com/" }, "name"],
			[{ name: "x", url: "https://example.com/", type: "email" }, "type"],
			[{ name: "x", url: "https://example.com/", org_id: org.orgId }, ""],
		];
		for (const [body, path] of cases) {
			const res = await request(t, "POST", "/api/v1/notification-channels", { token: member, json: body });
			expect(res.status, `${JSON.stringify(body)} ${res.text}`).toBe(400);
			expect(res.json.error.code).toBe("invalid_request");
			expect((res.json.error.details as { path: string }[]).map((d) => d.path)).toContain(path);
		}
		expect(await t.deps.db.select().from(notificationChannels)).toHaveLength(0);
	});

	it("refuses local and private targets unless WEBHOOK_ALLOW_PRIVATE_TARGETS is set", async () => {
		const strict = await createTestApp({ clock: new FakeClock(T0) });
		try {
			const other = await strict.createOrgWithKey("Strict");
			const token = await tokenFor(strict, other.orgId, "admin");
			for (const url of [
				"http://127.0.0.1:8080/hook",
				"http://localhost/hook",
				"http://[::1]/hook",
				"http://10.0.0.5/hook",
				"http://192.168.1.20/hook",
				"http://169.254.169.254/latest/meta-data",
				"http://[::ffff:7f00:1]/",
			]) {
				const res = await request(strict, "POST", "/api/v1/notification-channels", {
					token,
					json: { name: "x", url },
				});
				expect(res.status, url).toBe(400);
				expect(res.json.error.details[0].message).toMatch(/local or private/);
			}
			const ok = await request(strict, "POST", "/api/v1/notification-channels", {
				token,
				json: { name: "x", url: "https://hooks.example.com/hexcovery" },
			});
			expect(ok.status).toBe(201);
		} finally {
			strict.close();
		}
		expect(webhookUrlProblem("http://127.0.0.1/", true)).toBeNull();
		expect(webhookUrlProblem("http://127.0.0.1/", false)).toMatch(/local or private/);
		expect(webhookUrlProblem("https://8.8.8.8/", false)).toBeNull();
		expect(webhookUrlProblem("http://[fd12::1]/", false)).toMatch(/local or private/);
		expect(webhookUrlProblem("http://100.64.0.1/", false)).toMatch(/local or private/);
		expect(webhookUrlProblem("http://app.localhost/", false)).toMatch(/local or private/);
	});

	it("POST /:id/test is limited: one at a time per channel, 10 a minute per org (429 rate_limited with Retry-After)", async () => {
		const a = await addChannel({ name: "a", url: `${receiver.url}/a` });
		const b = await addChannel({ name: "b", url: `${receiver.url}/b` });
		const test = (id: string) =>
			request(t, "POST", `/api/v1/notification-channels/${id}/test`, { token: member });
		receiver.hold();
		const first = test(a.id);
		await receiver.waitFor(1);
		const again = await test(a.id);
		expect({ status: again.status, code: (again.json as { error: { code: string } }).error.code }).toEqual({
			status: 429,
			code: "rate_limited",
		});
		expect(Number(again.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		receiver.release();
		expect((await first).status).toBe(200);
		// One of the minute's ten is used: nine more, then refused until the minute has passed.
		for (let i = 0; i < 9; i++) expect((await test(b.id)).status).toBe(200);
		const over = await test(b.id);
		expect(over.status).toBe(429);
		expect(Number(over.headers.get("Retry-After"))).toBe(60);
		t.clock.advance(60_001);
		expect((await test(b.id)).status).toBe(200);
		expect(receiver.received).toHaveLength(11);
	});

	it("POST /:id/test sends a signed test event once and answers with the outcome; failures are not retried", async () => {
		const channel = await addChannel({ name: "t", url: `${receiver.url}/t`, secret: SECRET });
		const ok = await request(t, "POST", `/api/v1/notification-channels/${channel.id}/test`, {
			token: member,
		});
		expect(ok.status, ok.text).toBe(200);
		expect(ok.json).toEqual({
			delivery_id: expect.any(Number),
			status: "delivered",
			response_status: 204,
			error: null,
			attempted_at: "2026-11-28T12:00:00.000Z",
		});
		const [sent] = receiver.received;
		expect(JSON.parse(sent?.body ?? "{}")).toMatchObject({
			event: "test",
			org: { id: org.orgId, name: "Acme Alerts" },
			channel: { id: channel.id, name: "t" },
		});
		expect(sent?.headers["x-hexcovery-event"]).toBe("test");
		expect(verify(sent?.body ?? "", sent?.headers["x-hexcovery-signature"] as string, SECRET)).toBe(true);

		receiver.respond(() => 500);
		const bad = await request(t, "POST", `/api/v1/notification-channels/${channel.id}/test`, {
			token: member,
		});
		// One outcome for every failure, answered and logged alike (docs/security.md).
		expect(bad.json).toMatchObject({ status: "failed", response_status: null, error: "delivery failed" });
		expect((await deliveries()).at(-1)).toMatchObject({ responseStatus: null, error: "delivery failed" });
		t.clock.advance(86_400_000);
		await runSweep(t.deps);
		expect(receiver.received).toHaveLength(2);
		expect((await deliveries()).map((d) => [d.event, d.status])).toEqual([
			["test", "delivered"],
			["test", "failed"],
		]);
		const other = await t.createOrgWithKey("Other");
		const stranger = await tokenFor(t, other.orgId, "owner");
		const res = await request(t, "POST", `/api/v1/notification-channels/${channel.id}/test`, {
			token: stranger,
		});
		expect(res.status).toBe(404);
		expect(receiver.received).toHaveLength(2);
	});

	it("channels are per org: another org's channel is neither listed, changed, deleted nor alerted", async () => {
		const mine = await addChannel({ name: "mine", url: `${receiver.url}/mine` });
		const other = await t.createOrgWithKey("Other");
		const theirs = await tokenFor(t, other.orgId, "owner");
		expect((await request(t, "GET", "/api/v1/notification-channels", { token: theirs })).json.data).toEqual(
			[],
		);
		for (const [method, json] of [
			["PATCH", { name: "stolen" }],
			["DELETE", undefined],
		] as const) {
			const res = await request(t, method, `/api/v1/notification-channels/${mine.id}`, {
				token: theirs,
				...(json && { json }),
			});
			expect(res.status).toBe(404);
		}
		const work = new DeferredWork();
		await request(t, "POST", "/api/v1/heartbeat/their-job/fail", { key: other.key, deferred: work });
		await work.settle();
		expect(receiver.received).toHaveLength(0);
		const [row] = await t.deps.db
			.select()
			.from(notificationChannels)
			.where(eq(notificationChannels.id, mine.id));
		expect(row?.name).toBe("mine");
	});
});

describe("the channel's delivery log (GET /api/v1/notification-channels/:id/deliveries)", () => {
	it("lists deliveries newest first with their outcome, pages, and hides other orgs' channels", async () => {
		const org = await t.createOrgWithKey("Deliveries");
		const member = await tokenFor(t, org.orgId, "member");
		const viewer = await tokenFor(t, org.orgId, "viewer");
		const created = await request(t, "POST", "/api/v1/notification-channels", {
			token: member,
			json: { name: "log", url: `${receiver.url}/log` },
		});
		expect(created.status).toBe(201);
		const id = created.json.id as string;
		receiver.respond((_r, i) => (i % 2 === 0 ? 204 : 500));
		const before = receiver.received.length;
		const outcomes: string[] = [];
		for (let i = 0; i < 3; i++) {
			const tested = await request(t, "POST", `/api/v1/notification-channels/${id}/test`, { token: member });
			outcomes.push(tested.json.status);
		}
		expect(receiver.received.length - before).toBe(3);
		const page1 = await request(t, "GET", `/api/v1/notification-channels/${id}/deliveries?limit=2`, {
			token: viewer,
		});
		expect(page1.status).toBe(200);
		expect(page1.json.data).toHaveLength(2);
		expect(page1.json.data.map((d: { status: string }) => d.status)).toEqual([outcomes[2], outcomes[1]]);
		expect(page1.json.data[0]).toMatchObject({
			event: "test",
			attempts: 1,
			monitor_id: null,
			next_attempt_at: null,
		});
		expect(page1.json.data[0]).not.toHaveProperty("payload");
		expect(page1.json.next_cursor).toEqual(expect.any(String));
		const page2 = await request(
			t,
			"GET",
			`/api/v1/notification-channels/${id}/deliveries?limit=2&cursor=${page1.json.next_cursor}`,
			{ token: viewer },
		);
		expect(page2.json.data.map((d: { status: string }) => d.status)).toEqual([outcomes[0]]);
		expect(page2.json.next_cursor).toBeNull();
		expect(page1.json.data[0].id).toBeGreaterThan(page2.json.data[0].id);

		const other = await t.createOrgWithKey("Elsewhere");
		const stranger = await tokenFor(t, other.orgId, "owner");
		const hidden = await request(t, "GET", `/api/v1/notification-channels/${id}/deliveries`, {
			token: stranger,
		});
		expect(hidden.status).toBe(404);
		expect(hidden.json.error.code).toBe("not_found");
		const bad = await request(t, "GET", `/api/v1/notification-channels/${id}/deliveries?cursor=%%%`, {
			token: viewer,
		});
		expect(bad.status).toBe(400);
		receiver.respond(() => 204);
	});
});
