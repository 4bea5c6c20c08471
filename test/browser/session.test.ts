/**
 * Silent refresh in a real browser, with access tokens that live 10 seconds (ACCESS_TOKEN_TTL_S):
 * the dashboard renews them before they expire, recovers from an expired one with a single refresh
 * however many requests wait on it, keeps two tabs signed in when they refresh at once, and sends
 * the person to sign-in (and back) when the session has really ended.
 */
import type { Browser, BrowserContext, Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { screenshot, startWebServer, type WebServer } from "../support/web-server.js";

const TTL_S = 10;
const OWNER = { email: "ops@example.com", password: "granite-lantern-meadow-58" };

let server: WebServer;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
	server = await startWebServer({ ACCESS_TOKEN_TTL_S: String(TTL_S) });
	const setup = await fetch(`${server.url}/api/v1/setup`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ org_name: "Globex", name: "Olive Ops", ...OWNER }),
	});
	expect(setup.status).toBe(201);
	// A monitor with pings, so its detail page makes several requests at once.
	const login = await fetch(`${server.url}/api/v1/auth/login`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify(OWNER),
	});
	const { access_token } = (await login.json()) as { access_token: string };
	const created = await fetch(`${server.url}/api/v1/api-keys`, {
		method: "POST",
		headers: { Authorization: `Bearer ${access_token}`, "Content-Type": "application/json" },
		body: JSON.stringify({ name: "pinger" }),
	});
	const { key } = (await created.json()) as { key: string };
	const ping = await fetch(`${server.url}/api/v1/heartbeat/etl-hourly?period=1h`, {
		method: "POST",
		headers: { "X-API-Key": key },
	});
	expect(ping.status).toBe(201);
	browser = await launchBrowser();
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

/** Counts the answers of one API path, by status. */
function watch(page: Page, path: string): Map<number, number> {
	const counts = new Map<number, number>();
	page.on("response", (response: Response) => {
		if (new URL(response.url()).pathname === path) {
			counts.set(response.status(), (counts.get(response.status()) ?? 0) + 1);
		}
	});
	return counts;
}

