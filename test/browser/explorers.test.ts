/**
 * The explorers with data sent by the real OpenTelemetry SDK exporters: the overview's charts draw
 * (legend names the services, the canvas is not blank, deploy markers show their title), a log
 * search finds exactly the matching records with facet counts that agree with the API, the log →
 * trace link opens the waterfall with the right spans in the right nesting, and hosts sort.
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import type { ExportResult } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import {
	BasicTracerProvider,
	InMemorySpanExporter,
	SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	accessibilityInBothThemes,
	baselines,
	launchBrowser,
	pixelsOfColour,
	rowPlaces,
	valueAxisTicks,
} from "../support/browser.js";
import { screenshot, startWebServer, type WebServer } from "../support/web-server.js";

const OWNER = { email: "sre@example.com", password: "harbor-quartz-meadow-62" };
let server: WebServer;
let browser: Browser;
let page: Page;
let key = "";
let token = "";
let errorTraceId = "";
const pageErrors: string[] = [];

function exported(
	exporter: { export(items: never[], done: (r: ExportResult) => void): void },
	items: unknown[],
) {
	return new Promise<void>((resolve, reject) =>
		exporter.export(items as never[], (result) => (result.code === 0 ? resolve() : reject(result.error))),
	);
}

/** Spans for two services: one failing checkout trace three levels deep, and healthy requests. */
async function sendTraces(): Promise<void> {
	const now = Date.now();
	const byService = async (
		service: string,
		host: string,
		build: (tracer: ReturnType<BasicTracerProvider["getTracer"]>) => void,
	) => {
		const memory = new InMemorySpanExporter();
		const provider = new BasicTracerProvider({
			resource: resourceFromAttributes({ "service.name": service, "host.name": host }),
			spanProcessors: [new SimpleSpanProcessor(memory)],
		});
		build(provider.getTracer("explorer-test"));
		await provider.forceFlush();
		await exported(
			new OTLPTraceExporter({ url: `${server.url}/v1/traces`, headers: { "X-API-Key": key } }),
			memory.getFinishedSpans(),
		);
	};
	await byService("checkout", "web-1", (tracer) => {
		const start = now - 10 * 60_000;
		const root = tracer.startSpan("POST /api/orders", {
			kind: SpanKind.SERVER,
			startTime: start,
			attributes: { "http.route": "/api/orders" },
		});
		root.setStatus({ code: SpanStatusCode.ERROR, message: "payment declined" });
		errorTraceId = root.spanContext().traceId;
		const parent = (span: typeof root) =>
			({ getValue: () => ({ spanContext: () => span.spanContext() }) }) as never;
		const query = tracer.startSpan(
			"SELECT orders",
			{ kind: SpanKind.CLIENT, startTime: start + 20 },
			parent(root),
		);
		const validate = tracer.startSpan(
			"validate order",
			{ kind: SpanKind.INTERNAL, startTime: start + 30 },
			parent(query),
		);
		validate.end(start + 60);
		query.end(start + 120);
		root.end(start + 400);
		for (let i = 0; i < 5; i++) {
			const ok = tracer.startSpan("GET /api/cart", {
				kind: SpanKind.SERVER,
				startTime: now - (20 - i) * 60_000,
			});
			ok.end(now - (20 - i) * 60_000 + 25);
		}
	});
	await byService("payments", "web-2", (tracer) => {
		for (let i = 0; i < 3; i++) {
			const charge = tracer.startSpan("POST /charge", {
				kind: SpanKind.SERVER,
				startTime: now - (15 - i) * 60_000,
			});
			charge.end(now - (15 - i) * 60_000 + 80);
		}
	});
}

/** A key/value list's pairs, in order (the attribute lists of the span panel and the log detail). */
function pairs(list: Locator): Promise<Array<[string | null, string | null | undefined]>> {
	return list.evaluate((dl) =>
		[...dl.querySelectorAll("dt")].map((dt): [string | null, string | null | undefined] => [
			dt.textContent,
			dt.nextElementSibling?.textContent,
		]),
	);
}

