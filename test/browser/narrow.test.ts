/**
 * The dashboard on a phone (390 × 844) and a tablet (768 × 1024): no page is wider than the screen
 * (the header forced 598–1020 px, so every page was panned sideways to reach Sign out), wide
 * tables scroll in their own box, a dashboard's panels stack, a log's message gets the row's width,
 * and an opened span's panel goes under the waterfall. On a desktop, a long span name is cut at its
 * end, not at both ends.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openSignedIn } from "../support/browser.js";
import { screenshot, setUpOwner, startWebServer, type WebServer } from "../support/web-server.js";

const OWNER = {
	org_name: "Acme Widgets International",
	name: "Ada Lovelace-Byron",
	email: "ada@example.com",
	password: "plum-tractor-ocean-41",
};
const LONG_HOST = "web-1.prod.eu-west-1.internal.acme-widgets.example";
const ROUTE = "POST /api/v2/checkout/orders/{order_id}/confirm-and-charge-the-card";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

let server: WebServer;
let browser: Browser;
let dashboardId = "";
const problems = { pageErrors: [] as string[], cspViolations: [] as string[] };

const ns = (ms: number) => String(BigInt(Math.round(ms)) * 1_000_000n);
const text = (key: string, value: string) => ({ key, value: { stringValue: value } });

beforeAll(async () => {
	server = await startWebServer();
	const token = await setUpOwner(server, OWNER);
	const call = async (path: string, body: unknown, headers: Record<string, string>) => {
		const response = await fetch(`${server.url}${path}`, {
			method: "POST",
			headers: { "Content-Type": "application/json", ...headers },
			body: JSON.stringify(body),
		});
		if (response.status >= 300)
			throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
		return response.json() as Promise<Record<string, unknown>>;
	};
	const auth = { Authorization: `Bearer ${token}` };
	const key = String((await call("/api/v1/api-keys", { name: "otel collector (production)" }, auth)).key);
	const now = Date.now();
	const resource = { attributes: [text("service.name", "checkout"), text("host.name", LONG_HOST)] };
	await call(
		"/v1/traces",
		{
			resourceSpans: [
				{
					resource,
					scopeSpans: [
						{
							spans: [
								{
									traceId: TRACE_ID,
									spanId: "00f067aa0ba902b7",
									name: ROUTE,
									kind: 2,
									startTimeUnixNano: ns(now - 60_000),
									endTimeUnixNano: ns(now - 59_600),
									status: { code: 2, message: "upstream timeout talking to the card network" },
								},
								{
									traceId: TRACE_ID,
									spanId: "00f067aa0ba902b8",
									parentSpanId: "00f067aa0ba902b7",
									name: "SELECT orders WHERE id = ? AND customer_id = ? FOR UPDATE",
									kind: 3,
									startTimeUnixNano: ns(now - 59_990),
									endTimeUnixNano: ns(now - 59_800),
								},
							],
						},
					],
				},
			],
		},
		{ "X-API-Key": key },
	);
	await call(
		"/v1/logs",
		{
			resourceLogs: [
				{
					resource,
					scopeLogs: [
						{
							logRecords: Array.from({ length: 12 }, (_, i) => ({
								timeUnixNano: ns(now - (i + 1) * 30_000),
								severityNumber: i % 4 === 0 ? 17 : 9,
								body: { stringValue: `checkout handled request ${i} for order 8f3a-${i} in ${20 + i} ms` },
							})),
						},
					],
				},
			],
		},
		{ "X-API-Key": key },
	);
	for (const path of ["billing-export?period=1h", "billing-export/fail"]) {
		const ping = await fetch(`${server.url}/api/v1/heartbeat/${path}`, {
			method: "POST",
			headers: { "X-API-Key": key },
			body: "disk full on /var/lib/billing-export-with-a-rather-long-name/exports/2026-12-04.csv",
		});
		expect(ping.status).toBeLessThan(300);
	}
	const dashboard = await call(
		"/api/v1/dashboards",
		{
			title: "Service health",
			panels: [
				{
					id: "spans",
					title: "Spans by name",
					kind: "bar",
					query: "SELECT count(*) FROM spans GROUP BY name",
					layout: { x: 18, y: 0, w: 6, h: 6 },
				},
				{
					id: "rate",
					title: "Logs per level",
					kind: "timeseries",
					query: "SELECT count(*) FROM logs GROUP BY level TIMESERIES",
					layout: { x: 0, y: 0, w: 12, h: 6 },
				},
				{
					id: "errors",
					title: "Error logs",
					kind: "number",
					query: "SELECT count(*) FROM logs WHERE level = 'error'",
					layout: { x: 12, y: 0, w: 6, h: 3 },
				},
			],
		},
		auth,
	);
	dashboardId = String(dashboard.id);
	await call("/api/v1/users", { name: "Grace Hopper", email: "grace@example.com", role: "admin" }, auth);
	browser = await launchBrowser();
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

/** How far the page reaches past the screen's right edge (0: it fits), and the widest culprit. */
function overflow(page: Page): Promise<{ extra: number; culprit: string }> {
	return page.evaluate(() => {
		const width = document.documentElement.clientWidth;
		let culprit = "";
		let right = width;
		for (const element of document.querySelectorAll("body *")) {
			const box = element.getBoundingClientRect();
			if (box.right > right + 1) {
				let scrolled = false;
				for (let a = element.parentElement; a && a !== document.body; a = a.parentElement) {
					if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(a).overflowX)) scrolled = true;
				}
				if (!scrolled) {
					right = box.right;
					culprit = `${element.tagName.toLowerCase()}.${String(element.className)}`;
				}
			}
		}
		return { extra: document.documentElement.scrollWidth - width, culprit };
	});
}

