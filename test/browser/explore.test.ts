/**
 * The query explorer and dashboards in a real browser, over logs sent as OTLP/JSON with an API key:
 * a TIMESERIES query draws one series per service, a syntax error is marked where the API says,
 * completion offers the fields, a query is saved, a dashboard is made from a query and edited,
 * two tabs produce a version conflict that the UI resolves, and a failing panel leaves the others.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	accessibilityInBothThemes,
	launchBrowser,
	openSignedIn,
	pixelsOfColour,
	rowPlaces,
	valueAxisTicks,
} from "../support/browser.js";
import { screenshot, setUpOwner, startWebServer, type WebServer } from "../support/web-server.js";

type Layout = { x: number; y: number; w: number; h: number };

const OWNER = { email: "explorer@example.com", password: "granite-lantern-meadow-58" };
/** Log lines per service, all in the last 30 minutes. */
const LOGS = { checkout: 10, payments: 6, search: 3 };
const TOTAL = LOGS.checkout + LOGS.payments + LOGS.search;

let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let token: string;
const pageErrors: string[] = [];
/** CSP refusals seen by any page (none expected). */
const cspViolations: string[] = [];
const seriousViolations = () => cspViolations;

async function apiCall<T>(
	method: string,
	path: string,
	body?: unknown,
): Promise<{ status: number; body: T }> {
	const response = await fetch(`${server.url}${path}`, {
		method,
		headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
		body: body ? JSON.stringify(body) : undefined,
	});
	const text = await response.text();
	return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

/** A second user of the org, a member, signed in over the API (invited, then their own password). */
async function signedInMember(name: string) {
	const email = `${name.toLowerCase().replaceAll(" ", ".")}@example.com`;
	const invited = await apiCall<{ initial_password: string }>("POST", "/api/v1/users", {
		email,
		name,
		role: "member",
	});
	expect(invited.status).toBe(201);
	const login = async (password: string) => {
		const answer = await fetch(`${server.url}/api/v1/auth/login`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ email, password }),
		});
		expect(answer.status).toBe(200);
		return ((await answer.json()) as { access_token: string }).access_token;
	};
	const password = "a long enough password for grace";
	const first = await login(invited.body.initial_password);
	const changed = await fetch(`${server.url}/api/v1/me/password`, {
		method: "POST",
		headers: { Authorization: `Bearer ${first}`, "Content-Type": "application/json" },
		body: JSON.stringify({ current_password: invited.body.initial_password, new_password: password }),
	});
	expect(changed.status).toBeLessThan(300);
	const access = await login(password);
	return {
		async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
			const response = await fetch(`${server.url}${path}`, {
				method,
				headers: { Authorization: `Bearer ${access}`, "Content-Type": "application/json" },
				body: body ? JSON.stringify(body) : undefined,
			});
			const text = await response.text();
			return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
		},
	};
}

function otlpLogs(now: number): unknown {
	return {
		resourceLogs: Object.entries(LOGS).map(([service, count]) => ({
			resource: {
				attributes: [
					{ key: "service.name", value: { stringValue: service } },
					{ key: "host.name", value: { stringValue: `${service}-1.prod` } },
				],
			},
			scopeLogs: [
				{
					scope: { name: "explore-test" },
					logRecords: Array.from({ length: count }, (_, i) => ({
						timeUnixNano: String(BigInt(now - (i + 1) * 90_000) * 1_000_000n),
						severityNumber: i % 3 === 0 ? 17 : 9,
						severityText: i % 3 === 0 ? "ERROR" : "INFO",
						body: { stringValue: `${service} request ${i}` },
						attributes: [{ key: "http.route", value: { stringValue: `/api/${service}` } }],
					})),
				},
			],
		})),
	};
}

