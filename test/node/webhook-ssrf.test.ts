/**
 * Security review finding 4: a member created a channel to a host name resolving to 127.0.0.1, and
 * `POST …/test` delivered to it and answered with the target's status — a port scanner over
 * internal services. On Node the webhook transport now resolves the name itself, refuses private,
 * loopback, link-local (metadata) and CGNAT addresses, and connects to the address it checked; a
 * test send answers every failure alike.
 */
import type { LookupAddress } from "node:dns";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alertDeliveries } from "../../src/db/schema.js";
import { sendWebhook } from "../../src/heartbeats/alerts.js";
import { isPrivateAddress } from "../../src/heartbeats/webhook-url.js";
import { nodeWebhookTransport, type Resolve } from "../../src/runtime/webhook-node.js";
import { FakeClock } from "../support/clock.js";
import { request, startReceiver, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

let t: TestApp;
let member: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let lookups: string[];

/** A DNS of the test's own: names → addresses, every question recorded. */
const DNS: Record<string, LookupAddress[]> = {
	"internal.example": [{ address: "127.0.0.1", family: 4 }],
	"metadata.example": [{ address: "169.254.169.254", family: 4 }],
	"mixed.example": [
		{ address: "93.184.216.34", family: 4 },
		{ address: "10.0.0.7", family: 4 },
	],
	"mapped.example": [{ address: "::ffff:127.0.0.1", family: 6 }],
	"ula.example": [{ address: "fd00:ec2::254", family: 6 }],
};
const resolve: Resolve = async (hostname) => {
	lookups.push(hostname);
	const answer = DNS[hostname];
	if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
	return answer;
};

beforeEach(async () => {
	lookups = [];
	t = await createTestApp({
		clock: new FakeClock(Date.UTC(2026, 10, 28, 12)),
		heartbeats: { allowPrivateWebhookTargets: false },
	});
	t.deps.webhookTransport = nodeWebhookTransport({ allowPrivate: false, resolve });
	const org = await t.createOrgWithKey("Acme");
	member = await tokenFor(t, org.orgId, "member");
	receiver = await startReceiver();
});
afterEach(async () => {
	await receiver.close();
	t.close();
});

const port = () => new URL(receiver.url).port;

async function testSend(url: string) {
	const created = await request(t, "POST", "/api/v1/notification-channels", {
		token: member,
		json: { name: "probe", url },
	});
	expect(created.status, created.text).toBe(201);
	return request(t, "POST", `/api/v1/notification-channels/${created.json.id}/test`, { token: member });
}

describe("webhook SSRF through host names (finding 4)", () => {
	it("a name resolving to 127.0.0.1 is refused at connect time; the test answers a generic failure", async () => {
		const answer = await testSend(`http://internal.example:${port()}/admin`);
		expect(answer.status).toBe(200);
		expect(answer.json).toMatchObject({ status: "failed", response_status: null, error: "delivery failed" });
		expect(receiver.received).toHaveLength(0);
		expect(lookups).toEqual(["internal.example"]);
		const [delivery] = await t.deps.db
			.select()
			.from(alertDeliveries)
			.where(eq(alertDeliveries.event, "test"));
		expect(delivery).toMatchObject({ status: "failed", responseStatus: null, error: "delivery failed" });
		// An alert (not a test) to the same target records why it was not sent.
		const alert = await sendWebhook(
			{ url: `http://internal.example:${port()}/admin`, secretEncrypted: null, enabled: true },
			{ id: 1, event: "monitor.status_changed", payload: "{}" },
			t.deps,
		);
		expect(alert).toEqual({ ok: false, status: null, error: "the target address is not allowed" });
		expect(receiver.received).toHaveLength(0);
	});

	it("refused, unreachable and a receiver's 400 all answer the same: no reachability oracle", async () => {
		receiver.respond(() => 400);
		t.deps.webhookTransport = nodeWebhookTransport({ allowPrivate: true, resolve });
		const answered400 = await testSend(`http://internal.example:${port()}/x`);
		const unresolvable = await testSend(`http://nowhere.example:${port()}/x`);
		t.deps.webhookTransport = nodeWebhookTransport({ allowPrivate: false, resolve });
		const refused = await testSend(`http://internal.example:${port()}/x`);
		const bodies = [answered400, unresolvable, refused].map(({ json }) => {
			const { delivery_id, attempted_at, ...rest } = json;
			return rest;
		});
		expect(bodies).toEqual([
			{ status: "failed", response_status: null, error: "delivery failed" },
			{ status: "failed", response_status: null, error: "delivery failed" },
			{ status: "failed", response_status: null, error: "delivery failed" },
		]);
		expect(receiver.received).toHaveLength(1); // only while private targets were allowed
	});

	it("metadata, a mix of public and private answers, IPv4-mapped and unique-local IPv6 are refused", async () => {
		for (const name of ["metadata.example", "mixed.example", "mapped.example", "ula.example"]) {
			const answer = await testSend(`http://${name}:${port()}/`);
			expect(answer.json.status, name).toBe("failed");
		}
		expect(lookups).toEqual(["metadata.example", "mixed.example", "mapped.example", "ula.example"]);
		for (const name of ["metadata.example", "mixed.example", "mapped.example", "ula.example"]) {
			const alert = await sendWebhook(
				{ url: `http://${name}:${port()}/`, secretEncrypted: null, enabled: true },
				{ id: 1, event: "monitor.status_changed", payload: "{}" },
				t.deps,
			);
			expect(alert.error, name).toBe("the target address is not allowed");
		}
		expect(receiver.received).toHaveLength(0);
	});

	it("the connection goes to the address that was checked (the name is resolved once, by the check)", async () => {
		// Only the test's DNS knows this name: a delivery that arrives used the checked answer.
		t.deps.webhookTransport = nodeWebhookTransport({ allowPrivate: true, resolve });
		const answer = await testSend(`http://internal.example:${port()}/pinned`);
		expect(answer.json).toMatchObject({ status: "delivered", response_status: 204 });
		expect(receiver.received.map((r) => [r.path, r.headers.host])).toEqual([
			["/pinned", `internal.example:${port()}`],
		]);
		expect(lookups).toEqual(["internal.example"]);
	});

	it("classifies resolved addresses", () => {
		for (const address of [
			"127.0.0.1",
			"10.1.2.3",
			"169.254.169.254",
			"100.100.100.200",
			"::1",
			"fe80::1",
			"fd00::1",
			"::ffff:192.168.0.1",
			"0.0.0.0",
		]) {
			expect(isPrivateAddress(address), address).toBe(true);
		}
		for (const address of ["93.184.216.34", "2606:4700::1111", "8.8.8.8"]) {
			expect(isPrivateAddress(address), address).toBe(false);
		}
	});
});