async function sendLogs(): Promise<void> {
	const now = Date.now();
	const emit = async (
		service: string,
		host: string,
		records: Array<Parameters<ReturnType<LoggerProvider["getLogger"]>["emit"]>[0]>,
	) => {
		const memory = new InMemoryLogRecordExporter();
		const provider = new LoggerProvider({
			resource: resourceFromAttributes({ "service.name": service, "host.name": host }),
			processors: [new SimpleLogRecordProcessor({ exporter: memory })],
		});
		const logger = provider.getLogger("explorer-test");
		for (const record of records) logger.emit(record);
		await provider.forceFlush();
		await exported(
			new OTLPLogExporter({ url: `${server.url}/v1/logs`, headers: { "X-API-Key": key } }),
			memory.getFinishedLogRecords(),
		);
	};
	await emit("checkout", "web-1", [
		...Array.from({ length: 4 }, (_v, i) => ({
			severityNumber: SeverityNumber.INFO,
			body: `cart viewed by user ${i}`,
			timestamp: now - (30 - i) * 60_000,
		})),
		{
			severityNumber: SeverityNumber.ERROR,
			body: "payment declined: ECONNRESET talking to payments for order 42",
			attributes: { "order.id": 42 },
			timestamp: now - 10 * 60_000 + 100,
			context: {
				getValue: () => ({
					spanContext: () => ({ traceId: errorTraceId, spanId: "1111111111111111", traceFlags: 1 }),
				}),
			} as never,
		},
		// Its neighbours on the same service and host, for "Show context".
		{
			severityNumber: SeverityNumber.INFO,
			body: "charging card for order 42",
			timestamp: now - 10 * 60_000 - 20_000,
		},
		{
			severityNumber: SeverityNumber.WARN,
			body: "order 42 failed, customer notified",
			timestamp: now - 10 * 60_000 + 10_000,
		},
	]);
	await emit("payments", "web-2", [
		{ severityNumber: SeverityNumber.WARN, body: "retrying charge", timestamp: now - 14 * 60_000 },
		{ severityNumber: SeverityNumber.WARN, body: "retrying charge again", timestamp: now - 13 * 60_000 },
	]);
}

