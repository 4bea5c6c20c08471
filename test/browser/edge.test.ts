/**
 * The Worker's build in a real browser: `npm run dev:edge` (workerd serving the UI as Workers
 * Static Assets, with dist/web/_headers' Content-Security-Policy) — a first visitor sets up the org
 * and lands signed in, and a reload of a deep link signs back in silently through the refresh
 * cookie. Every CSP refusal and page error fails the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessibilityInBothThemes, launchBrowser, watchPageProblems } from "../support/browser.js";
import { type DevEdge, startDevEdge } from "../support/dev-edge.js";

const dir = mkdtempSync(join(tmpdir(), "hexcovery-edge-ui-"));
let edge: DevEdge;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const cspViolations: string[] = [];

beforeAll(async () => {
	edge = await startDevEdge(dir);
	browser = await launchBrowser();
	page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
	page.setDefaultTimeout(20_000);
	await watchPageProblems(page, { pageErrors, cspViolations });
}, 120_000);

afterAll(async () => {
	await browser?.close();
	if (edge) expect(await edge.stop()).toBe(0);
	edge?.kill();
	rmSync(dir, { recursive: true, force: true });
});

describe("the dashboard served by the Worker (wrangler dev)", () => {
	it("sets up the first org and signs its owner in, from the edge's static assets", async () => {
		const response = await page.goto(`${edge.url}/`);
		expect(response?.headers()["content-security-policy"]).toContain("connect-src 'self'");
		await page.getByRole("heading", { name: "Set up Hexcovery" }).waitFor();
		expect(new URL(page.url()).pathname).toBe("/setup");
		expect(await accessibilityInBothThemes(page, "/setup")).toEqual([]);
		await page.getByLabel("Organization name").fill("Edge Co");
		await page.getByLabel("Your name").fill("Grace Hopper");
		await page.getByLabel("Email").fill("grace@example.com");
		await page.getByLabel("Password").fill("cobol-harbor-lantern-52");
		await page.getByRole("button", { name: "Create organization" }).click();
		await page.getByRole("heading", { name: "Overview" }).waitFor();
		const header = page.getByRole("banner");
		await expect.poll(() => header.textContent()).toContain("Edge Co");
		expect(await header.textContent()).toContain("Grace Hopper");
	});

	it("reloads a deep link and stays signed in through the refresh cookie", async () => {
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Monitors" }).click();
		await page.getByRole("heading", { name: "Monitors" }).waitFor();
		await page.reload();
		await page.getByRole("heading", { name: "Monitors" }).waitFor();
		expect(new URL(page.url()).pathname).toBe("/monitors");
		expect(await page.getByRole("heading", { name: "Sign in" }).count()).toBe(0);
		// The org's name arrives with the org request after the silent refresh, a moment after the page.
		await expect.poll(() => page.getByRole("banner").textContent()).toContain("Edge Co");
	});

	it("raised no uncaught error and no CSP refusal", () => {
		expect(pageErrors).toEqual([]);
		expect(cspViolations).toEqual([]);
	});
});
