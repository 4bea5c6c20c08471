import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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