beforeAll(async () => {
	server = await startWebServer();
	const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
		fetch(`${server.url}${path}`, {
			method: "POST",
			headers: { "Content-Type": "application/json", ...headers },
			body: JSON.stringify(body),
		});
	expect((await post("/api/v1/setup", { org_name: "Initech", name: "Sam SRE", ...OWNER })).status).toBe(201);
	token = ((await (await post("/api/v1/auth/login", OWNER)).json()) as { access_token: string }).access_token;
	key = (
		(await (
			await post("/api/v1/api-keys", { name: "otel" }, { Authorization: `Bearer ${token}` })
		).json()) as { key: string }
	).key;
	await sendTraces();
	await sendLogs();
	const deploy = await post(
		"/api/v1/annotations",
		{ title: "Deploy checkout v2.14.1", time: Date.now() - 12 * 60_000, tags: ["deploy"] },
		{ "X-API-Key": key },
	);
	expect(deploy.status).toBe(201);
	browser = await launchBrowser();
	page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
	page.on("pageerror", (error) => pageErrors.push(error.message));
	await page.goto(`${server.url}/sign-in`);
	await page.getByLabel("Email").fill(OWNER.email);
	await page.getByLabel("Password").fill(OWNER.password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { name: "Overview" }).waitFor();
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

/** How many distinct colours the chart's canvas holds: a drawn chart has more than its background. */
function canvasColours(p: Page, chart: string): Promise<number> {
	return p
		.getByRole("figure", { name: chart })
		.locator("canvas")
		.evaluate((canvas: HTMLCanvasElement) => {
			const { data } = (canvas.getContext("2d") as CanvasRenderingContext2D).getImageData(
				0,
				0,
				canvas.width,
				canvas.height,
			);
			const colours = new Set<number>();
			for (let i = 0; i + 3 < data.length; i += 4 * 7) {
				colours.add(
					((data[i] ?? 0) << 24) |
						((data[i + 1] ?? 0) << 16) |
						((data[i + 2] ?? 0) << 8) |
						(data[i + 3] ?? 0),
				);
			}
			return colours.size;
		});
}

type Box = { x: number; y: number; width: number; height: number };

describe("the explorers in a real browser", () => {
	it("draws the overview per service with deploy markers and the summary", async () => {
		const rate = page.getByRole("figure", { name: "Request rate (per minute)" });
		await rate.getByText("checkout").waitFor();
		await rate.getByText("payments").waitFor();
		expect(await canvasColours(page, "Request rate (per minute)")).toBeGreaterThan(3);
		expect(await canvasColours(page, "p95 latency")).toBeGreaterThan(3);
		// checkout's few error-rate points (the 100 % spike among them) are drawn as filled dots in its
		// colour: hollow 5 px rings were easy to miss.
		// 271 pixels of it here, 79 with the rings.
		const dots = await pixelsOfColour(page.getByRole("figure", { name: "Error rate" }), [76, 110, 245]);
		expect(dots).toBeGreaterThan(150);
		// The error rate as its chart writes it: 1 of 11 server spans, "9.1%" (it said "9.1 %").
		expect(
			await page.locator(".stat", { hasText: "Span error rate" }).locator(".stat-value").textContent(),
		).toBe("9.1%");
		// Each figure opens what it counts, in the same range (only "Heartbeats down" was a link).
		const errorRate = page.getByRole("link", { name: /^Span error rate/ });
		expect(new URL((await errorRate.getAttribute("href")) ?? "", server.url).searchParams.get("status")).toBe(
			"error",
		);
		expect(await page.getByRole("link", { name: /^Error logs/ }).getAttribute("href")).toContain(
			"level=error%2Cfatal",
		);
		expect(await page.locator("a.stat").count()).toBe(5);
		// With spans and logs in range, no getting-started card.
		expect(await page.getByRole("region", { name: "Nothing received in this range" }).count()).toBe(0);
		// The y axis is wide enough for its widest value: the slowest span (400 ms) makes the top
		// tick "400 ms", which a fixed-width axis cut to "00 ms".
		const axis = await page
			.getByRole("figure", { name: "p95 latency" })
			.evaluate((figure: HTMLElement, font: string) => {
				const plot = figure.querySelector<HTMLElement>(".u-over");
				const measure = document.createElement("canvas").getContext("2d") as CanvasRenderingContext2D;
				measure.font = font;
				return { plotLeft: plot?.offsetLeft ?? 0, label: measure.measureText("400 ms").width };
			}, '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif');
		expect(axis.label).toBeGreaterThan(20);
		// ticks (10 px) + gap (5 px) + the label
		expect(axis.plotLeft).toBeGreaterThanOrEqual(axis.label + 15);
		// The legend reads as a legend: names as written (not a table's uppercase header cells on a
		// grey band) and one placeholder, "—", for every value while the pointer is away.
		const legend = await rate.locator(".u-legend").evaluate((table: HTMLElement) => {
			const header = table.querySelector("th") as HTMLElement;
			return {
				transform: getComputedStyle(header).textTransform,
				band: getComputedStyle(header).backgroundColor,
				values: [...table.querySelectorAll("td")].map((cell) => cell.textContent),
			};
		});
		expect(legend.transform).toBe("none");
		expect(legend.band).toBe("rgba(0, 0, 0, 0)");
		expect(new Set(legend.values)).toEqual(new Set(["—"]));
		// Pointing at the chart, the legend gives the time as the log rows do, "Dec 3 17:12" (it said
		// "2026-12-03 5:12pm" beside rows stamped "Dec 3 17:12:03").
		const plot = (await rate.locator(".u-over").boundingBox()) as {
			x: number;
			y: number;
			width: number;
			height: number;
		};
		await page.mouse.move(plot.x + plot.width / 2, plot.y + plot.height / 2);
		await expect
			.poll(() => rate.locator(".u-legend td").first().textContent())
			.toMatch(/^[A-Z][a-z]{2} \d{1,2} ([01]\d|2[0-3]):[0-5]\d$/);
		await page.mouse.move(0, 0);
		// Two charts a row, spaced alike across and down, and the third takes the whole last row (it
		// sat beside an empty half, as if a chart had failed to load).
		const box = async (name: string) => (await page.getByRole("region", { name }).boundingBox()) as Box;
		const [first, second, third] = [
			await box("Request rate (per minute)"),
			await box("Error rate"),
			await box("p95 latency"),
		];
		const across = second.x - (first.x + first.width);
		const down = third.y - (first.y + first.height);
		expect(Math.round(down)).toBe(Math.round(across));
		expect(Math.round(third.x)).toBe(Math.round(first.x));
		expect(Math.round(third.x + third.width)).toBe(Math.round(second.x + second.width));
		const marker = rate.getByRole("img", { name: "Annotation: Deploy checkout v2.14.1" });
		expect(await marker.getAttribute("title")).toBe("Deploy checkout v2.14.1");
		// Drawn in the text colour, which no series has (orange read as the payments series).
		expect(await marker.evaluate((flag) => getComputedStyle(flag, "::before").backgroundColor)).toBe(
			"rgb(27, 31, 36)",
		);
		const routes = page.getByRole("table", { name: "Busiest routes" });
		await routes.getByText("GET /api/cart").waitFor();
		// p95 written as everywhere else ("400 ms", as the trace says; was "400.0 ms").
		await routes.getByRole("cell", { name: "400 ms", exact: true }).waitFor();
		expect(await routes.getByRole("row").count()).toBe(4);
		await page
			.getByRole("list", { name: "Recent errors" })
			.getByText(/ECONNRESET/)
			.waitFor();
		await screenshot(page, "overview");
	});

	it("goes from a service with errors to its error logs, and searches them", async () => {
		await page
			.getByRole("table", { name: "Services with errors" })
			.getByRole("link", { name: "checkout" })
			.click();
		await page.getByRole("heading", { name: "Logs" }).waitFor();
		const url = new URL(page.url());
		expect([url.searchParams.get("service"), url.searchParams.get("level")]).toEqual([
			"checkout",
			"error,fatal",
		]);
		const records = page.getByRole("list", { name: "Log records" });
		await records.getByText(/ECONNRESET/).waitFor();
		expect(await records.getByRole("listitem").count()).toBe(1);
		// The filters the link set show in the facets (error of "error,fatal" pressed), each facet is
		// counted under the other filters (checkout's other levels are there to choose), and one button
		// clears them.
		const facetsOf = page.getByRole("complementary", { name: "Facets" });
		const errorLevel = facetsOf.getByRole("button", { name: /^error\s*\d/ });
		await expect.poll(() => errorLevel.getAttribute("aria-pressed")).toBe("true");
		expect(await facetsOf.getByRole("button", { name: /^info\s*\d/ }).getAttribute("aria-pressed")).toBe(
			"false",
		);
		expect(await facetsOf.getByRole("button", { name: /^checkout\s*\d/ }).getAttribute("aria-pressed")).toBe(
			"true",
		);
		await page.getByRole("button", { name: "Clear filters" }).click();
		await expect.poll(() => new URL(page.url()).search).toBe("");
		expect(await page.getByRole("button", { name: "Clear filters" }).count()).toBe(0);

		await page.goto(`${server.url}/logs`);
		// The page has loaded its records before the search is typed (a person sees them first).
		await records.getByRole("listitem").first().waitFor();
		await page.getByLabel("Search log bodies").fill("retrying");
		await page.getByRole("button", { name: "Search" }).click();
		await expect.poll(() => new URL(page.url()).searchParams.get("q")).toBe("retrying");
		await expect.poll(() => records.getByRole("listitem").count()).toBe(2);
		const facets = page.getByRole("complementary", { name: "Facets" });
		const warn = facets.getByRole("button", { name: /^warn/ });
		await warn.waitFor();
		// The facets are their own request: they may come after the records (3 warn lines before the
		// search, 2 after it).
		await expect.poll(() => warn.textContent()).toBe("warn2");
		const answer = (await (
			await fetch(`${server.url}/api/v1/pages/logs?q=retrying`, {
				headers: { Authorization: `Bearer ${token}` },
			})
		).json()) as { data: unknown[]; histogram: { buckets: { count: number }[] } };
		expect(answer.data).toHaveLength(2);
		expect(answer.histogram.buckets.reduce((n, b) => n + b.count, 0)).toBe(2);
		expect(await canvasColours(page, "Log volume by level")).toBeGreaterThan(2);
		// Counts get whole-number ticks: with at most one record a bucket, 0 and 1 (never "0.5").
		expect(Math.max(...answer.histogram.buckets.map((b) => b.count))).toBe(1);
		expect(await valueAxisTicks(page.getByRole("figure", { name: "Log volume by level" }))).toHaveLength(2);
		// A row reads on one line: the time, the level's label, the service and the body share a
		// baseline, and the level's badge is as wide as its word (it was stretched to its column).
		const row = records.getByRole("listitem").first();
		const [time, level, service, body] = await baselines(
			row.locator("time"),
			row.locator(".badge"),
			row.locator(".log-service"),
			row.locator(".log-body"),
		);
		expect(
			Math.max(...[level, service, body].map((line) => Math.abs((line as number) - (time as number)))),
		).toBeLessThanOrEqual(1);
		const slack = await row.locator(".badge").evaluate((badge: HTMLElement) => {
			const text = document.createRange();
			text.selectNodeContents(badge);
			const style = getComputedStyle(badge);
			const frame = ["paddingLeft", "paddingRight", "borderLeftWidth", "borderRightWidth"].reduce(
				(sum, side) => sum + Number.parseFloat(style[side as "paddingLeft"]),
				0,
			);
			return badge.getBoundingClientRect().width - text.getBoundingClientRect().width - frame;
		});
		expect(slack).toBeLessThan(1);
		await screenshot(page, "logs");
	});

	it("expands a record and follows its trace to the waterfall with the spans nested", async () => {
		await page.goto(`${server.url}/logs?q=econnreset`);
		const records = page.getByRole("list", { name: "Log records" });
		await records.getByRole("button", { name: /ECONNRESET/ }).click();
		await page.getByLabel("Attributes", { exact: true }).getByText("order.id").waitFor();
		await page.getByRole("link", { name: "View trace" }).click();
		await page.getByRole("heading", { name: "POST /api/orders" }).waitFor();
		expect(new URL(page.url()).pathname).toBe(`/traces/${errorTraceId}`);
		const spans = page.getByRole("list", { name: "Spans" }).getByRole("listitem");
		await expect.poll(() => spans.count()).toBe(3);
		expect(
			await spans.evaluateAll((items) => items.map((li) => [li.getAttribute("data-depth"), li.textContent])),
		).toEqual([
			["0", expect.stringContaining("POST /api/orders")],
			["1", expect.stringContaining("SELECT orders")],
			["2", expect.stringContaining("validate order")],
		]);
		expect(await spans.first().textContent()).toContain("error");
		// Each duration is beside its bar or wholly inside it, never over the bar's end (which made the
		// 400 ms root look shorter than its own 400 ms tick); the axis' last value is not cut off.
		const layout = await page.getByRole("list", { name: "Spans" }).evaluate((list: HTMLElement) => {
			const box = (e: Element | null) => (e as HTMLElement).getBoundingClientRect();
			const rows = [...list.querySelectorAll("li")].map((li) => {
				const bar = box(li.querySelector(".span-bar"));
				const label = box(li.querySelector(".span-duration"));
				if (label.right <= bar.left || label.left >= bar.right) return "beside";
				// Inside: drawn on the bar (no patch of background hiding part of it).
				const see = getComputedStyle(li.querySelector(".span-duration") as Element).backgroundColor;
				if (label.left >= bar.left && label.right <= bar.right && see === "rgba(0, 0, 0, 0)") return "inside";
				return "over its end";
			});
			const axis = list.parentElement?.querySelector(".waterfall-axis") as HTMLElement;
			const ticks = [...axis.querySelectorAll("span")].map((t) => t.textContent);
			const last = box(axis.lastElementChild);
			const track = box(list.querySelector(".span-track"));
			return {
				rows,
				ticks,
				lastFits: last.right <= box(axis.parentElement).right,
				aligned: Math.abs(box(axis).right - track.right) < 1,
			};
		});
		expect(layout.rows).toEqual(["inside", "beside", "beside"]);
		expect(layout.ticks).toEqual(["0 ms", "100 ms", "200 ms", "300 ms", "400 ms"]);
		expect(layout.lastFits).toBe(true);
		expect(layout.aligned).toBe(true);
		// When the trace started, as the log rows write a moment; then one error span: "1 error" (it
		// said "1 with errors", and no time at all).
		await expect(
			page
				.getByText(/^[0-9a-f]{32} · [A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2} · 400 ms · 3 spans · 1 error · /)
				.count(),
		).resolves.toBe(1);
		// One trace is its own time: no time range picker over it (the list of traces has one).
		expect(await page.getByRole("combobox", { name: "Time range", exact: true }).count()).toBe(0);
		await screenshot(page, "trace-waterfall");
		await page.getByRole("button", { name: "Collapse POST /api/orders" }).click();
		await expect.poll(() => spans.count()).toBe(1);
		await page.getByRole("button", { name: "Expand POST /api/orders" }).click();
		await expect.poll(() => spans.count()).toBe(3);
		await page.getByRole("button", { name: "checkout SELECT orders", exact: true }).click();
		const panel = page.getByRole("complementary", { name: "Span SELECT orders" });
		await panel.getByText("client").waitFor();
		// A span without attributes, events or logs says so under each heading, not "{}" or a bare
		// "Events (0)".
		await expect.poll(() => panel.getByText("None.", { exact: true }).count()).toBe(3);
		expect(await panel.getByRole("heading", { level: 3 }).allTextContents()).toEqual([
			"Attributes",
			"Events",
			"Logs",
			"Resource",
		]);
		expect(await panel.getByText("{}").count()).toBe(0);
		// The span id, in the code font, sits on its label's line (it sat 2 px above).
		const spanId = panel.getByText(/^[0-9a-f]{16}$/);
		const [label, id] = await baselines(panel.getByText("Span ID", { exact: true }), spanId);
		expect(id).toBe(label);
		// The panel's Close is at its top right, level with the span's name.
		const [heading, close] = await rowPlaces(
			panel.getByRole("heading", { name: "SELECT orders" }),
			panel.getByRole("button", { name: "Close" }),
		);
		expect(Math.abs((heading?.middle ?? 0) - (close?.middle ?? 0))).toBeLessThanOrEqual(2);
		const edges = await panel.evaluate((aside: HTMLElement) => {
			const button = [...aside.querySelectorAll("button")].find(
				(b) => b.textContent === "Close",
			) as HTMLElement;
			return { panel: aside.getBoundingClientRect(), close: button.getBoundingClientRect() };
		});
		expect(edges.panel.right - edges.close.right).toBeLessThan(30);
		expect(edges.close.top - edges.panel.top).toBeLessThan(30);
		expect(new URL(page.url()).searchParams.get("span")).toMatch(/^[0-9a-f]{16}$/);
		await page.getByLabel("Search spans").fill("validate");
		await page.getByText("1 matching").waitFor();
		// The count sits level with the search box (it sat at the box's bottom edge).
		const [box] = await rowPlaces(page.getByLabel("Search spans"));
		const countMiddle = await page.getByText("1 matching").evaluate((status) => {
			const range = document.createRange();
			range.selectNodeContents(status);
			const text = range.getBoundingClientRect();
			return text.top + text.height / 2;
		});
		expect(Math.abs((box?.middle ?? 0) - countMiddle)).toBeLessThanOrEqual(2);
		await screenshot(page, "trace-span-panel");
		// The waterfall is drawn from the trace's summary; the full trace follows for the panel's
		// attributes and the search through them.
		await page.getByRole("button", { name: "checkout POST /api/orders", exact: true }).click();
		const rootPanel = page.getByRole("complementary", { name: "Span POST /api/orders" });
		// Attributes and resource as keys and values (they were raw JSON text).
		await rootPanel.getByLabel("Attributes", { exact: true }).waitFor();
		expect(await pairs(rootPanel.getByLabel("Attributes", { exact: true }))).toContainEqual([
			"http.route",
			"/api/orders",
		]);
		expect(await pairs(rootPanel.getByLabel("Resource", { exact: true }))).toContainEqual([
			"service.name",
			"checkout",
		]);
		expect(await rootPanel.getByText("{").count()).toBe(0);
		await page.getByLabel("Search spans").fill("http.route");
		await expect(page.getByRole("status").filter({ hasText: "matching" }).textContent()).resolves.toBe(
			"1 matching",
		);
		// With the keyboard: Enter on a span takes the focus to its panel (it comes after every row in
		// Tab order); Escape closes it and gives the focus back to the span's row.
		const selectRow = page.getByRole("button", { name: "checkout SELECT orders", exact: true });
		await selectRow.focus();
		await page.keyboard.press("Enter");
		const selectPanel = page.getByRole("complementary", { name: "Span SELECT orders" });
		await expect
			.poll(() =>
				selectPanel
					.getByRole("heading", { name: "SELECT orders" })
					.evaluate((el) => el === document.activeElement),
			)
			.toBe(true);
		await page.keyboard.press("Escape");
		await selectPanel.waitFor({ state: "detached" });
		await expect.poll(() => selectRow.evaluate((el) => el === document.activeElement)).toBe(true);
	});

	it("shows a record's context: the lines around it from the same service and host", async () => {
		await page.goto(`${server.url}/logs?q=econnreset`);
		await page
			.getByRole("list", { name: "Log records" })
			.getByRole("button", { name: /ECONNRESET/ })
			.click();
		// The record's attributes and resource as keys and values; a number as its text.
		expect(await pairs(page.getByLabel("Attributes", { exact: true }))).toEqual([["order.id", "42"]]);
		expect(await pairs(page.getByLabel("Resource", { exact: true }))).toEqual([
			["host.name", "web-1"],
			["service.name", "checkout"],
		]);
		await page.getByRole("button", { name: "Show context" }).click();
		const context = page.getByRole("list", { name: "Context" });
		await context.getByText("charging card for order 42").waitFor();
		const lines = await context.getByRole("listitem").allTextContents();
		expect(lines.map((l) => l.replace(/^.*?(info|warn|error)/, "$1"))).toEqual([
			"warn order 42 failed, customer notified",
			expect.stringContaining("ECONNRESET"),
			"info charging card for order 42",
		]);
		expect(await context.locator("[aria-current=true]").textContent()).toContain("ECONNRESET");
	});

	it("live tail shows new records as they arrive, and stops when paused", async () => {
		await page.goto(`${server.url}/logs?service=tailer`);
		await page.getByText("No logs match in this range.").waitFor();
		const send = (body: string) =>
			fetch(`${server.url}/v1/logs`, {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: JSON.stringify({
					resourceLogs: [
						{
							resource: { attributes: [{ key: "service.name", value: { stringValue: "tailer" } }] },
							scopeLogs: [
								{
									logRecords: [
										{
											timeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
											severityNumber: 9,
											body: { stringValue: body },
										},
									],
								},
							],
						},
					],
				}),
			});
		await page.getByRole("button", { name: "Live tail" }).click();
		expect(await page.getByRole("button", { name: "Pause live tail" }).getAttribute("aria-pressed")).toBe(
			"true",
		);
		expect((await send("tail line one")).status).toBe(200);
		const records = page.getByRole("list", { name: "Log records" });
		await records.getByText("tail line one").waitFor({ timeout: 15_000 });
		await page.getByRole("button", { name: "Pause live tail" }).click();
		expect((await send("tail line two")).status).toBe(200);
		await new Promise((resolve) => setTimeout(resolve, 5_000));
		expect(await records.getByText("tail line two").count()).toBe(0);
		expect(await records.getByRole("listitem").count()).toBe(1);
	});

	it("filters traces by status in the URL", async () => {
		await page.goto(`${server.url}/traces`);
		const table = page.getByRole("table", { name: "Traces" });
		await table.getByRole("link", { name: "POST /api/orders" }).waitFor();
		expect(await table.getByRole("row").count()).toBe(1 + 1 + 5 + 3);
		await page.getByLabel("Status").selectOption("error");
		await page.getByRole("button", { name: "Apply filters" }).click();
		await expect.poll(() => table.getByRole("row").count()).toBe(2);
		expect(new URL(page.url()).searchParams.get("status")).toBe("error");
		// The empty service filter's placeholder is not a service name (it read "checkout", as if set).
		expect(await page.getByLabel("Service").getAttribute("placeholder")).toBe("Any service");
		expect(await page.getByRole("combobox", { name: "Time range", exact: true }).count()).toBe(1);
		await screenshot(page, "traces");
	});

	it("lists hosts, sorts them, and opens one", async () => {
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Hosts" }).click();
		const table = page.getByRole("table", { name: "Hosts" });
		await table.getByRole("link", { name: "web-1" }).waitFor();
		await page.getByRole("button", { name: "Logs" }).click();
		await expect
			.poll(async () => (await table.getByRole("link").allTextContents()).join())
			.toBe("web-1,web-2");
		await page.getByRole("button", { name: /Logs/ }).click();
		await expect
			.poll(async () => (await table.getByRole("link").allTextContents()).join())
			.toBe("web-2,web-1");
		expect(new URL(page.url()).searchParams.get("order")).toBe("asc");
		await table.getByRole("link", { name: "web-1" }).click();
		await page.getByRole("heading", { name: "web-1" }).waitFor();
		await page
			.getByRole("list", { name: "Recent errors" })
			.getByText(/ECONNRESET/)
			.waitFor();
		// The charts' series are named for what they count (both said "count"); the charts may draw
		// after the errors list (under load they did: a count taken at once found none).
		for (const name of ["Logs", "Spans"])
			await expect
				.poll(() =>
					page
						.getByRole("figure", { name: `${name} over time` })
						.locator(".u-legend")
						.getByText(name, { exact: true })
						.count(),
				)
				.toBe(1);
		// Its recent errors read as the overview's: the service links to its logs on this host, within
		// the range, and the log's trace is a link (the service was plain text, with no trace link).
		const errorLine = page.getByRole("list", { name: "Recent errors" }).getByRole("listitem").first();
		const serviceLink = new URL(
			(await errorLine.getByRole("link", { name: "checkout" }).getAttribute("href")) ?? "",
			server.url,
		);
		expect(serviceLink.pathname).toBe("/logs");
		expect(Object.fromEntries(serviceLink.searchParams)).toMatchObject({
			service: "checkout",
			host: "web-1",
		});
		expect(await errorLine.getByRole("link", { name: "trace" }).getAttribute("href")).toBe(
			`/traces/${errorTraceId}`,
		);
		await screenshot(page, "host-detail");
	});

	it("draws a 1,000-span trace by the rows in view, and scrolls to its last span", async () => {
		const traceId = "0000000000000000000000000000b1c0";
		const start = BigInt(Date.now() - 5 * 60_000) * 1_000_000n;
		const spanId = (i: number) => (i + 1).toString(16).padStart(16, "0");
		const spans = Array.from({ length: 1000 }, (_v, i) => ({
			traceId,
			spanId: spanId(i),
			...(i > 0 && { parentSpanId: spanId(0) }),
			name: i === 0 ? "bulk root" : `bulk step ${i}`,
			kind: 1,
			startTimeUnixNano: String(start + BigInt(i) * 1_000_000n),
			endTimeUnixNano: String(start + BigInt(i) * 1_000_000n + 500_000n + (i === 0 ? 1_000_000_000n : 0n)),
		}));
		const sent = await fetch(`${server.url}/v1/traces`, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify({
				resourceSpans: [
					{
						resource: { attributes: [{ key: "service.name", value: { stringValue: "bulk" } }] },
						scopeSpans: [{ spans }],
					},
				],
			}),
		});
		expect(sent.status).toBe(200);
		await page.goto(`${server.url}/traces/${traceId}`);
		const list = page.getByRole("list", { name: "Spans" });
		await list.getByText("bulk root").waitFor();
		expect(await list.getAttribute("data-total")).toBe("1000");
		// Only the rows in view (and some around them) are in the page, not a thousand.
		const rendered = await list.getByRole("listitem").count();
		expect(rendered).toBeGreaterThan(10);
		expect(rendered).toBeLessThan(200);
		await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
		await list.getByRole("button", { name: "bulk bulk step 999", exact: true }).waitFor();
		expect(await list.getByText("bulk root").count()).toBe(0);
		expect(await list.getByRole("listitem").count()).toBeLessThan(200);
	});

	it("reads a chart with the keyboard: values and annotations point by point, a span selected and zoomed to", async () => {
		await page.goto(`${server.url}/?range=1h`);
		const region = page.getByRole("region", { name: "Request rate (per minute)" });
		const rate = region.getByRole("figure", { name: "Request rate (per minute)" });
		await rate.getByText("checkout").waitFor();
		// The deploy markers arrive on their own (the chart is drawn again with them): wait for them.
		await rate.getByRole("img", { name: "Annotation: Deploy checkout v2.14.1" }).waitFor();
		// As a person would: Tab until the chart has the focus (it is a tab stop, after the summary).
		const focusedIs = () => rate.evaluate((figure) => figure === document.activeElement);
		for (let i = 0; i < 40 && !(await focusedIs()); i++) await page.keyboard.press("Tab");
		expect(await focusedIs()).toBe(true);
		expect(await rate.getAttribute("aria-describedby")).toBeTruthy();
		const readout = region.locator("[aria-live=polite]");
		expect(await readout.textContent()).toBe("");
		// End: the last point; the legend and the line under the chart say its moment and values.
		await page.keyboard.press("End");
		await expect.poll(() => readout.textContent()).toMatch(/^[A-Z][a-z]{2} \d{1,2} \d\d:\d\d: checkout /);
		const lastText = (await readout.textContent()) as string;
		expect(lastText).toContain("payments");
		expect(await rate.locator(".u-legend td").first().textContent()).not.toBe("—");
		// Home, then right until the deploy's bucket: the annotation is read out there.
		await page.keyboard.press("Home");
		expect(await readout.textContent()).not.toBe(lastText);
		let said = "";
		for (let i = 0; i < 90 && !said.includes("Annotation"); i++) {
			await page.keyboard.press("ArrowRight");
			said = (await readout.textContent()) ?? "";
		}
		expect(said).toContain("Annotation: Deploy checkout v2.14.1");
		// Shift with the arrows selects three buckets.
		for (let i = 0; i < 3; i++) await page.keyboard.press("Shift+ArrowLeft");
		await expect.poll(() => readout.textContent()).toMatch(/^Selected .+ to .+, Enter zooms to it\. /);
		// Escape lets go: nothing is read out, no selection stays.
		await page.keyboard.press("Escape");
		expect(await readout.textContent()).toBe("");
		expect(await rate.locator(".u-select").evaluate((s: HTMLElement) => s.offsetWidth)).toBe(0);
		// Back to the deploy (End, then left), the same three buckets, and Enter zooms the overview to them.
		await page.keyboard.press("End");
		said = "";
		for (let i = 0; i < 90 && !said.includes("Annotation"); i++) {
			await page.keyboard.press("ArrowLeft");
			said = (await readout.textContent()) ?? "";
		}
		for (let i = 0; i < 3; i++) await page.keyboard.press("Shift+ArrowLeft");
		await page.keyboard.press("Enter");
		await expect.poll(() => new URL(page.url()).searchParams.get("from")).not.toBeNull();
		const zoomed = new URL(page.url()).searchParams;
		const minutes =
			(Date.parse(zoomed.get("to") as string) - Date.parse(zoomed.get("from") as string)) / 60_000;
		expect(minutes).toBe(4); // three steps back from a bucket: four one-minute buckets
		expect(Date.parse(zoomed.get("from") as string)).toBeLessThanOrEqual(Date.now() - 12 * 60_000);
		// The overview draws its charts again for the new range, in the same place: the focus stays on the
		// chart zoomed.
		await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBeNull();
		expect(await focusedIs()).toBe(true);
	});

	it("passes an accessibility audit (axe) on every explorer page, light and dark", async () => {
		const pages: Array<[string, () => Locator]> = [
			["/", () => page.getByRole("list", { name: "Recent errors" })],
			["/logs?level=error", () => page.getByRole("list", { name: "Log records" }).getByRole("listitem")],
			["/hosts", () => page.getByRole("table", { name: "Hosts" }).getByRole("link")],
			["/hosts/web-1", () => page.getByRole("list", { name: "Recent errors" })],
			["/traces", () => page.getByRole("table", { name: "Traces" }).getByRole("link")],
		];
		const found: string[] = [];
		for (const [path, ready] of pages) {
			await page.goto(`${server.url}${path}`);
			await ready().first().waitFor();
			found.push(...(await accessibilityInBothThemes(page, path)));
		}
		// A trace with a span open: the waterfall and the span panel.
		await page.goto(`${server.url}/traces/${errorTraceId}`);
		await page.getByRole("button", { name: "checkout SELECT orders", exact: true }).click();
		await page.getByRole("complementary", { name: "Span SELECT orders" }).getByText("client").waitFor();
		found.push(...(await accessibilityInBothThemes(page, "a trace")));
		// The query page with a chart drawn.
		await page.goto(
			`${server.url}/query?q=${encodeURIComponent("SELECT count(*) FROM logs GROUP BY service TIMESERIES 5m")}`,
		);
		await page.getByRole("figure", { name: "Query result" }).locator(".u-legend").waitFor();
		found.push(...(await accessibilityInBothThemes(page, "/query")));
		expect(found).toEqual([]);
	});

	it("raised no uncaught error in any page", () => {
		expect(pageErrors).toEqual([]);
	});
});
