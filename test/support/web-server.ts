import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { generateSigningKey } from "../../src/auth/jwt.js";
import { type RunningServer, startNodeServer } from "../../src/runtime/node.js";
import { accessibilityViolations } from "./browser.js";

export interface WebServer extends RunningServer {
	/** The temporary folder holding the database (`web.db`). */
	dataDir: string;
	stop(): Promise<void>;
}

/** The real Node server (the UI's build and the API) on a temporary database, for the browser tests. */
export async function startWebServer(settings: Record<string, string> = {}): Promise<WebServer> {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-web-"));
	const server = await startNodeServer({
		PORT: "0",
		HOST: "127.0.0.1",
		OTLP_GRPC_PORT: "0",
		DATABASE_URL: `file:${join(dir, "web.db")}`,
		JWT_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey()] }),
		TOTP_ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
		...settings,
	});
	return {
		...server,
		dataDir: dir,
		async stop() {
			await server.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

const SCREENSHOTS = fileURLToPath(new URL("../../artifacts/screenshots", import.meta.url));
const DOCS_SCREENSHOTS = fileURLToPath(new URL("../../docs/ui", import.meta.url));

/**
 * Saves a full-page screenshot under artifacts/screenshots/ (for a person to look at after a run);
 * with UPDATE_SCREENSHOTS=1 also under docs/ui/, the pictures docs/ui.md and the README show.
 * Every view photographed is also audited first (axe-core, in the theme it is shown in): it throws
 * with the findings when the view fails the audit.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
	const problems = await accessibilityViolations(page);
	if (problems.length > 0)
		throw new Error(`the view ${name} fails the accessibility audit:\n${problems.join("\n")}`);
	mkdirSync(SCREENSHOTS, { recursive: true });
	await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
	if (process.env.UPDATE_SCREENSHOTS === "1") {
		mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
		await page.screenshot({ path: join(DOCS_SCREENSHOTS, `${name}.png`), fullPage: true });
	}
}

/** First-run setup of `server` (the org and its owner), then the owner's login: their access token. */
export async function setUpOwner(
	server: WebServer,
	owner: { org_name: string; name: string; email: string; password: string },
): Promise<string> {
	const setup = await fetch(`${server.url}/api/v1/setup`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify(owner),
	});
	if (setup.status !== 201) throw new Error(`setup answered ${setup.status}: ${await setup.text()}`);
	const login = await fetch(`${server.url}/api/v1/auth/login`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ email: owner.email, password: owner.password }),
	});
	if (login.status !== 200) throw new Error(`login answered ${login.status}: ${await login.text()}`);
	return ((await login.json()) as { access_token: string }).access_token;
}
