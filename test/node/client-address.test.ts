/**
 * The client address behind a reverse proxy (login back-off per address): the last address of
 * CLIENT_ADDRESS_HEADER, the one the proxy appended, never one the client wrote before it.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { nodeClientAddress } from "../../src/runtime/node-deps.js";

async function addressOf(settings: Record<string, string>, headers: Record<string, string>) {
	const app = new Hono();
	const address = nodeClientAddress(settings);
	app.get("/", (c) => c.json({ address: address(c) }));
	const response = await app.request("/", { headers });
	return ((await response.json()) as { address: string | null }).address;
}

describe("nodeClientAddress", () => {
	const proxied = { CLIENT_ADDRESS_HEADER: "X-Forwarded-For" };

	it("takes the last address of the header: what the trusted proxy appended", async () => {
		expect(await addressOf(proxied, { "X-Forwarded-For": "203.0.113.7" })).toBe("203.0.113.7");
		// A client that sends its own X-Forwarded-For, through a proxy that appends (nginx, ALB).
		expect(await addressOf(proxied, { "X-Forwarded-For": "10.9.1.1, 203.0.113.7" })).toBe("203.0.113.7");
		expect(await addressOf(proxied, { "X-Forwarded-For": "10.9.2.1,10.9.3.1,  203.0.113.7  " })).toBe(
			"203.0.113.7",
		);
	});

	it("an empty header or none falls back to the socket's peer (none in-process); without the setting the header is ignored", async () => {
		expect(await addressOf(proxied, { "X-Forwarded-For": " " })).toBeNull();
		expect(await addressOf(proxied, {})).toBeNull();
		expect(await addressOf({}, { "X-Forwarded-For": "203.0.113.7" })).toBeNull();
	});
});
