/**
 * From the UI audit: "Load older" on the logs and traces pages appended without end (logs load on
 * their own as the list scrolls), so a long session grew the page until it stalled. Each list now
 * stops at ten pages and links to the same search up to its oldest record, which continues from there.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openSignedIn } from "../support/browser.js";
import { setUpOwner, startWebServer, type WebServer } from "../support/web-server.js";

const OWNER = { email: "lists@example.com", password: "pewter-lantern-orchard-58" };
const LOGS = 2_100; // the list keeps 2,000
const TRACES = 1_050; // the list keeps 1,000
let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let key = "";
const pageErrors: string[] = [];
const cspViolations: string[] = [];
/** The records' times: one a second, the newest a minute ago. */
const T_NEWEST = Date.now() - 60_000;
const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n);

async function send(path: string, body: unknown): Promise<void> {
	const response = await fetch(`${server.url}${path}`, {
		method: "POST",
		headers: { "X-API-Key": key, "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});
	expect(response.status).toBe(200);
}

beforeAll(async () => {
	server = await startWebServer();
	const token = await setUpOwner(server, { org_name: "Lists", name: "Lin", ...OWNER });
	const created = await fetch(`${server.url}/api/v1/api-keys`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: JSON.stringify({ name: "tests" }),
	});
	key = ((await created.json()) as { key: string }).key;
	const resource = { attributes: [{ key: "service.name", value: { stringValue: "lister" } }] };
	await send("/v1/logs", {
		resourceLogs: [
			{
				resource,
				scopeLogs: [
					{
						logRecords: Array.from({ length: LOGS }, (_, i) => ({
							timeUnixNano: nanos(T_NEWEST - i * 1_000),
							severityNumber: 9,
							body: { stringValue: `record ${i}` },
						})),
					},
				],
			},
		],
	});
	await send("/v1/traces", {
		resourceSpans: [
			{
				resource,
				scopeSpans: [
					{
						spans: Array.from({ length: TRACES }, (_, i) => ({
							traceId: (i + 1).toString(16).padStart(32, "0"),
							spanId: (i + 1).toString(16).padStart(16, "0"),
							name: `GET /item/${i}`,
							kind: 2,
							startTimeUnixNano: nanos(T_NEWEST - i * 1_000),
							endTimeUnixNano: nanos(T_NEWEST - i * 1_000 + 5),
						})),
					},
				],
			},
		],
	});
	browser = await launchBrowser();
	context = await browser.newContext();
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

function openPage(path: string): Promise<Page> {
	return openSignedIn(context, `${server.url}${path}`, OWNER, { pageErrors, cspViolations });
}

/** Presses "Load older …" until the list says it is full (or the button is gone). */
async function loadAll(page: Page, button: string): Promise<void> {
	const more = page.getByRole("button", { name: button });
	const full = page.getByRole("link", { name: "Continue from the oldest shown" });
	for (let i = 0; i < 30 && !(await full.isVisible()); i++) {
		if (await more.isVisible()) await more.click();
		await page.waitForTimeout(150);
	}
}

describe("long lists", () => {
	it("logs: load older stops at 2,000 records and continues from the oldest with the filters kept", async () => {
		// The window the list is read over, as the server resolved it: the link continues that one.
		const firstAnswer = context.waitForEvent("response", {
			predicate: (r) => r.url().includes("/api/v1/pages/logs?") && !r.url().includes("cursor="),
			timeout: 30_000,
		});
		const page = await openPage("/logs?range=6h&service=lister");
		const window = ((await (await firstAnswer).json()) as { range: { from: string } }).range;
		const records = page.getByRole("list", { name: "Log records" });
		await records.getByText("record 0", { exact: true }).waitFor();
		await loadAll(page, "Load older logs");
		expect(await records.getByRole("listitem").count()).toBe(2_000);
		await page.getByText("This page shows 2,000 records at most.").waitFor();
		expect(await page.getByRole("button", { name: "Load older logs" }).count()).toBe(0);
		const link = page.getByRole("link", { name: "Continue from the oldest shown" });
		const target = new URL((await link.getAttribute("href")) as string, server.url);
		expect(target.searchParams.get("service")).toBe("lister");
		expect(target.searchParams.get("range")).toBeNull();
		// From where the list started (a rolling range resolved again when the list is full starts later:
		// the records in between were never shown).
		expect(target.searchParams.get("from")).toBe(window.from);
		// Up to the oldest shown (record 1999), its millisecond included.
		expect(Date.parse(target.searchParams.get("to") as string)).toBe(T_NEWEST - 1_999 * 1_000 + 1);
		await link.click();
		await records.getByText("record 2099", { exact: true }).waitFor();
		const bodies = await records.locator(".log-body").allTextContents();
		expect(bodies[0]).toBe("record 1999");
		expect(bodies).toHaveLength(LOGS - 1_999);
		await page.getByText("End of results.").waitFor();
		await page.close();
	});

	it("traces: load older stops at 1,000 traces and continues from the oldest", async () => {
		const page = await openPage("/traces?range=6h");
		const table = page.getByRole("table", { name: "Traces" });
		await table.getByText("GET /item/0", { exact: true }).waitFor();
		await loadAll(page, "Load older traces");
		expect(await table.getByRole("row").count()).toBe(1 + 1_000);
		await page.getByText("This page shows 1,000 traces at most.").waitFor();
		await page.getByRole("link", { name: "Continue from the oldest shown" }).click();
		await table.getByText("GET /item/1049", { exact: true }).waitFor();
		expect(await table.getByRole("row").nth(1).textContent()).toContain("GET /item/999");
		expect(await table.getByRole("row").count()).toBe(1 + TRACES - 999);
		await page.close();
	});

	it("saw no page error and no CSP refusal", () => {
		expect(pageErrors).toEqual([]);
		expect(cspViolations).toEqual([]);
	});
});