async function openSignedIn(context: BrowserContext, path = "/monitors"): Promise<Page> {
	const page = await context.newPage();
	page.on("pageerror", (error) => pageErrors.push(error.message));
	await page.goto(`${server.url}${path}`);
	await page.getByRole("heading", { name: "Sign in" }).waitFor();
	await page.getByLabel("Email").fill(OWNER.email);
	await page.getByLabel("Password").fill(OWNER.password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { name: "Monitors" }).waitFor();
	return page;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("silent refresh in a real browser", () => {
	it("renews the access token before it expires and keeps working past its lifetime", async () => {
		const context = await browser.newContext();
		const page = await openSignedIn(context);
		const refreshes = watch(page, "/api/v1/auth/refresh");
		const keys = watch(page, "/api/v1/api-keys");
		// Past the first token's lifetime: the scheduled refresh (at 80 % of it) must have run.
		await expect.poll(() => refreshes.get(200) ?? 0, { timeout: TTL_S * 1000 }).toBeGreaterThanOrEqual(1);
		await sleep(2500);
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
		await page.getByRole("table", { name: "API keys" }).getByText("pinger").waitFor();
		expect(keys.get(401) ?? 0).toBe(0);
		expect(new URL(page.url()).pathname).toBe("/settings");
		await context.close();
	});

	it("after an expired token, refreshes once for several waiting requests and retries them", async () => {
		const context = await browser.newContext();
		const page = await context.newPage();
		page.on("pageerror", (error) => pageErrors.push(error.message));
		// Like a laptop that slept or a throttled background tab: the page's long timers run late, so
		// the scheduled refresh does not happen while the token expires on the server.
		await page.addInitScript(() => {
			const setTimeoutAsUsual = window.setTimeout;
			window.setTimeout = ((handler: TimerHandler, delay?: number, ...rest: unknown[]) =>
				setTimeoutAsUsual(
					handler,
					(delay ?? 0) > 5000 ? 3_600_000 : delay,
					...rest,
				)) as typeof window.setTimeout;
		});
		await page.goto(`${server.url}/monitors`);
		await page.getByLabel("Email").fill(OWNER.email);
		await page.getByLabel("Password").fill(OWNER.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("link", { name: "etl-hourly" }).waitFor();
		const refreshes = watch(page, "/api/v1/auth/refresh");
		const expired: string[] = [];
		page.on("response", async (response) => {
			if (response.status() === 401 && new URL(response.url()).pathname.startsWith("/api/v1/monitors")) {
				expired.push(((await response.json()) as { error: { code: string } }).error.code);
			}
		});
		await sleep((TTL_S + 1) * 1000);
		// One of them is slow: its 401 arrives after the others' refresh has finished. It must retry
		// with the renewed token, not refresh a second time.
		let slowed = false;
		await page.route("**/api/v1/monitors/etl-hourly/flips", async (route) => {
			if (!slowed) {
				slowed = true;
				await sleep(1500);
			}
			await route.continue();
		});
		// The detail page asks for the monitor and its status changes at once.
		const flipsAnswered = page.waitForResponse(
			(response) => new URL(response.url()).pathname.endsWith("/flips") && response.status() === 200,
		);
		await page.getByRole("link", { name: "etl-hourly" }).click();
		await page.getByRole("table", { name: "Pings" }).getByText("success").waitFor();
		await flipsAnswered;
		expect(slowed).toBe(true);
		expect(expired.length).toBeGreaterThanOrEqual(2);
		expect(new Set(expired)).toEqual(new Set(["token_expired"]));
		expect(refreshes.get(200)).toBe(1);
		expect(new URL(page.url()).pathname).toBe("/monitors/etl-hourly");
		await context.close();
	});

	it("keeps two tabs signed in when both refresh at the same moment", async () => {
		const context = await browser.newContext();
		const first = await openSignedIn(context);
		const second = await context.newPage();
		second.on("pageerror", (error) => pageErrors.push(error.message));
		await second.goto(`${server.url}/settings/users`);
		await second.getByRole("table", { name: "Users" }).waitFor();
		const firstRefreshes = watch(first, "/api/v1/auth/refresh");
		const secondRefreshes = watch(second, "/api/v1/auth/refresh");
		// Both tabs reload together: each refreshes on load with the same cookie.
		await Promise.all([first.reload(), second.reload()]);
		await first.getByRole("heading", { name: "Monitors" }).waitFor();
		await second.getByRole("table", { name: "Users" }).waitFor();
		expect([firstRefreshes.get(200), secondRefreshes.get(200)]).toEqual([1, 1]);
		// The session family is intact: a later refresh still works in both.
		await Promise.all([first.reload(), second.reload()]);
		await first.getByRole("heading", { name: "Monitors" }).waitFor();
		await second.getByRole("table", { name: "Users" }).waitFor();
		expect(new URL(first.url()).pathname).toBe("/monitors");
		await screenshot(second, "two-tabs-settings");
		await context.close();
	});

	it("sends a tab whose session ended to sign-in, and back to where it was afterwards", async () => {
		const context = await browser.newContext();
		const staying = await openSignedIn(context);
		await staying.getByRole("link", { name: "etl-hourly" }).click();
		await staying.getByRole("table", { name: "Pings" }).waitFor();
		const leaving = await context.newPage();
		await leaving.goto(`${server.url}/monitors`);
		await leaving.getByRole("button", { name: "Sign out" }).click();
		await leaving.getByRole("heading", { name: "Sign in" }).waitFor();
		// The other tab's token runs out; its refresh fails (the family is revoked, the cookie gone).
		await staying.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: (TTL_S + 5) * 1000 });
		expect(new URL(staying.url()).searchParams.get("next")).toBe("/monitors/etl-hourly");
		await staying.getByText("Your session has ended").waitFor();
		await screenshot(staying, "sign-in-session-ended");
		await staying.getByLabel("Email").fill(OWNER.email);
		await staying.getByLabel("Password").fill(OWNER.password);
		await staying.getByRole("button", { name: "Sign in" }).click();
		await staying.getByRole("table", { name: "Pings" }).waitFor();
		expect(new URL(staying.url()).pathname).toBe("/monitors/etl-hourly");
		await context.close();
	});

	it("raised no uncaught error in any page", () => {
		expect(pageErrors).toEqual([]);
	});
});
