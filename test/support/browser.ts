import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";

/** Debian's Chromium when installed, else the one inside the @sparticuz/chromium npm package. */
const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/**
 * A real headless Chromium. The flags keep it off the network this machine does not have
 * (background services, component updates) and give it a fresh profile each launch.
 */
export async function launchBrowser(): Promise<Browser> {
	const args = [
		"--no-sandbox",
		"--disable-gpu",
		"--disable-dev-shm-usage",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--no-first-run",
		"--disable-quic",
		// With LANG=C the browser reports navigator.language "en-US@posix", which Intl rejects.
		"--lang=en-US",
	];
	const env = { ...process.env, LANG: "en_US.UTF-8" };
	if (existsSync(DEBIAN_CHROMIUM)) {
		return chromium.launch({ executablePath: DEBIAN_CHROMIUM, headless: true, args, env });
	}
	const { default: sparticuz } = await import("@sparticuz/chromium");
	return chromium.launch({ executablePath: await sparticuz.executablePath(), headless: true, args, env });
}

/**
 * Collects what a page must never do: an uncaught error (`pageErrors`) and a Content-Security-Policy
 * refusal, by directive (`cspViolations`). Call before the page's first navigation.
 */
export async function watchPageProblems(
	page: Page,
	into: { pageErrors: string[]; cspViolations: string[] },
): Promise<void> {
	// A string: tsx would wrap a function in a helper the page lacks.
	await page.addInitScript(
		'document.addEventListener("securitypolicyviolation", (e) => console.log("csp-violation " + e.effectiveDirective))',
	);
	page.on("pageerror", (error) => into.pageErrors.push(error.message));
	page.on("console", (message) => {
		const [tag, directive] = message.text().split(" ");
		if (tag === "csp-violation" && directive) into.cspViolations.push(directive);
	});
}

/**
 * Where controls a person sees side by side in one row are (CSS px): their top edges and vertical
 * middles. Fields in a row line up by their inputs (a hint under one must not shift it against its
 * neighbours); a button beside them is centred on them.
 */
export async function rowPlaces(...controls: Locator[]): Promise<Array<{ top: number; middle: number }>> {
	const places: Array<{ top: number; middle: number }> = [];
	for (const control of controls) {
		const box = await control.boundingBox();
		if (!box) throw new Error("the control is not visible");
		places.push({ top: Math.round(box.y), middle: Math.round(box.y + box.height / 2) });
	}
	return places;
}

/**
 * The baseline of each element's first line of text, in CSS px from the page's top: a zero-height
 * inline-block put first in the element sits on that baseline.
 */
export async function baselines(...elements: Locator[]): Promise<number[]> {
	const lines: number[] = [];
	for (const element of elements)
		lines.push(
			await element.evaluate((node: HTMLElement) => {
				const probe = document.createElement("span");
				probe.style.cssText = "display:inline-block;width:0;height:0;vertical-align:baseline";
				node.insertBefore(probe, node.firstChild);
				const line = probe.getBoundingClientRect().bottom;
				probe.remove();
				return Math.round(line);
			}),
		);
	return lines;
}

/**
 * A chart's value-axis tick marks, read from its canvas (the column just left of the plot, where
 * only they are drawn): each one's distance below the plot's top edge, top to bottom, in CSS px.
 */
export function valueAxisTicks(figure: Locator): Promise<number[]> {
	return figure.evaluate((element: HTMLElement) => {
		const plot = element.querySelector<HTMLElement>(".u-over") as HTMLElement;
		const canvas = element.querySelector("canvas") as HTMLCanvasElement;
		const ratio = canvas.width / canvas.clientWidth;
		const x = Math.round((plot.offsetLeft - 4) * ratio);
		const from = Math.round((plot.offsetTop - 2) * ratio);
		const to = Math.round((plot.offsetTop + plot.offsetHeight + 2) * ratio);
		const { data } = (canvas.getContext("2d") as CanvasRenderingContext2D).getImageData(
			x,
			from,
			1,
			to - from,
		);
		const ticks: number[] = [];
		let last = -10;
		for (let y = 0; y < to - from; y++) {
			if ((data[y * 4 + 3] as number) === 0) continue;
			if (y - last > 2) ticks.push((from + y) / ratio - plot.offsetTop);
			last = y;
		}
		return ticks;
	});
}

/** How many pixels of a chart's canvas (inside `within`) are close to the colour `rgb`. */
export function pixelsOfColour(within: Locator, rgb: [number, number, number]): Promise<number> {
	return within
		.locator("canvas")
		.first()
		.evaluate((canvas: HTMLCanvasElement, colour: [number, number, number]) => {
			const ctx = canvas.getContext("2d");
			if (!ctx) return -1;
			const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
			let n = 0;
			for (let i = 0; i < data.length; i += 4) {
				const d =
					Math.abs((data[i] as number) - colour[0]) +
					Math.abs((data[i + 1] as number) - colour[1]) +
					Math.abs((data[i + 2] as number) - colour[2]);
				if ((data[i + 3] as number) > 128 && d < 60) n++;
			}
			return n;
		}, rgb);
}

let axeSource: string | undefined;

/**
 * What axe-core (Deque's accessibility rules: names, roles, contrast, landmarks…) finds wrong in the
 * page as it stands, one line per rule and element: "color-contrast: .inside — Element has
 * insufficient color contrast…". Empty when it passes. Run through the DevTools protocol, so the
 * page's CSP (no inline scripts) does not stop it.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
	axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
	await page.evaluate(axeSource);
	return page.evaluate(async () => {
		type Violation = { id: string; nodes: Array<{ target: unknown[]; failureSummary?: string }> };
		const axe = (
			window as unknown as {
				axe: { run(context: Document, options: object): Promise<{ violations: Violation[] }> };
			}
		).axe;
		const { violations } = await axe.run(document, { resultTypes: ["violations"] });
		return violations.flatMap((v) =>
			v.nodes.map(
				(node) =>
					`${v.id}: ${node.target.join(" ")} — ${(node.failureSummary ?? "").split("\n").slice(1, 2).join("").trim()}`,
			),
		);
	});
}

/**
 * accessibilityViolations in the light theme and then the dark one (the page as it stands, redrawn
 * for each), each line prefixed with the theme and `where`; the page is left in the light theme.
 */
export async function accessibilityInBothThemes(page: Page, where: string): Promise<string[]> {
	const found: string[] = [];
	for (const theme of ["light", "dark"] as const) {
		await page.emulateMedia({ colorScheme: theme });
		for (const problem of await accessibilityViolations(page)) found.push(`${theme} ${where}: ${problem}`);
	}
	await page.emulateMedia({ colorScheme: "light" });
	return found;
}

/**
 * A new page of `context` at `url`, watched for page errors and CSP refusals, signed in as `owner`
 * when the app asks (the first page of a context; later ones share its session).
 */
export async function openSignedIn(
	context: BrowserContext,
	url: string,
	owner: { email: string; password: string },
	problems: { pageErrors: string[]; cspViolations: string[] },
): Promise<Page> {
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	await watchPageProblems(page, problems);
	await page.goto(url);
	const signIn = page.getByRole("heading", { name: "Sign in" });
	const main = page.getByRole("navigation", { name: "Main" });
	await Promise.race([signIn.waitFor(), main.waitFor()]);
	if (await signIn.isVisible()) {
		await page.getByLabel("Email").fill(owner.email);
		await page.getByLabel("Password").fill(owner.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await main.waitFor();
	}
	return page;
}