async function open(page: Page, path: string, ready: (p: Page) => Promise<unknown>): Promise<void> {
	await page.goto(`${server.url}${path}`);
	await ready(page);
}

const logsShown = (p: Page) => p.getByText("checkout handled request 0 for order").waitFor();
const traceShown = (p: Page) => p.getByRole("button", { name: /SELECT orders/ }).waitFor();
const WIDE_QUERY = `/query?q=${encodeURIComponent("SELECT service, host, name, count(*), p95(duration_ms) FROM spans GROUP BY service, host, name")}`;
const tableShown = (p: Page) => p.getByRole("table").first().waitFor();

describe("narrow screens", () => {
	const views: Array<[string, string, (p: Page) => Promise<unknown>]> = [
		["overview", "/", (p) => p.getByRole("heading", { name: "Overview" }).waitFor()],
		["logs", "/logs", logsShown],
		["trace", `/traces/${TRACE_ID}`, traceShown],
		["dashboard", "/dashboards/{id}", (p) => p.getByRole("region", { name: "Error logs" }).waitFor()],
		["monitor", "/monitors/billing-export", (p) => p.getByRole("table", { name: "Pings" }).waitFor()],
		["users", "/settings/users", (p) => p.getByRole("table", { name: "Users" }).waitFor()],
		["api keys", "/settings/api-keys", (p) => p.getByRole("table", { name: "API keys" }).waitFor()],
		["query", WIDE_QUERY, tableShown],
	];

	for (const [device, viewport] of [
		["phone", { width: 390, height: 844 }],
		["tablet", { width: 768, height: 1024 }],
	] as const) {
		describe(`a ${device} (${viewport.width} px)`, () => {
			let context: BrowserContext;
			let page: Page;
			beforeAll(async () => {
				context = await browser.newContext({ viewport });
				page = await openSignedIn(context, `${server.url}/`, OWNER, problems);
			});
			afterAll(() => context?.close());

			it("no page is wider than the screen; Sign out is on it", async () => {
				for (const [name, path, ready] of views) {
					await open(page, path.replace("{id}", dashboardId), ready);
					expect({ view: name, ...(await overflow(page)) }).toEqual({ view: name, extra: 0, culprit: "" });
					const signOut = await page.getByRole("button", { name: "Sign out" }).boundingBox();
					expect(signOut && signOut.x + signOut.width).toBeLessThanOrEqual(viewport.width);
				}
				// The absolute range's From and To wrap inside the header too.
				await open(page, "/logs", logsShown);
				await page.getByLabel("Time range").selectOption("absolute");
				await page.getByLabel("From").waitFor();
				expect((await overflow(page)).extra).toBe(0);
				expect(problems.pageErrors).toEqual([]);
			});

			it("a wide table scrolls in its own box", async () => {
				await open(page, WIDE_QUERY, tableShown);
				const box = page.locator(".result-table");
				const { scrollable, scrollWidth, clientWidth } = await box.evaluate((el) => ({
					scrollable: getComputedStyle(el).overflowX,
					scrollWidth: el.scrollWidth,
					clientWidth: el.clientWidth,
				}));
				expect(scrollable).toBe("auto");
				if (device === "phone") expect(scrollWidth).toBeGreaterThan(clientWidth);
			});

			it("an opened span's panel goes under the waterfall, which keeps the width", async () => {
				await open(page, `/traces/${TRACE_ID}`, traceShown);
				await page.getByRole("button", { name: /SELECT orders/ }).click();
				const panel = await page.getByRole("complementary", { name: /^Span / }).boundingBox();
				const waterfall = await page.locator(".waterfall").boundingBox();
				expect(panel && waterfall && panel.y).toBeGreaterThanOrEqual(
					(waterfall?.y ?? 0) + (waterfall?.height ?? 0),
				);
				const main = await page.locator("main").evaluate((m) => m.clientWidth);
				expect(waterfall?.width).toBeGreaterThan(main * 0.85);
			});
		});
	}

	it("on a phone, a dashboard's panels stack at full width and a log's message takes the row's width", async () => {
		const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
		const page = await openSignedIn(context, `${server.url}/dashboards/${dashboardId}`, OWNER, problems);
		const panels = page.locator(".dash-panel");
		await page.getByRole("region", { name: "Error logs" }).waitFor();
		const boxes = await panels.evaluateAll((all) => all.map((p) => p.getBoundingClientRect().toJSON()));
		const grid = await page.locator(".dash-grid").boundingBox();
		expect(boxes).toHaveLength(3);
		for (const box of boxes) expect(Math.abs(box.width - (grid?.width ?? 0))).toBeLessThan(2);
		// One under another, none overlapping, each as tall as its rows (6 rows of 40 px + gaps: > 3 rows).
		const sorted = [...boxes].sort((a, b) => a.y - b.y);
		for (let i = 1; i < sorted.length; i++)
			expect(sorted[i].y).toBeGreaterThanOrEqual(sorted[i - 1].y + sorted[i - 1].height);
		expect(Math.max(...boxes.map((b) => b.height))).toBeGreaterThan(200);
		// In the grid's reading order (row, then column), not the order of the dashboard's list.
		expect(
			await panels.evaluateAll((all) =>
				all
					.map((p) => ({ y: p.getBoundingClientRect().y, title: p.querySelector("h2")?.textContent }))
					.sort((a, b) => a.y - b.y)
					.map((p) => p.title),
			),
		).toEqual(["Logs per level", "Error logs", "Spans by name"]);
		await screenshot(page, "phone-dashboard");

		await open(page, "/logs", logsShown);
		const row = page.locator(".log-summary").first();
		const body = await row.locator(".log-body").boundingBox();
		const whole = await row.boundingBox();
		expect(body?.width).toBeGreaterThan((whole?.width ?? 0) * 0.8);
		await screenshot(page, "phone-logs");
		await context.close();
	});

	it("on a desktop, a long span name is cut at its end: its service and the start of its name show", async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		const page = await openSignedIn(context, `${server.url}/traces/${TRACE_ID}`, OWNER, problems);
		const name = page.getByRole("button", { name: new RegExp(`^checkout ${ROUTE.slice(0, 12)}`) });
		await name.waitFor();
		const cut = await name.evaluate((button) => {
			const range = document.createRange();
			range.selectNodeContents(button);
			const first = range.getClientRects()[0];
			const box = button.getBoundingClientRect();
			return {
				overflowing: button.scrollWidth > button.clientWidth,
				firstLeft: first ? first.left : Number.NaN,
				boxLeft: box.left,
			};
		});
		expect(cut.overflowing).toBe(true);
		// The text starts inside the button (centred, it started left of it: cut at both ends).
		expect(cut.firstLeft).toBeGreaterThanOrEqual(cut.boxLeft - 0.5);
		await context.close();
	});
});
