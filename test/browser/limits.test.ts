/**
 * The dashboard under the API's heavy-read limit: with one heavy read per org in flight
 * (HEAVY_READS_PER_ORG=2), the overview's parallel reads meet 429 `rate_limited`; the client waits
 * out `Retry-After` and the page still shows every part, with no error.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { startWebServer, type WebServer } from "../support/web-server.js";

const OWNER = { email: "limits@example.com", password: "juniper-atlas-harbor-19" };
let server: WebServer;
let browser: Browser;

beforeAll(async () => {
	server = await startWebServer({ HEAVY_READS_PER_ORG: "2" });
	const setup = await fetch(`${server.url}/api/v1/setup`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ org_name: "Limited", name: "Lim", ...OWNER }),
	});
	expect(setup.status).toBe(201);
	browser = await launchBrowser();
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

describe("heavy-read limits in the browser", () => {
	it("waits out 429 rate_limited and shows the whole overview without an error", async () => {
		const page = await (await browser.newContext()).newPage();
		const limited: string[] = [];
		page.on("response", (response) => {
			if (response.status() === 429) limited.push(new URL(response.url()).pathname);
		});
		await page.goto(`${server.url}/sign-in`);
		await page.getByLabel("Email").fill(OWNER.email);
		await page.getByLabel("Password").fill(OWNER.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("heading", { name: "Overview" }).waitFor();
		await page.getByText("No error logs in this range.").waitFor();
		await expect
			.poll(() => page.getByText("No server spans in this range.").count(), { timeout: 30_000 })
			.toBe(4);
		expect(limited.length).toBeGreaterThan(0);
		expect(await page.getByRole("alert").count()).toBe(0);
	});
});