beforeAll(async () => {
	server = await startWebServer();
	token = await setUpOwner(server, { org_name: "Initech", name: "Erin Explorer", ...OWNER });
	const key = await apiCall<{ key: string }>("POST", "/api/v1/api-keys", { name: "otel" });
	expect(key.status).toBe(201);
	const ingest = await fetch(`${server.url}/v1/logs`, {
		method: "POST",
		headers: { "X-API-Key": key.body.key, "Content-Type": "application/json" },
		body: JSON.stringify(otlpLogs(Date.now())),
	});
	expect(ingest.status).toBe(200);
	const count = await apiCall<{ rows: number[][] }>("POST", "/api/v1/dsl", {
		query: "SELECT count(*) FROM logs",
	});
	expect(count.body.rows[0]?.[0]).toBe(TOTAL);
	browser = await launchBrowser();
	// A locale: uPlot formats numbers with navigator.language, which a POSIX-locale Chromium reports as "en-US@posix" (invalid).
	context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

function openPage(path: string): Promise<Page> {
	return openSignedIn(context, `${server.url}${path}`, OWNER, { pageErrors, cspViolations });
}

/**
 * Replaces the editor's text: select all, then insertText (no completion pops up mid-word).
 * Not Delete first: a Delete of the whole selection was seen to hang the renderer of the
 * @sparticuz Chromium build these tests may run on.
 */
async function setQuery(page: Page, text: string, label = "OQL query"): Promise<void> {
	const editor = page.getByRole("textbox", { name: label });
	await editor.click();
	await page.keyboard.press("Control+A");
	await page.keyboard.insertText(text);
}

/**
 * The time axis' tick marks, read from the chart's canvas (the row just under the plot, where only
 * they are drawn): the least distance between two neighbours, and the width of a minute's value
 * ("23:55") in the axis font.
 */
async function timeTickSpacing(
	page: Page,
	chart: string,
): Promise<{ least: number; ticks: number; label: number }> {
	return page.getByRole("figure", { name: chart }).evaluate((figure: HTMLElement) => {
		const plot = figure.querySelector<HTMLElement>(".u-over") as HTMLElement;
		const canvas = figure.querySelector("canvas") as HTMLCanvasElement;
		const ratio = canvas.width / canvas.clientWidth;
		const y = Math.round((plot.offsetTop + plot.offsetHeight + 4) * ratio);
		const from = Math.round(plot.offsetLeft * ratio);
		const to = Math.round((plot.offsetLeft + plot.offsetWidth) * ratio);
		const { data } = (canvas.getContext("2d") as CanvasRenderingContext2D).getImageData(
			from,
			y,
			to - from,
			1,
		);
		const ticks: number[] = [];
		for (let x = 0; x < to - from; x++) {
			const inked = (data[x * 4 + 3] as number) > 0;
			if (inked && (ticks.length === 0 || x - (ticks.at(-1) as number) > 2)) ticks.push(x);
		}
		let least = Number.POSITIVE_INFINITY;
		for (let i = 1; i < ticks.length; i++)
			least = Math.min(least, ((ticks[i] as number) - (ticks[i - 1] as number)) / ratio);
		const measure = document.createElement("canvas").getContext("2d") as CanvasRenderingContext2D;
		measure.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
		return { least, ticks: ticks.length, label: measure.measureText("23:55").width };
	});
}

const TIMESERIES = "SELECT count(*) FROM logs GROUP BY service TIMESERIES 5m";
let dashboardId = "";

describe("query explorer", () => {
	it("runs a TIMESERIES query with Ctrl+Enter and draws one series per service", async () => {
		const page = await openPage("/query");
		await page.getByRole("heading", { name: "Query" }).waitFor();
		await setQuery(page, TIMESERIES);
		await page.keyboard.press("Control+Enter");
		const chart = page.getByRole("figure", { name: "Query result" });
		await chart.waitFor();
		const legend = chart.locator(".u-legend");
		// The legend is uPlot's, drawn after the figure appears.
		for (const service of Object.keys(LOGS))
			await expect.poll(() => legend.getByText(service, { exact: true }).count()).toBe(1);
		// The first series' colour (#4c6ef5) is on the canvas: the plot is not blank.
		expect(await pixelsOfColour(page.locator(".query-result"), [76, 110, 245])).toBeGreaterThan(20);
		// The time axis' values do not run together: its ticks are further apart than a value is wide.
		const spacing = await timeTickSpacing(page, "Query result");
		expect(spacing.ticks).toBeGreaterThan(3);
		expect(spacing.label).toBeGreaterThan(25);
		expect(spacing.least).toBeGreaterThanOrEqual(spacing.label + 12);
		// Counts: the value scale ends on a tick, so the top value is labelled (a scale ending between
		// ticks left the largest count without one).
		const ticks = await valueAxisTicks(chart);
		expect(ticks.length).toBeGreaterThan(1);
		expect(Math.abs(ticks[0] as number)).toBeLessThanOrEqual(1.5);
		// The window in 24-hour time, as the axis and the log rows write it (it said "4:38:17 PM").
		await expect(
			page
				.getByText(
					/^\d+ rows · [\d.]+ m?s · [A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2} – [A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2}$/,
				)
				.count(),
		).resolves.toBe(1);
		// The query and the range are in the URL: a link reproduces the view.
		const url = new URL(page.url());
		expect(url.searchParams.get("q")).toBe(TIMESERIES);
		await screenshot(page, "query-timeseries");

		// The editor is styled under the CSP (explore.css, no <style> element) and highlights keywords:
		// the text box is transparent over its highlighted copy, and the two line up.
		const styling = await page.evaluate(() => {
			const host = document.querySelector("[data-testid=oql-editor]") as HTMLElement;
			const area = host.querySelector("textarea") as HTMLTextAreaElement;
			const copy = host.querySelector(".oql-highlight") as HTMLElement;
			const keyword = [...copy.querySelectorAll("span")].find(
				(s) => s.textContent === "SELECT",
			) as HTMLElement;
			const a = area.getBoundingClientRect();
			const c = copy.getBoundingClientRect();
			return {
				text: copy.textContent,
				keyword: getComputedStyle(keyword).color,
				plain: getComputedStyle(copy).color,
				areaColour: getComputedStyle(area).color,
				sameBox: [a.left - c.left, a.top - c.top, a.width - c.width, a.height - c.height].every(
					(d) => Math.abs(d) < 1,
				),
				styleElements: document.querySelectorAll("style").length,
			};
		});
		expect(styling.text).toBe(`${TIMESERIES} `);
		expect(styling.keyword).not.toBe(styling.plain);
		expect(styling.areaColour).toBe("rgba(0, 0, 0, 0)");
		expect(styling.sameBox).toBe(true);
		expect(styling.styleElements).toBe(0);
		expect(seriousViolations()).toEqual([]);

		// Completion (Ctrl+Space) offers the source's fields and the attribute keys ingest has seen;
		// Escape closes the list, Enter takes the chosen option.
		const editor = page.getByRole("textbox", { name: "OQL query" });
		const completions = page.getByRole("listbox", { name: "Completions" });
		await setQuery(page, "SELECT count(*) FROM logs WHERE serv");
		await page.keyboard.press("Control+Space");
		await page.getByRole("option", { name: /^service/ }).waitFor();
		await page.keyboard.press("Escape");
		await completions.waitFor({ state: "detached" });
		await setQuery(page, "SELECT count(*) FROM logs GROUP BY attributes['http");
		await page.keyboard.press("Control+Space");
		await page.getByRole("option", { name: /http\.route/ }).waitFor();
		await screenshot(page, "query-completion");
		await page.keyboard.press("Enter");
		await expect(editor.inputValue()).resolves.toBe(
			"SELECT count(*) FROM logs GROUP BY attributes['http.route']",
		);
		// Typing a word opens the list by itself; the list sits under the caret (below the first line,
		// to the right by the ~36 characters typed), not at the text box's corner.
		await setQuery(page, "SELECT count(*) FROM logs WHERE ");
		await page.keyboard.type("leve");
		const option = page.getByRole("option", { name: /^level/ });
		await option.waitFor();
		const [box, list] = await Promise.all([editor.boundingBox(), completions.boundingBox()]);
		expect(list && box && list.y > box.y + 10 && list.y < box.y + box.height).toBe(true);
		expect(list && box && list.x > box.x + 150).toBe(true);
		await page.keyboard.press("Tab");
		await expect(editor.inputValue()).resolves.toBe("SELECT count(*) FROM logs WHERE level");

		await page.close();
	});

	it("shows a syntax error at the line and column the API gives", async () => {
		const page = await openPage("/query");
		await setQuery(page, "SELECT count(*)\nFORM logs");
		await page.getByRole("button", { name: "Run" }).click();
		const alert = page.getByRole("alert");
		await alert.waitFor();
		expect(await alert.textContent()).toMatch(/Line 2, column 1:.*FORM/);
		// The position is said once, in front ("… (line 2, column 1)" was repeated at the end).
		expect(await alert.textContent()).not.toMatch(/\(line \d+, column \d+\)/);
		const marked = page.locator(".oql-error-mark");
		expect(await marked.textContent()).toBe("FORM");
		await screenshot(page, "query-syntax-error");
		// Fixing it clears the mark.
		await setQuery(page, "SELECT count(*) FROM logs");
		await page.getByRole("button", { name: "Run" }).click();
		await page.getByRole("figure", { name: "Query result" }).waitFor();
		expect(await page.getByRole("figure", { name: "Query result" }).textContent()).toBe(String(TOTAL));
		expect(await page.locator(".oql-error-mark").count()).toBe(0);
		// Both queries are in this tab's history.
		const history = page.getByRole("list", { name: "Query history" });
		await expect.poll(() => history.getByText("SELECT count(*) FROM logs", { exact: true }).count()).toBe(1);
		await page.close();
	});

	it("saves a query as private, and lists it", async () => {
		const page = await openPage(`/query?q=${encodeURIComponent(TIMESERIES)}`);
		await page.getByRole("figure", { name: "Query result" }).waitFor();
		await page.getByRole("button", { name: "Save query…" }).click();
		await page.getByLabel("Name").fill("Logs per service");
		await page.getByLabel("Visibility").selectOption("private");
		await page.getByRole("button", { name: "Save", exact: true }).click();
		await page.getByText("Saved as “Logs per service” (private).").waitFor();
		await page
			.getByRole("list", { name: "Saved queries" })
			.getByRole("button", { name: "Logs per service", exact: true })
			.waitFor();
		const saved = await apiCall<{ data: Array<{ name: string; query: string; visibility: string }> }>(
			"GET",
			"/api/v1/saved-queries",
		);
		expect(saved.body.data).toEqual([
			expect.objectContaining({ name: "Logs per service", query: TIMESERIES, visibility: "private" }),
		]);
		await page.close();
	});

	it("the keyboard: Skip to content is the first stop, a new page takes the focus to its content and names the tab; sign-in starts in Email", async () => {
		const page = await openPage("/logs");
		await page.getByRole("heading", { name: "Logs" }).waitFor();
		await expect.poll(() => page.title()).toBe("Logs · Hexcovery");
		const focused = () =>
			page.evaluate(() => {
				const element = document.activeElement;
				return element === document.body ? "(the page)" : `${element?.tagName.toLowerCase()}#${element?.id}`;
			});
		// From the page's start, the first Tab is the skip link, shown; Enter takes the focus past the
		// header and navigation (13 stops) to the content.
		await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
		await page.keyboard.press("Tab");
		const skip = page.getByRole("link", { name: "Skip to content" });
		expect(await skip.evaluate((el) => el === document.activeElement)).toBe(true);
		expect((await skip.boundingBox())?.y).toBeGreaterThanOrEqual(0);
		await page.keyboard.press("Enter");
		expect(await focused()).toBe("main#content");
		expect(new URL(page.url()).pathname).toBe("/logs");
		// A link in the navigation: the new page's content has the focus, the tab says which page.
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Traces" }).focus();
		await page.keyboard.press("Enter");
		await page.getByRole("heading", { name: "Traces" }).waitFor();
		await expect.poll(focused).toBe("main#content");
		await expect.poll(() => page.title()).toBe("Traces · Hexcovery");
		await page.close();

		const context = await browser.newContext();
		const signIn = await context.newPage();
		await signIn.goto(`${server.url}/sign-in`);
		await signIn.getByRole("heading", { name: "Sign in" }).waitFor();
		await expect.poll(() => signIn.title()).toBe("Sign in · Hexcovery");
		await expect
			.poll(() => signIn.getByLabel("Email").evaluate((el) => el === document.activeElement))
			.toBe(true);
		await context.close();
	});

	it("a dialog closed with Escape or Cancel gives the focus back to the button that opened it", async () => {
		const page = await openPage(`/query?q=${encodeURIComponent(TIMESERIES)}`);
		await page.getByRole("figure", { name: "Query result" }).waitFor();
		const focusedName = () =>
			page.evaluate(() => {
				const focused = document.activeElement;
				return focused === document.body ? "(the page)" : (focused?.textContent ?? "");
			});
		const save = page.getByRole("button", { name: "Save query…" });
		await save.focus();
		await page.keyboard.press("Enter");
		const dialog = page.getByRole("dialog", { name: "Save query" });
		await dialog.waitFor();
		await page.keyboard.press("Escape");
		await dialog.waitFor({ state: "detached" });
		// The dialog was removed open: the focus fell to the page, and the next Tab began at its top.
		await expect.poll(focusedName).toBe("Save query…");
		const add = page.getByRole("button", { name: "Add to dashboard…" });
		await add.focus();
		await page.keyboard.press("Enter");
		const adding = page.getByRole("dialog", { name: "Add to a dashboard" });
		await adding.waitFor();
		await adding.getByRole("button", { name: "Cancel" }).click();
		await adding.waitFor({ state: "detached" });
		await expect.poll(focusedName).toBe("Add to dashboard…");
		await page.close();
	});
});

describe("dashboards", () => {
	it("adds a query to a new dashboard, adds a panel in edit mode, saves, and shows both after a reload", async () => {
		const page = await openPage(`/query?q=${encodeURIComponent(TIMESERIES)}`);
		await page.getByRole("figure", { name: "Query result" }).waitFor();
		await page.getByRole("button", { name: "Add to dashboard…" }).click();
		await page.getByLabel("New dashboard title").fill("Service health");
		await page.getByLabel("Panel title").fill("Logs per service");
		await page.getByRole("button", { name: "Add panel" }).click();
		await page.getByRole("link", { name: "Service health" }).click();
		await page.getByRole("heading", { name: "Service health" }).waitFor();
		dashboardId = new URL(page.url()).pathname.split("/").pop() as string;
		const panel = page.getByRole("region", { name: "Logs per service" });
		await panel.getByRole("figure").waitFor();
		await expect
			.poll(() => panel.locator(".u-legend").getByText("checkout", { exact: true }).count())
			.toBe(1);

		await page.getByRole("button", { name: "Edit", exact: true }).click();
		await page.getByRole("button", { name: "Add panel" }).click();
		await page.getByLabel("Panel title").fill("All logs");
		await page.getByLabel("Panel kind").selectOption("number");
		// The editor's preview runs the unsaved query over the dashboard's range: first a typo, shown at
		// its place, then the fixed query drawn as the chosen kind.
		await setQuery(page, "SELECT count(*) FORM logs", "Panel query");
		await page.keyboard.press("Control+Enter");
		const preview = page.getByRole("region", { name: "Panel preview" });
		await preview.getByRole("alert").waitFor();
		expect(await preview.getByRole("alert").textContent()).toMatch(/FORM/);
		expect(await page.getByRole("dialog").locator(".oql-error-mark").textContent()).toBe("FORM");
		await setQuery(page, "SELECT count(*) FROM logs", "Panel query");
		await page.getByRole("button", { name: "Preview" }).click();
		await expect(preview.getByRole("figure").textContent()).resolves.toBe(String(TOTAL));
		// The dialog's title starts at its padding, as its sides do (a heading's own top margin doubled it).
		const gaps = await page.getByRole("dialog").evaluate((dialog: HTMLElement) => {
			const box = dialog.getBoundingClientRect();
			const heading = (dialog.querySelector("h2, h3") as HTMLElement).getBoundingClientRect();
			return { top: heading.top - box.top, left: heading.left - box.left };
		});
		expect(gaps.top).toBeLessThanOrEqual(gaps.left);
		await screenshot(page, "dashboard-panel-preview");
		await page.getByRole("button", { name: "Add", exact: true }).click();
		// Added but not saved: the grid shows it run as it stands, marked as a preview.
		const added = page.getByRole("region", { name: "All logs" });
		await added.getByText("Preview: not saved yet.").waitFor();
		await expect(added.getByRole("figure").textContent()).resolves.toBe(String(TOTAL));
		await page.getByLabel("Tags").fill("team:ops, health");
		// Title and Tags line up, though only Tags has a hint under it.
		const [title, tags] = await rowPlaces(page.getByLabel("Title"), page.getByLabel("Tags"));
		expect(tags?.top).toBe(title?.top);
		await screenshot(page, "dashboard-edit");
		await page.getByRole("button", { name: "Save dashboard" }).click();
		await page.getByRole("button", { name: "Edit", exact: true }).waitFor();

		await page.reload();
		await page.getByRole("heading", { name: "Service health" }).waitFor();
		const number = page.getByRole("region", { name: "All logs" }).getByRole("figure");
		await number.waitFor();
		expect(await number.textContent()).toBe(String(TOTAL));
		await page.getByRole("region", { name: "Logs per service" }).getByRole("figure").waitFor();
		const stored = await apiCall<{
			version: number;
			tags: string[];
			panels: Array<{ title: string; kind: string }>;
		}>("GET", `/api/v1/dashboards/${dashboardId}`);
		expect(stored.body.tags).toEqual(["team:ops", "health"]);
		expect(stored.body.panels.map((p) => [p.title, p.kind])).toEqual([
			["Logs per service", "timeseries"],
			["All logs", "number"],
		]);
		await screenshot(page, "dashboard-view");

		// The list finds it by title and by tag.
		await page.goto(`${server.url}/dashboards?q=health`);
		await page.getByRole("link", { name: "Service health" }).waitFor();
		await page.getByRole("button", { name: "team:ops" }).click();
		await page.waitForURL(/tag=team%3Aops/);
		await page.getByRole("link", { name: "Service health" }).waitFor();
		// The list has no time axis: no time range picker (a dashboard has one; it changed nothing here).
		expect(await page.getByRole("combobox", { name: "Time range", exact: true }).count()).toBe(0);
		await screenshot(page, "dashboards-list");
		await page.close();
	});

	it("moves a panel by dragging its header and resizes it from its corner in edit mode", async () => {
		const page = await openPage(`/dashboards/${dashboardId}?edit=1`);
		const header = page.getByRole("region", { name: "All logs" }).locator("header");
		await header.waitFor();
		const before = await apiCall<{ panels: Array<{ title: string; layout: Layout }> }>(
			"GET",
			`/api/v1/dashboards/${dashboardId}`,
		);
		const start = before.body.panels.find((p) => p.title === "All logs")?.layout;
		await header.scrollIntoViewIfNeeded();
		const box = (await header.boundingBox()) as { x: number; y: number; width: number; height: number };
		await page.mouse.move(box.x + 20, box.y + box.height / 2);
		await page.mouse.down();
		// Three rows of 40 px + 12 px gap further down.
		await page.mouse.move(box.x + 20, box.y + box.height / 2 + 80, { steps: 4 });
		await page.mouse.move(box.x + 20, box.y + box.height / 2 + 156, { steps: 4 });
		await page.mouse.up();
		// Narrower by a quarter of the grid: 6 of its 24 columns.
		const grid = (await page.locator(".dash-grid").boundingBox()) as { width: number };
		const columnPx = (grid.width + 12) / 24;
		const corner = page.getByRole("button", { name: "Resize All logs" });
		await corner.scrollIntoViewIfNeeded();
		const handle = (await corner.boundingBox()) as { x: number; y: number; width: number; height: number };
		await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
		await page.mouse.down();
		await page.mouse.move(handle.x + handle.width / 2 - 6 * columnPx, handle.y + handle.height / 2, {
			steps: 6,
		});
		await page.mouse.up();
		await page.getByRole("button", { name: "Save dashboard" }).click();
		await page.getByRole("button", { name: "Edit", exact: true }).waitFor();
		const after = await apiCall<{ panels: Array<{ title: string; layout: Layout }> }>(
			"GET",
			`/api/v1/dashboards/${dashboardId}`,
		);
		const moved = after.body.panels.find((p) => p.title === "All logs")?.layout;
		expect(moved?.x).toBe(start?.x);
		expect(moved?.y).toBe((start?.y ?? 0) + 3);
		expect(moved?.w).toBe((start?.w ?? 0) - 6);
		expect(moved?.h).toBe(start?.h);

		// The same by keyboard: the move handle's arrows move by one column or row, the resize
		// handle's arrows resize (a step onto another panel or off the grid is refused, as for a drag).
		// A handle works from the moment it shows: the first press, made as the handle appears
		// (the frame after Edit), moves the panel (CI once lost it: the handles showed a frame before
		// the draft they change existed).
		await page.evaluate(
			(label) =>
				new Promise<void>((resolve) => {
					const observer = new MutationObserver(() => {
						const move = document.querySelector<HTMLButtonElement>(`button[aria-label="${label}"]`);
						if (!move) return;
						observer.disconnect();
						move.focus();
						move.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
						resolve();
					});
					observer.observe(document.body, { childList: true, subtree: true });
					const edit = [...document.querySelectorAll("button")].find((b) => b.textContent === "Edit");
					edit?.click();
				}),
			"Move All logs",
		);
		await page.getByRole("button", { name: "Move All logs" }).focus();
		await page.keyboard.press("ArrowRight");
		await page.keyboard.press("ArrowUp");
		await page.getByRole("button", { name: "Resize All logs" }).focus();
		await page.keyboard.press("ArrowDown");
		await page.getByRole("button", { name: "Save dashboard" }).click();
		await page.getByRole("button", { name: "Edit", exact: true }).waitFor();
		const keyed = (
			await apiCall<{ panels: Array<{ title: string; layout: Layout }> }>(
				"GET",
				`/api/v1/dashboards/${dashboardId}`,
			)
		).body.panels.find((p) => p.title === "All logs")?.layout;
		expect(keyed).toEqual({
			x: (moved?.x ?? 0) + 2,
			y: (moved?.y ?? 0) - 1,
			w: moved?.w,
			h: (moved?.h ?? 0) + 1,
		});
		await page.close();
	});

	it("sets the default time range and a variable in edit mode, and shows the variable as a dropdown", async () => {
		const page = await openPage(`/dashboards/${dashboardId}?edit=1`);
		const settings = page.getByRole("region", { name: "Dashboard settings" });
		// The default ranges are named as the header's picker names them (it said "Last hour").
		await settings.getByLabel("Default time range").waitFor();
		const defaults = await settings.getByLabel("Default time range").locator("option").allTextContents();
		const offered = await page
			.getByRole("combobox", { name: "Time range", exact: true })
			.locator("option")
			.allTextContents();
		expect(defaults).toEqual(offered.filter((text) => text.startsWith("Last ")));
		expect(defaults).toContain("Last 1 hour");
		// A new default range shows at once, before the save: the panels' data are for its window.
		const sixHours = page.waitForRequest((request) => {
			const url = new URL(request.url());
			return url.pathname.endsWith("/data") && url.searchParams.has("from");
		});
		await settings.getByLabel("Default time range").selectOption({ label: "Last 6 hours" });
		const window = new URL((await sixHours).url()).searchParams;
		expect(Date.parse(window.get("to") ?? "") - Date.parse(window.get("from") ?? "")).toBe(6 * 3_600_000);
		const picker = page.getByRole("combobox", { name: "Time range", exact: true });
		const chosen = () =>
			picker.evaluate((select: HTMLSelectElement) => select.selectedOptions[0]?.textContent);
		await expect.poll(chosen).toBe("Dashboard's range (last 6 hours)");
		await settings.getByRole("button", { name: "Add variable" }).click();
		const variable = settings.getByRole("group", { name: "Variable 1" });
		await variable.getByLabel("Name").fill("svc");
		await variable.getByLabel("Label").fill("Service");
		await variable.getByLabel("Values").fill("checkout, payments");
		await variable.getByLabel("Default").fill("payments");
		// The variable's fields line up in their rows, and Remove sits beside the inputs.
		const [name, label, offer] = await rowPlaces(
			variable.getByLabel("Name"),
			variable.getByLabel("Label"),
			variable.getByLabel("Offer"),
		);
		expect([label?.top, offer?.top]).toEqual([name?.top, name?.top]);
		const [values, fallback, remove] = await rowPlaces(
			variable.getByLabel("Values"),
			variable.getByLabel("Default"),
			variable.getByRole("button", { name: "Remove variable 1" }),
		);
		expect(fallback?.top).toBe(values?.top);
		expect(Math.abs((remove?.middle ?? 0) - (values?.middle ?? 0))).toBeLessThanOrEqual(2);
		// A narrow panel keeps its title whole: its edit buttons go under it.
		const title = page.getByRole("region", { name: "All logs" }).getByRole("heading", { name: "All logs" });
		expect(await title.evaluate((h: HTMLElement) => h.scrollWidth <= h.clientWidth)).toBe(true);
		await screenshot(page, "dashboard-settings-edit");
		await page.getByRole("button", { name: "Save dashboard" }).click();
		await page.getByRole("button", { name: "Edit", exact: true }).waitFor();
		const saved = await apiCall<{ time: unknown; variables: unknown[] }>(
			"GET",
			`/api/v1/dashboards/${dashboardId}`,
		);
		expect(saved.body.time).toEqual({ last: "6h" });
		expect(saved.body.variables).toEqual([
			expect.objectContaining({
				name: "svc",
				label: "Service",
				values: ["checkout", "payments"],
				default: "payments",
			}),
		]);
		const dropdown = page.getByRole("combobox", { name: "Service" });
		await expect.poll(() => dropdown.inputValue()).toBe("payments");
		expect(await dropdown.locator("option").allTextContents()).toEqual(["payments", "checkout"]);
		// The header's picker names the dashboard's range (it said "Last 1 hour", and picking that
		// changed nothing), and only the picker: no line under the controls repeats it.
		await expect.poll(chosen).toBe("Dashboard's range (last 6 hours)");
		const overridden = page.getByText(
			"The time range picker overrides this dashboard's own range (last 6 hours).",
		);
		expect(await overridden.count()).toBe(0);
		// Opening "Absolute…" and coming back to the dashboard's range leaves the URL without one.
		await picker.selectOption("absolute");
		await picker.selectOption({ label: "Dashboard's range (last 6 hours)" });
		await expect.poll(chosen).toBe("Dashboard's range (last 6 hours)");
		expect(new URL(page.url()).searchParams.get("range")).toBeNull();
		// Picking Last 1 hour overrides the dashboard's range, which a line says, with the way back;
		// the picker keeps offering it too.
		await picker.selectOption({ label: "Last 1 hour" });
		await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("1h");
		await overridden.waitFor();
		const [line, back] = await rowPlaces(
			overridden,
			page.getByRole("button", { name: "Use the dashboard's range" }),
		);
		expect(Math.abs((line?.middle ?? 0) - (back?.middle ?? 0))).toBeLessThanOrEqual(2);
		await expect.poll(chosen).toBe("Last 1 hour");
		await dropdown.selectOption("checkout");
		await expect.poll(() => new URL(page.url()).searchParams.get("var.svc")).toBe("checkout");
		expect(await picker.locator("option").allTextContents()).toContain("Dashboard's range (last 6 hours)");
		await screenshot(page, "dashboard-range-overridden");
		await page.getByRole("button", { name: "Use the dashboard's range" }).click();
		await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBeNull();
		await expect.poll(chosen).toBe("Dashboard's range (last 6 hours)");
		expect(await overridden.count()).toBe(0);
		// The variable stays chosen on the way back.
		expect(new URL(page.url()).searchParams.get("var.svc")).toBe("checkout");
		await picker.selectOption({ label: "Last 1 hour" });
		await overridden.waitFor();
		await picker.selectOption({ label: "Dashboard's range (last 6 hours)" });
		await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBeNull();
		await page.close();
	});

	it("resolves a version conflict between two tabs: overwrite with mine, or reload theirs", async () => {
		const tabA = await openPage(`/dashboards/${dashboardId}`);
		const tabB = await openPage(`/dashboards/${dashboardId}`);
		for (const tab of [tabA, tabB]) {
			await tab.getByRole("button", { name: "Edit", exact: true }).click();
			await tab.getByLabel("Title").waitFor();
		}
		await tabA.getByLabel("Title").fill("Service health (A)");
		await tabB.getByLabel("Title").fill("Service health (B)");
		await tabB.getByRole("button", { name: "Save dashboard" }).click();
		await tabB.getByRole("heading", { name: "Service health (B)" }).waitFor();
		await tabB.getByRole("button", { name: "Edit", exact: true }).waitFor();

		await tabA.getByRole("button", { name: "Save dashboard" }).click();
		// It was this user, in the other tab: the dialog says so (it said "Someone else").
		const dialog = tabA.getByRole("dialog", {
			name: "You saved this dashboard in another tab or window",
		});
		await dialog.waitFor();
		const savedB = await apiCall<{ version: number }>("GET", `/api/v1/dashboards/${dashboardId}`);
		expect(await dialog.textContent()).toContain(`version ${savedB.body.version}`);
		await dialog.getByRole("button", { name: "Overwrite with mine" }).click();
		await tabA.getByRole("heading", { name: "Service health (A)" }).waitFor();
		// The heading may show before the save has answered: wait for the stored title.
		await expect
			.poll(
				async () => (await apiCall<{ title: string }>("GET", `/api/v1/dashboards/${dashboardId}`)).body.title,
			)
			.toBe("Service health (A)");
		const stored = await apiCall<{ title: string; version: number }>(
			"GET",
			`/api/v1/dashboards/${dashboardId}`,
		);

		// Now another user saves while B edits: B's dialog names them, and B takes their version.
		const grace = await signedInMember("Grace Hopper");
		await tabB.getByRole("button", { name: "Edit", exact: true }).click();
		await tabB.getByLabel("Title").fill("Service health (B again)");
		const byGrace = await grace.call<{ version: number }>("PATCH", `/api/v1/dashboards/${dashboardId}`, {
			version: stored.body.version,
			title: "Service health (Grace)",
		});
		expect(byGrace.status).toBe(200);
		await tabB.getByRole("button", { name: "Save dashboard" }).click();
		const dialogB = tabB.getByRole("dialog", { name: "Grace Hopper saved this dashboard" });
		await dialogB.waitFor();
		expect(await dialogB.textContent()).toContain(
			`It is now at version ${byGrace.body.version}, saved just now.`,
		);
		await screenshot(tabB, "dashboard-version-conflict");
		// Its buttons are all inside it (a longer label pushed "Keep editing" out of its left edge).
		const box = await dialogB.boundingBox();
		const buttons = await dialogB.getByRole("button").all();
		for (const button of buttons) {
			const place = await button.boundingBox();
			expect(place && box && place.x >= box.x && place.x + place.width <= box.x + box.width).toBe(true);
		}
		// In one row, at this width.
		expect(new Set((await rowPlaces(...buttons)).map((p) => p.top)).size).toBe(1);
		await dialogB.getByRole("button", { name: "Discard my changes" }).click();
		await tabB.getByRole("heading", { name: "Service health (Grace)" }).waitFor();
		const after = await apiCall<{ title: string; version: number }>(
			"GET",
			`/api/v1/dashboards/${dashboardId}`,
		);
		expect(after.body).toMatchObject({ title: "Service health (Grace)", version: byGrace.body.version });
		await tabA.close();
		await tabB.close();
	});

	it("shows a failing panel's own error while the other panels render; duplicates and deletes", async () => {
		const created = await apiCall<{ id: string }>("POST", "/api/v1/dashboards", {
			title: "Half broken",
			variables: [{ name: "svc", label: "Service" }],
			panels: [
				{
					id: "good",
					title: "Errors",
					kind: "number",
					query: "SELECT count(*) FROM logs WHERE level = 'error'",
					layout: { x: 0, y: 0, w: 8, h: 4 },
				},
				{
					id: "broken",
					title: "Needs a service",
					kind: "table",
					query: "SELECT count(*) FROM logs WHERE service = $svc",
					layout: { x: 8, y: 0, w: 8, h: 4 },
				},
				{
					id: "bars",
					title: "By service",
					kind: "bar",
					query: "SELECT count(*) FROM logs GROUP BY service",
					layout: { x: 16, y: 0, w: 8, h: 4 },
				},
			],
		});
		expect(created.status).toBe(201);
		const page = await openPage(`/dashboards/${created.body.id}`);
		const broken = page.getByRole("region", { name: "Needs a service" });
		await broken.getByRole("alert").waitFor();
		// The dashboard declares $svc with no value: the panel says that (not "no variables are defined").
		// Written as the query explorer writes an error: its place first, no program's code after it
		// (it said "… (line 1, column 43)" and "oql_invalid_query").
		const refusal = await broken.getByRole("alert").textContent();
		expect(refusal).toMatch(
			/^Line 1, column \d+: The variable \$svc has no value: choose one, or give the variable a default\.$/,
		);
		expect(refusal).not.toContain("oql_invalid_query");
		const errors = page.getByRole("region", { name: "Errors" }).getByRole("figure");
		// Every third line of each service is an error: 4 + 2 + 1.
		expect(await errors.textContent()).toBe("7");
		const bars = page.getByRole("list", { name: "By service" });
		expect(await bars.locator("li").count()).toBe(3);
		await screenshot(page, "dashboard-broken-panel");

		// The variable, set in its field, fixes the broken panel.
		const service = page.getByRole("textbox", { name: "Service", exact: true });
		await service.fill("payments");
		await service.press("Enter");
		await page.waitForURL(/var\.svc=payments/);
		await broken.getByRole("cell", { name: String(LOGS.payments), exact: true }).waitFor();

		await page.getByRole("button", { name: "Duplicate" }).click();
		await page.getByRole("heading", { name: "Half broken (copy)" }).waitFor();
		await page.getByRole("button", { name: "Delete" }).click();
		await page.getByRole("button", { name: "Delete dashboard" }).click();
		await page.getByRole("heading", { name: "Dashboards" }).waitFor();
		const list = await apiCall<{ data: Array<{ title: string }> }>("GET", "/api/v1/dashboards");
		expect(list.body.data.map((d) => d.title).sort()).toEqual(["Half broken", "Service health (Grace)"]);
		expect(pageErrors).toEqual([]);
		expect(seriousViolations()).toEqual([]);

		await page.close();
	});

	it("passes an accessibility audit (axe) on the dashboards and the query page, light and dark", async () => {
		const page = await openPage("/dashboards");
		const found: string[] = [];
		await page
			.getByRole("link", { name: /^Service health/ })
			.first()
			.waitFor();
		found.push(...(await accessibilityInBothThemes(page, "the dashboards list")));
		await page.goto(`${server.url}/dashboards/${dashboardId}`);
		await page.getByRole("region", { name: "Logs per service" }).locator(".u-legend").waitFor();
		found.push(...(await accessibilityInBothThemes(page, "a dashboard")));
		await page.getByRole("button", { name: "Edit", exact: true }).click();
		await page.getByRole("button", { name: "Move All logs" }).waitFor();
		found.push(...(await accessibilityInBothThemes(page, "a dashboard in edit mode")));
		await page.getByRole("button", { name: "Add panel" }).click();
		await page.getByRole("dialog").getByLabel("Panel title").waitFor();
		found.push(...(await accessibilityInBothThemes(page, "the panel editor")));
		await page.goto(
			`${server.url}/query?q=${encodeURIComponent("SELECT service, count(*) FROM logs GROUP BY service")}`,
		);
		await page.getByRole("cell", { name: "checkout", exact: true }).waitFor();
		found.push(...(await accessibilityInBothThemes(page, "the query page with a table")));
		expect(found).toEqual([]);
		expect(seriousViolations()).toEqual([]);
		await page.close();
	});
});
