/**
 * `npm run bench:web`: the web UI's weight and its time to an interactive sign-in form, measured on
 * a fresh build in one run. Figures are reported, never asserted (exit 0 whether goals are met).
 *
 * - JS shipped, gzip -9 (what the Node server sends): the sign-in page's scripts (the entry chunk and
 *   its static imports, from Vite's manifest) and the whole app (every chunk). Goals: ≤ 60 KB, ≤ 150 KB.
 * - Time to an interactive sign-in form on the local Node server, in headless Chromium, cold cache
 *   (a new browser context each run): from navigation start until the "Sign in" button is in the
 *   page, rendered by the app (its handlers are attached at render). Goal: p50 ≤ 300 ms.
 *
 * - The explorers over a big org (bench/web-explorers.ts): logs first results, a 5,000-span waterfall
 *   and a dashboard of 8 panels.
 *
 * Env: BENCH_WEB_RUNS (timed page loads, 15), BENCH_WEB_ROWS (logs and spans seeded, 1,000,000; 0 skips
 * the explorer part).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildWeb } from "../scripts/web-build.js";
import { WEB_DIST_DIR } from "../src/runtime/web-assets.js";
import { launchBrowser } from "../test/support/browser.js";
import { startWebServer } from "../test/support/web-server.js";
import { percentile } from "./proc.js";
import { benchExplorers } from "./web-explorers.js";

const RUNS = Number(process.env.BENCH_WEB_RUNS ?? 15);
const KB = 1000;

interface ManifestChunk {
	file: string;
	imports?: string[];
	css?: string[];
	isEntry?: boolean;
}

function gzipBytes(file: string): number {
	return gzipSync(readFileSync(join(WEB_DIST_DIR, file)), { level: 9 }).length;
}

/** The entry chunk plus everything it imports statically: what the sign-in page loads. */
function signInFiles(manifest: Record<string, ManifestChunk>): { js: string[]; css: string[] } {
	const entryKey = Object.keys(manifest).find((key) => manifest[key]?.isEntry) as string;
	const js = new Set<string>();
	const css = new Set<string>();
	const visit = (key: string) => {
		const chunk = manifest[key] as ManifestChunk;
		if (js.has(chunk.file)) return;
		js.add(chunk.file);
		for (const c of chunk.css ?? []) css.add(c);
		for (const imported of chunk.imports ?? []) visit(imported);
	};
	visit(entryKey);
	return { js: [...js], css: [...css] };
}

/** Notes performance.now() when the app has rendered the sign-in form's submit button. */
const MARK_SIGN_IN_READY = `
new MutationObserver((_mutations, observer) => {
	for (const button of document.querySelectorAll("button")) {
		if (button.textContent === "Sign in") {
			window.signInReadyAt = performance.now();
			observer.disconnect();
			return;
		}
	}
}).observe(document, { childList: true, subtree: true });
`;

async function timeToInteractiveSignIn(): Promise<number[]> {
	const server = await startWebServer({ LOG_LEVEL: "warn" });
	const browser = await launchBrowser();
	const times: number[] = [];
	try {
		for (let run = 0; run < RUNS + 1; run++) {
			const context = await browser.newContext();
			const page = await context.newPage();
			// A string, not a function: tsx would wrap a named function in a helper the page lacks.
			await page.addInitScript(MARK_SIGN_IN_READY);
			await page.goto(`${server.url}/sign-in`);
			await page.getByRole("button", { name: "Sign in" }).waitFor();
			const readyAt = await page.evaluate(
				() => (window as unknown as { signInReadyAt: number }).signInReadyAt,
			);
			// The first load warms the server and Chromium's process, not the page: not counted.
			if (typeof readyAt !== "number") throw new Error(`no sign-in form seen (${String(readyAt)})`);
			if (run > 0) times.push(readyAt);
			await context.close();
		}
	} finally {
		await browser.close();
		await server.stop();
	}
	return times.sort((a, b) => a - b);
}

await buildWeb({ quiet: true });
const manifest = JSON.parse(readFileSync(join(WEB_DIST_DIR, ".vite", "manifest.json"), "utf8")) as Record<
	string,
	ManifestChunk
>;
const signIn = signInFiles(manifest);
const allJs = readdirSync(join(WEB_DIST_DIR, "assets"))
	.filter((f) => f.endsWith(".js"))
	.map((f) => `assets/${f}`);
const allCss = readdirSync(join(WEB_DIST_DIR, "assets"))
	.filter((f) => f.endsWith(".css"))
	.map((f) => `assets/${f}`);
const sum = (files: string[]) => files.reduce((total, f) => total + gzipBytes(f), 0);
const signInJs = sum(signIn.js);
const appJs = sum(allJs);
const times = await timeToInteractiveSignIn();
const p50 = percentile(times, 50);

const rows: Array<[string, string, string, string]> = [
	[
		"sign-in page JS (gzip)",
		`${(signInJs / KB).toFixed(1)} KB`,
		"≤ 60 KB",
		signInJs <= 60 * KB ? "met" : "NOT met",
	],
	["whole app JS (gzip)", `${(appJs / KB).toFixed(1)} KB`, "≤ 150 KB", appJs <= 150 * KB ? "met" : "NOT met"],
	["CSS (gzip)", `${(sum(allCss) / KB).toFixed(1)} KB`, "", ""],
	["chunks (sign-in / all)", `${signIn.js.length} / ${allJs.length}`, "", ""],
	[
		`sign-in interactive, p50 of ${times.length}`,
		`${p50.toFixed(0)} ms`,
		"≤ 300 ms",
		p50 <= 300 ? "met" : "NOT met",
	],
	["sign-in interactive, max", `${(times.at(-1) as number).toFixed(0)} ms`, "", ""],
];
const explorers = process.env.BENCH_WEB_ROWS === "0" ? null : await benchExplorers();
if (explorers) {
	const rowsText = explorers.rows.toLocaleString();
	const figure = (label: string, part: { times: number[]; api: number[] }, goal: number) => {
		const p50 = percentile(part.times, 50);
		rows.push(
			[`${label}, p50`, `${p50.toFixed(0)} ms`, `≤ ${goal} ms`, p50 <= goal ? "met" : "NOT met"],
			[`${label}, max`, `${(part.times.at(-1) as number).toFixed(0)} ms`, "", ""],
			[`… of which the API request, p50`, `${percentile(part.api, 50).toFixed(0)} ms`, "", ""],
		);
	};
	figure(`logs explorer first results (${rowsText} logs + spans)`, explorers.logsFirstResults, 500);
	figure("waterfall of a 5,000-span trace on screen", explorers.waterfall5000, 300);
	figure("dashboard of 8 panels complete, 1 h range", explorers.dashboard8, 1000);
}
console.log("\nWeb UI (dist/web, Chromium headless, local Node server, cold cache per load)\n");
console.log("| measure | value | goal | |\n|---|---|---|---|");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
