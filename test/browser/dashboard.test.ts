/**
 * The dashboard as a person uses it, in a real headless Chromium against the real Node server:
 * controls are found by their label and role, never by CSS selector, and every step asserts what
 * the person sees. One story, in order: setup → 2FA → sign-in with a code and a recovery code →
 * API keys used from Node → an invited viewer → monitors after real pings.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCodeAt } from "../../src/auth/totp.js";
import { accessibilityInBothThemes, baselines, launchBrowser, rowPlaces } from "../support/browser.js";
import { screenshot, startWebServer, type WebServer } from "../support/web-server.js";

const OWNER = {
	org: "Acme",
	name: "Ada Lovelace",
	email: "ada@example.com",
	password: "plum-tractor-ocean-41",
};

let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

async function newPage(ctx: BrowserContext): Promise<Page> {
	const p = await ctx.newPage();
	p.on("pageerror", (error) => pageErrors.push(error.message));
	return p;
}

/** A webhook receiver on loopback (the server is started with private targets allowed). */
const receiver = { url: "", received: [] as string[], server: null as Server | null };

beforeAll(async () => {
	receiver.server = createServer((request, response) => {
		let body = "";
		request.on("data", (chunk) => {
			body += chunk;
		});
		request.on("end", () => {
			receiver.received.push(body);
			response.writeHead(204).end();
		});
	});
	await new Promise<void>((resolve) => receiver.server?.listen(0, "127.0.0.1", resolve));
	receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
	server = await startWebServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" });
	browser = await launchBrowser();
	context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	page = await newPage(context);
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
	receiver.server?.close();
});

async function signIn(p: Page, email: string, password: string): Promise<void> {
	await p.getByLabel("Email").fill(email);
	await p.getByLabel("Password").fill(password);
	await p.getByRole("button", { name: "Sign in" }).click();
}

async function signOut(p: Page): Promise<void> {
	await p.getByRole("button", { name: "Sign out" }).click();
	await expect.poll(() => new URL(p.url()).pathname).toBe("/sign-in");
	await p.getByRole("heading", { name: "Sign in" }).waitFor();
}

/** A key for the pings, made over the API with the owner's session (the UI part is tested below). */
async function apiKeyViaApi(): Promise<string> {
	const login = await fetch(`${server.url}/api/v1/auth/login`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		// Two-factor authentication is off again by the time this runs (turned off in the UI).
		body: JSON.stringify({ email: OWNER.email, password: OWNER.password }),
	});
	expect(login.status).toBe(200);
	const { access_token } = (await login.json()) as { access_token: string };
	const created = await fetch(`${server.url}/api/v1/api-keys`, {
		method: "POST",
		headers: { Authorization: `Bearer ${access_token}`, "Content-Type": "application/json" },
		body: JSON.stringify({ name: "cron" }),
	});
	expect(created.status).toBe(201);
	return ((await created.json()) as { key: string }).key;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let totpSecret = "";
let recoveryCodes: string[] = [];

describe("the dashboard in a real browser", () => {
	it("sends a first visitor to first-run setup and signs the new owner in", async () => {
		await page.goto(`${server.url}/`);
		await page.getByRole("heading", { name: "Set up Hexcovery" }).waitFor();
		expect(new URL(page.url()).pathname).toBe("/setup");
		await screenshot(page, "setup");
		await page.getByLabel("Organization name").fill(OWNER.org);
		await page.getByLabel("Your name").fill(OWNER.name);
		await page.getByLabel("Email").fill(OWNER.email);
		await page.getByLabel("Password").fill(OWNER.password);
		await page.getByRole("button", { name: "Create organization" }).click();
		await page.getByRole("heading", { name: "Overview" }).waitFor();
		const header = page.getByRole("banner");
		await expect.poll(() => header.textContent()).toContain(OWNER.org);
		expect(await header.textContent()).toContain(OWNER.name);
		expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents()).toEqual([
			"Overview",
			"Hosts",
			"Logs",
			"Traces",
			"Query",
			"Dashboards",
			"Monitors",
			"Settings",
		]);
		// A new organization's overview says how to send telemetry here, with this server's address.
		const start = page.getByRole("region", { name: "Nothing received in this range" });
		await start.waitFor();
		expect(await start.locator("code").textContent()).toContain(
			`OTEL_EXPORTER_OTLP_ENDPOINT=${server.url}\n`,
		);
		// The service's name is the person's to fill in (a copied "checkout" named every service that).
		expect(await start.locator("code").textContent()).toContain("OTEL_SERVICE_NAME=<your service's name>");
		expect(await start.getByRole("link", { name: "Settings → API keys" }).getAttribute("href")).toBe(
			"/settings/api-keys",
		);
		// The settings can be copied as they are shown, like every command on the pages.
		await start.getByRole("button", { name: "Copy settings" }).waitFor();
		await screenshot(page, "overview-shell");
	});

	it("keeps the time range in the URL, so a link reproduces the view", async () => {
		await page.getByLabel("Time range").selectOption("24h");
		await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("24h");
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Logs" }).click();
		await page.getByRole("heading", { name: "Logs" }).waitFor();
		expect(new URL(page.url()).searchParams.get("range")).toBe("24h");
		await page.reload();
		await page.getByRole("heading", { name: "Logs" }).waitFor();
		expect(await page.getByLabel("Time range").inputValue()).toBe("24h");
	});

	it("refuses setup once a user exists: the setup page sends to sign-in", async () => {
		const second = await newPage(await browser.newContext());
		await second.goto(`${server.url}/setup`);
		await second.getByRole("heading", { name: "Sign in" }).waitFor();
		expect(new URL(second.url()).pathname).toBe("/sign-in");
		await second.context().close();
	});

	it("turns on two-factor authentication with a QR code and shows the recovery codes once", async () => {
		await page.getByRole("link", { name: /Ada Lovelace/ }).click();
		await page.getByRole("heading", { name: "My account" }).waitFor();
		await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
		await page.getByRole("img", { name: "QR code for your authenticator app" }).waitFor();
		totpSecret = await page.getByLabel("Or enter this secret by hand").inputValue();
		expect(totpSecret).toMatch(/^[A-Z2-7]{16,}$/);
		// The short Profile form is as tall as its contents, not stretched to the password form's height.
		const profile = await page.getByRole("region", { name: "Profile" }).boundingBox();
		const saveName = await page.getByRole("button", { name: "Save name" }).boundingBox();
		expect(
			(profile?.y ?? 0) + (profile?.height ?? 0) - ((saveName?.y ?? 0) + (saveName?.height ?? 0)),
		).toBeLessThan(40);
		const twoFactor = page.getByRole("region", { name: "Two-factor authentication" });
		// The password is asked for: an access token alone must not turn on a factor.
		await twoFactor.getByLabel("Password", { exact: true }).fill("not-the-password-at-all");
		await page.getByLabel("Authentication code").fill(await totpCodeAt(totpSecret, Date.now()));
		await page.getByRole("button", { name: "Turn on" }).click();
		await page
			.getByRole("alert")
			.filter({ hasText: /password/i })
			.waitFor();
		await twoFactor.getByLabel("Password", { exact: true }).fill(OWNER.password);
		await screenshot(page, "account-2fa-setup");
		await page.getByLabel("Authentication code").fill("000000");
		await page.getByRole("button", { name: "Turn on" }).click();
		await page.getByRole("alert").filter({ hasText: /code/i }).waitFor();
		await page.getByLabel("Authentication code").fill(await totpCodeAt(totpSecret, Date.now()));
		await page.getByRole("button", { name: "Turn on" }).click();
		const codes = page.getByRole("list", { name: "Recovery codes" });
		await codes.waitFor();
		recoveryCodes = await codes.getByRole("listitem").allTextContents();
		expect(recoveryCodes.length).toBeGreaterThanOrEqual(8);
		expect(await page.getByText("shown only this once").count()).toBe(1);
		// Said as a warning, as a new API key's "shown only this once" is.
		const warning = page.getByRole("status").filter({ hasText: "shown only this once" });
		expect(await warning.getAttribute("class")).toContain("warn");
		// The three actions under the codes are one size, side by side (the download link was bigger).
		const actions = [
			page.getByRole("button", { name: "Copy codes" }),
			page.getByRole("link", { name: "Download codes" }),
			page.getByRole("button", { name: "I saved them" }),
		];
		const heights = await Promise.all(
			actions.map(async (a) => Math.round((await a.boundingBox())?.height ?? 0)),
		);
		expect(new Set(heights).size).toBe(1);
		expect(new Set((await rowPlaces(...actions)).map((p) => p.top)).size).toBe(1);
		await screenshot(page, "account-recovery-codes");
		// "Download codes" saves exactly the codes, one a line.
		const [download] = await Promise.all([
			page.waitForEvent("download"),
			page.getByRole("link", { name: "Download codes" }).click(),
		]);
		expect(download.suggestedFilename()).toBe("hexcovery-recovery-codes.txt");
		const saved = await download.path();
		expect(readFileSync(saved, "utf8")).toBe(`${recoveryCodes.join("\n")}\n`);
		const href = (await page.getByRole("link", { name: "Download codes" }).getAttribute("href")) as string;
		// Gone from the page, the file's object URL is released (the codes do not linger in memory):
		// the page's own URL.revokeObjectURL is watched (and still called) from here on.
		await page.evaluate(() => {
			const released: string[] = [];
			const revoke = URL.revokeObjectURL.bind(URL);
			URL.revokeObjectURL = (url: string) => {
				released.push(url);
				revoke(url);
			};
			(window as unknown as { released: string[] }).released = released;
		});
		await page.getByRole("button", { name: "I saved them" }).click();
		await page.getByText("Signing in asks for a code").waitFor();
		expect(await page.evaluate(() => (window as unknown as { released: string[] }).released)).toContain(href);
	});

	it("signs out, then signs in with email, password and an authentication code", async () => {
		await signOut(page);
		await signIn(page, OWNER.email, OWNER.password);
		await page.getByRole("heading", { name: "Two-factor authentication" }).waitFor();
		// The form-wide button's text is in its middle.
		const offset = await page.getByRole("button", { name: "Verify" }).evaluate((button: HTMLElement) => {
			const text = document.createRange();
			text.selectNodeContents(button);
			const inner = text.getBoundingClientRect();
			const outer = button.getBoundingClientRect();
			return { centre: inner.left + inner.width / 2 - (outer.left + outer.width / 2), wide: outer.width };
		});
		expect(offset.wide).toBeGreaterThan(200);
		expect(Math.abs(offset.centre)).toBeLessThanOrEqual(2);
		await screenshot(page, "sign-in-code");
		// The code of the next 30-second step: enabling used this step's, and a code is accepted once.
		await page.getByLabel("Authentication code").fill(await totpCodeAt(totpSecret, Date.now() + 30_000));
		await page.getByRole("button", { name: "Verify" }).click();
		await page.getByRole("heading", { name: "Overview" }).waitFor();
	});

	it("signs in with a recovery code, and a wrong password shows the API's message", async () => {
		await signOut(page);
		await signIn(page, OWNER.email, "not-the-password-at-all");
		const alert = page.getByRole("alert");
		await alert.waitFor();
		expect(await alert.textContent()).toMatch(/Request ID: [0-9a-f-]{36}/);
		await signIn(page, OWNER.email, OWNER.password);
		await page.getByRole("button", { name: "Use a recovery code instead" }).click();
		await page.getByLabel("Recovery code").fill(recoveryCodes.shift() as string);
		await page.getByRole("button", { name: "Verify" }).click();
		await page.getByRole("heading", { name: "Overview" }).waitFor();
	});

	it("returns to the page the person asked for after signing in", async () => {
		await signOut(page);
		await page.goto(`${server.url}/settings/teams`);
		await page.getByRole("heading", { name: "Sign in" }).waitFor();
		expect(new URL(page.url()).searchParams.get("next")).toBe("/settings/teams");
		await signIn(page, OWNER.email, OWNER.password);
		await page.getByRole("button", { name: "Use a recovery code instead" }).click();
		await page.getByLabel("Recovery code").fill(recoveryCodes.shift() as string);
		await page.getByRole("button", { name: "Verify" }).click();
		await page.getByRole("button", { name: "Create team" }).waitFor();
		expect(new URL(page.url()).pathname).toBe("/settings/teams");
	});

	let uiKey = "";
	it("creates an API key, shows it once with a curl example, and the key works from Node", async () => {
		await page.goto(`${server.url}/settings/api-keys`);
		// A text box and a date picker side by side are one height, labels level.
		const [nameBox, expiresBox] = await rowPlaces(
			page.getByLabel("Key name"),
			page.getByLabel("Expires (optional)"),
		);
		expect(expiresBox?.top).toBe(nameBox?.top);
		expect(expiresBox?.middle).toBe(nameBox?.middle);
		await page.getByLabel("Key name").fill("deploy-bot");
		await page.getByRole("button", { name: "Create API key" }).click();
		uiKey = await page.getByRole("textbox", { name: "New API key" }).inputValue();
		expect(uiKey).toMatch(/^hxk_[0-9A-Za-z]{36}$/);
		expect(await page.getByText(`X-API-Key: ${uiKey}`).count()).toBe(1);
		// Which org the key belongs to, by name and id (as `hexcovery org list` prints it), on the page and with the new key.
		const intro = await page.getByText("API keys let agents").textContent();
		const orgId = new RegExp(`for ${OWNER.org} \\((org_[0-9A-Za-z]+)\\)`).exec(intro ?? "")?.[1];
		expect(orgId, intro ?? "").toBeDefined();
		expect(
			await page
				.getByText(`It belongs to ${OWNER.org} (${orgId}): everything sent with it lands there.`)
				.count(),
		).toBe(1);
		const table = page.getByRole("table", { name: "API keys" });
		await table.getByRole("cell", { name: "deploy-bot", exact: true }).waitFor();
		expect(await table.textContent()).toContain(uiKey.slice(0, 8));
		// Copy sits level with the key it copies.
		const [keyBox, copyButton] = await rowPlaces(
			page.getByRole("textbox", { name: "New API key" }),
			page.getByRole("button", { name: "Copy", exact: true }),
		);
		expect(Math.abs((keyBox?.middle ?? 0) - (copyButton?.middle ?? 0))).toBeLessThanOrEqual(2);
		// A code word in the text is drawn on one line (the intro broke "X-API-" / "Key").
		const header = page.getByText("API keys let agents").getByText("X-API-Key", { exact: true });
		expect(
			await header.evaluate((code) => {
				const range = document.createRange();
				range.selectNodeContents(code);
				return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
			}),
		).toBe(1);
		// A row's text sits on one line with its badge's and buttons' labels (the cells were aligned to
		// their tops, which put the text a few pixels above the labels).
		const row = table.getByRole("row", { name: /deploy-bot/ });
		const [name, status, rename] = await baselines(
			row.getByRole("cell", { name: "deploy-bot", exact: true }),
			row.getByText("active", { exact: true }),
			row.getByRole("button", { name: "Rename deploy-bot" }),
		);
		expect([status, rename]).toEqual([name, name]);
		await screenshot(page, "settings-api-keys");
		const used = await fetch(`${server.url}/api/v1/annotations`, {
			method: "POST",
			headers: { "X-API-Key": uiKey, "Content-Type": "application/json" },
			body: JSON.stringify({ title: "Deploy from the browser test" }),
		});
		expect(used.status).toBe(201);
		await page.getByRole("button", { name: "Done" }).click();
		expect(await page.getByRole("textbox", { name: "New API key" }).count()).toBe(0);
	});

	it("renames and then revokes the key after confirmation; the key then answers 401", async () => {
		await page.getByRole("button", { name: "Rename deploy-bot" }).click();
		// The focus is in the new name (it stayed on Rename, across the row); typing replaces it.
		await expect
			.poll(() => page.getByLabel("New name").evaluate((el) => el === document.activeElement))
			.toBe(true);
		await page.keyboard.type("deploy-bot-old");
		await page.keyboard.press("Enter");
		const table = page.getByRole("table", { name: "API keys" });
		await table.getByRole("cell", { name: "deploy-bot-old", exact: true }).waitFor();
		// Saved, the focus is back on the key's Rename.
		await expect
			.poll(() =>
				page
					.getByRole("button", { name: "Rename deploy-bot-old" })
					.evaluate((el) => el === document.activeElement),
			)
			.toBe(true);
		await page.getByRole("button", { name: "Revoke deploy-bot-old" }).click();
		const dialog = page.getByRole("dialog", { name: "Revoke this API key?" });
		await dialog.waitFor();
		await dialog.getByRole("button", { name: "Revoke key" }).click();
		await table.getByText("revoked").waitFor();
		const refused = await fetch(`${server.url}/api/v1/annotations`, { headers: { "X-API-Key": uiKey } });
		expect(refused.status).toBe(401);
		expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
	});

	let viewerPassword = "";
	it("invites a viewer and shows the one-time password once", async () => {
		await page.getByRole("link", { name: "Users" }).click();
		await page.getByLabel("Name", { exact: true }).fill("Grace Hopper");
		await page.getByLabel("Email").fill("grace@example.com");
		await page.getByLabel("Role", { exact: true }).selectOption("viewer");
		await page.getByRole("button", { name: "Invite user" }).click();
		viewerPassword = await page.getByLabel("One-time password").inputValue();
		expect(viewerPassword.length).toBeGreaterThanOrEqual(20);
		const users = page.getByRole("table", { name: "Users" });
		await users.getByText("grace@example.com").waitFor();
		// The role picker is named for screen readers ("Role of Grace Hopper") and sits level with the
		// user's name: the column header says "Role", so no visible label pushes it down the row.
		const [name, role] = await rowPlaces(
			users.getByRole("cell", { name: /^Grace Hopper/ }),
			users.getByLabel("Role of Grace Hopper", { exact: true }),
		);
		expect((role?.top ?? 0) - (name?.top ?? 0)).toBeLessThanOrEqual(12);
		await screenshot(page, "settings-users");
	});

	it("makes the invited viewer choose a password, then shows only what a viewer may do", async () => {
		const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
		const viewer = await newPage(viewerContext);
		await viewer.goto(`${server.url}/settings`);
		await viewer.getByRole("heading", { name: "Sign in" }).waitFor();
		await signIn(viewer, "grace@example.com", viewerPassword);
		await viewer.getByRole("heading", { name: "Choose your password" }).waitFor();
		await viewer.getByLabel("Current password").fill(viewerPassword);
		await viewer.getByLabel("New password", { exact: true }).fill("amber-violin-harbor-77");
		await viewer.getByLabel("Confirm new password").fill("amber-violin-harbor-77");
		await viewer.getByRole("button", { name: "Set password and continue" }).click();
		await viewer.getByRole("heading", { name: "Settings" }).waitFor();
		const tabs = viewer.getByRole("navigation", { name: "Settings" });
		expect(await tabs.getByRole("link").allTextContents()).toEqual(["Users", "Teams", "Organization"]);
		await viewer.getByText("Only admins can invite users or change roles.").waitFor();
		expect(await viewer.getByRole("button", { name: "Invite user" }).count()).toBe(0);
		await viewer.getByRole("table", { name: "Users" }).getByText("ada@example.com").waitFor();
		await tabs.getByRole("link", { name: "Organization" }).click();
		await viewer.getByText("Only admins can change organization settings.").waitFor();
		expect(await viewer.getByLabel("Organization name").getAttribute("readonly")).not.toBeNull();
		// …and looks it: shaded like the page's secondary surface, not a white box to type into.
		const shade = await viewer
			.getByLabel("Organization name")
			.evaluate((input: HTMLElement) => [
				getComputedStyle(input).backgroundColor,
				getComputedStyle(document.documentElement).getPropertyValue("--surface-2").trim(),
			]);
		expect(shade).toEqual(["rgb(240, 242, 245)", "#f0f2f5"]);
		expect(await viewer.getByRole("button", { name: "Save settings" }).count()).toBe(0);
		await screenshot(viewer, "settings-viewer");
		// The overview's first steps send a viewer to an admin for a key, not to a page they cannot open.
		await viewer.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).click();
		const start = viewer.getByRole("region", { name: "Nothing received in this range" });
		await start.getByText("ask an admin of your organization for an API key").waitFor();
		expect(await start.getByRole("link", { name: "Settings → API keys" }).count()).toBe(0);
		await viewerContext.close();
	});

	it("shows the back-off after repeated failed sign-ins as a countdown, then lets the person try again", async () => {
		// Seven failures for the account (waiting out each block), as an attacker guessing would make.
		let failures = 0;
		while (failures < 7) {
			const attempt = await fetch(`${server.url}/api/v1/auth/login`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ email: "grace@example.com", password: `wrong-guess-${failures}` }),
			});
			if (attempt.status === 429) await sleep(Number(attempt.headers.get("Retry-After")) * 1000);
			else failures++;
		}
		const viewerContext = await browser.newContext();
		const viewer = await newPage(viewerContext);
		await viewer.goto(`${server.url}/sign-in`);
		await signIn(viewer, "grace@example.com", "amber-violin-harbor-77");
		const wait = viewer.getByRole("alert").filter({ hasText: "Too many failed attempts" });
		await wait.waitFor();
		expect(await wait.textContent()).toMatch(/Try again in \d+ s/);
		expect(await viewer.getByRole("button", { name: "Sign in" }).isDisabled()).toBe(true);
		await screenshot(viewer, "sign-in-too-many-attempts");
		await wait.waitFor({ state: "detached", timeout: 20_000 });
		await viewer.getByRole("button", { name: "Sign in" }).click();
		await viewer.getByRole("heading", { name: "Overview" }).waitFor();
		await viewerContext.close();
	});

	it("manages teams and members, the organization's settings, and a user's lifecycle", async () => {
		await page.goto(`${server.url}/settings/teams`);
		await page.getByLabel("Team name").fill("payments");
		await page.getByLabel("Description (optional)").fill("Checkout and billing");
		await page.getByRole("button", { name: "Create team" }).click();
		await page.getByRole("table", { name: "Teams" }).getByRole("link", { name: "payments" }).click();
		await page.getByRole("heading", { name: "payments" }).waitFor();
		await page.getByLabel("Add a member").selectOption({ label: "Grace Hopper <grace@example.com>" });
		await page.getByRole("button", { name: "Add member" }).click();
		const members = page.getByRole("table", { name: "Members" });
		await members.getByText("grace@example.com").waitFor();
		await page.getByRole("button", { name: "Remove Grace Hopper from the team" }).click();
		await page.getByText("No members yet.").waitFor();

		// The form holds the stored settings from the frame it appears in (an empty name showed for a
		// frame, and what was typed in it was overwritten).
		await page.addInitScript(() => {
			const seen = window as unknown as { orgNames?: string[] };
			seen.orgNames = [];
			const observer = new MutationObserver(() => {
				const field = document.querySelector<HTMLInputElement>(
					'form[aria-label="Organization settings"] input',
				);
				if (field) seen.orgNames?.push(field.value);
			});
			document.addEventListener("DOMContentLoaded", () =>
				observer.observe(document.body, { childList: true, subtree: true, characterData: true }),
			);
		});
		await page.goto(`${server.url}/settings/org`);
		await page.getByLabel("Retention (days)").waitFor();
		const named = await page.getByLabel("Organization name").inputValue();
		expect(named).not.toBe("");
		expect(await page.evaluate(() => (window as unknown as { orgNames?: string[] }).orgNames)).not.toContain(
			"",
		);
		await page.getByLabel("Retention (days)").fill("90");
		await page.getByRole("button", { name: "Save settings" }).click();
		await page.getByText("Saved.").waitFor();
		await page.reload();
		await expect.poll(() => page.getByLabel("Retention (days)").inputValue()).toBe("90");
		// A shorter retention deletes data: it is asked first, and "Cancel" keeps what is stored.
		await page.getByLabel("Retention (days)").fill("60");
		await page.getByRole("button", { name: "Save settings" }).click();
		const shorter = page.getByRole("dialog", { name: "Delete older data?" });
		await shorter.getByText("older than 60 days are deleted (they are kept for 90 days now)").waitFor();
		await shorter.getByRole("button", { name: "Cancel" }).click();
		await shorter.waitFor({ state: "hidden" });
		expect(await page.getByText("Saved.").count()).toBe(0);
		await page.reload();
		await expect.poll(() => page.getByLabel("Retention (days)").inputValue()).toBe("90");
		await page.getByLabel("Retention (days)").fill("60");
		await page.getByRole("button", { name: "Save settings" }).click();
		await shorter.getByRole("button", { name: "Keep 60 days" }).click();
		await page.getByText("Saved.").waitFor();
		await page.reload();
		await expect.poll(() => page.getByLabel("Retention (days)").inputValue()).toBe("60");

		await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Users" }).click();
		const users = page.getByRole("table", { name: "Users" });
		// Making someone an owner cannot be taken back by an admin: asked first; "Cancel" changes nothing.
		const graceRole = page.getByLabel("Role of Grace Hopper", { exact: true });
		const saveGraceRole = page.getByRole("button", { name: "Save the role of Grace Hopper" });
		const roleBefore = await graceRole.inputValue();
		await graceRole.selectOption("owner");
		await saveGraceRole.click();
		const owner = page.getByRole("dialog", { name: "Make this user an owner?" });
		await owner.getByText("Only an owner can take the role back.").waitFor();
		await owner.getByRole("button", { name: "Cancel" }).click();
		await owner.waitFor({ state: "hidden" });
		expect(await graceRole.inputValue()).toBe(roleBefore);
		expect(await saveGraceRole.count()).toBe(0);
		// With the keyboard, an arrow key in the closed picker only chooses (it changed the role at once,
		// then the disabled picker dropped the focus): nothing is saved until Save.
		expect(roleBefore).toBe("viewer");
		await graceRole.focus();
		await page.keyboard.press("ArrowDown");
		await expect.poll(() => graceRole.inputValue()).toBe("member");
		expect(await graceRole.evaluate((el) => el === document.activeElement)).toBe(true);
		await page.reload();
		await expect.poll(() => graceRole.inputValue()).toBe("viewer");
		await graceRole.focus();
		await page.keyboard.press("ArrowDown");
		await page.keyboard.press("Tab");
		expect(await saveGraceRole.evaluate((el) => el === document.activeElement)).toBe(true);
		await page.keyboard.press("Enter");
		await saveGraceRole.waitFor({ state: "detached" });
		// Saved, the focus is back on the picker (Save is gone).
		await expect.poll(() => graceRole.evaluate((el) => el === document.activeElement)).toBe(true);
		await page.reload();
		await expect.poll(() => graceRole.inputValue()).toBe("member");
		// Back to viewer, as the later tests expect her.
		await graceRole.selectOption("viewer");
		await saveGraceRole.click();
		await saveGraceRole.waitFor({ state: "detached" });
		// Disabling signs the person out everywhere: asked first too.
		await page.getByRole("button", { name: "Disable Grace Hopper" }).click();
		const disable = page.getByRole("dialog", { name: "Disable this user?" });
		await disable.getByText("is signed out everywhere").waitFor();
		await disable.getByRole("button", { name: "Disable user" }).click();
		await users
			.getByRole("row", { name: /Grace Hopper/ })
			.getByText("disabled")
			.waitFor();
		await page.getByRole("button", { name: "Enable Grace Hopper" }).click();
		await users
			.getByRole("row", { name: /Grace Hopper/ })
			.getByText("active")
			.waitFor();
		// The API's own rule: an owner cannot be removed while they are the last one.
		expect(await page.getByRole("button", { name: "Delete Ada Lovelace" }).count()).toBe(0);
	});

	it("turns two-factor authentication off with the password and a recovery code", async () => {
		await page.goto(`${server.url}/account`);
		await page.getByLabel("Password", { exact: true }).fill(OWNER.password);
		await page.getByLabel("Authentication or recovery code").fill(recoveryCodes.shift() as string);
		await page.getByRole("button", { name: "Turn off two-factor authentication" }).click();
		await page.getByText("Two-factor authentication is off.").waitFor();
		await page.getByRole("button", { name: "Set up two-factor authentication" }).waitFor();
	});

	it("shows the API's own 403 clearly when a control outlives the person's role", async () => {
		// An admin's page is open when an owner demotes them: the page still offers admin controls.
		await page.goto(`${server.url}/settings/users`);
		await page.getByLabel("Name", { exact: true }).fill("Bob Admin");
		await page.getByLabel("Email").fill("bob@example.com");
		await page.getByLabel("Role", { exact: true }).selectOption("admin");
		await page.getByRole("button", { name: "Invite user" }).click();
		const bobPassword = await page.getByRole("textbox", { name: "One-time password" }).inputValue();
		const bobContext = await browser.newContext();
		const bob = await newPage(bobContext);
		await bob.goto(`${server.url}/settings/api-keys`);
		await signIn(bob, "bob@example.com", bobPassword);
		await bob.getByLabel("Current password").fill(bobPassword);
		await bob.getByLabel("New password", { exact: true }).fill("copper-willow-canyon-93");
		await bob.getByLabel("Confirm new password").fill("copper-willow-canyon-93");
		await bob.getByRole("button", { name: "Set password and continue" }).click();
		await bob.getByRole("button", { name: "Create API key" }).waitFor();

		await page.reload();
		await page.getByLabel("Role of Bob Admin", { exact: true }).selectOption("viewer");
		await page.getByRole("button", { name: "Save the role of Bob Admin" }).click();
		await page.getByRole("button", { name: "Save the role of Bob Admin" }).waitFor({ state: "detached" });
		await expect
			.poll(() => page.getByLabel("Role of Bob Admin", { exact: true }).inputValue())
			.toBe("viewer");

		await bob.getByLabel("Key name").fill("should-not-exist");
		await bob.getByRole("button", { name: "Create API key" }).click();
		// The refusal brings the current role: the header no longer says Admin, the API keys tab (admin
		// business) is gone, and a notice says why the page changed, with the API's own refusal.
		await bob.getByRole("link", { name: "Bob Admin (Viewer)" }).waitFor();
		const notice = bob.getByRole("status").filter({ hasText: "Your role is now" });
		expect(await notice.textContent()).toMatch(
			/Your role is now Viewer \(it was Admin\)\. This action needs the admin role or higher\./,
		);
		expect(
			await bob.getByRole("navigation", { name: "Settings" }).getByRole("link").allTextContents(),
		).toEqual(["Users", "Teams", "Organization"]);
		// Dismiss sits at the notice's top right, beside its text (it wrapped under it, at the left).
		const [box, dismiss] = [
			await notice.boundingBox(),
			await notice.getByRole("button", { name: "Dismiss" }).boundingBox(),
		];
		expect((box?.x ?? 0) + (box?.width ?? 0) - ((dismiss?.x ?? 0) + (dismiss?.width ?? 0))).toBeLessThan(20);
		expect((dismiss?.y ?? 0) - (box?.y ?? 0)).toBeLessThan(20);
		await screenshot(bob, "forbidden-after-demotion");
		await bobContext.close();
	});

	it("sets an absolute time range with from and to in the URL", async () => {
		await page.goto(`${server.url}/traces?range=6h`);
		await page.getByLabel("Time range").selectOption("absolute");
		await page.getByLabel("From").fill("2026-11-30T08:00");
		await page.getByLabel("To").fill("2026-11-30T20:30");
		await page.getByRole("button", { name: "Apply range" }).click();
		await expect
			.poll(() => new URL(page.url()).searchParams.get("from"))
			.toBe(new Date("2026-11-30T08:00").toISOString());
		const url = new URL(page.url());
		expect(url.searchParams.get("to")).toBe(new Date("2026-11-30T20:30").toISOString());
		expect(url.searchParams.has("range")).toBe(false);
		await page.reload();
		expect(await page.getByLabel("Time range").inputValue()).toBe("absolute");
		expect(await page.getByLabel("From").inputValue()).toBe("2026-11-30T08:00");
	});

	it("shows monitors after real heartbeat pings, failing first, and a monitor's detail", async () => {
		// Before any ping: how to make the first one, as a command to copy, whole inside its block.
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Monitors" }).click();
		await page
			.getByText("No monitors yet. The first ping creates one (with an API key in HEXCOVERY_API_KEY")
			.waitFor();
		const firstPing = page.getByText(/^curl -X POST -H "X-API-Key: \$HEXCOVERY_API_KEY" http/);
		expect(await firstPing.textContent()).toBe(
			`curl -X POST -H "X-API-Key: $HEXCOVERY_API_KEY" ${server.url}/api/v1/heartbeat/my-job`,
		);
		const placed = await firstPing.evaluate((code) => {
			const block = (code.closest("pre") as HTMLElement).getBoundingClientRect();
			const words = [...code.querySelectorAll("span")].map((word) => word.getBoundingClientRect());
			return {
				inside: words.every((box) => box.left >= block.left && box.right <= block.right),
				// Starts at the block's left edge, as every command does (the empty state centred it).
				indent: (words[0]?.left ?? 0) - block.left,
			};
		});
		expect(placed.inside).toBe(true);
		expect(placed.indent).toBeLessThan(20);
		await page.getByRole("button", { name: "Copy command" }).waitFor();
		await screenshot(page, "monitors-empty");
		const key = await apiKeyViaApi();
		const ping = (path: string, body?: string) =>
			fetch(`${server.url}/api/v1/heartbeat/${path}`, {
				method: "POST",
				headers: { "X-API-Key": key },
				body,
			});
		expect(
			(await ping("nightly-backup/start?schedule=30+3+*+*+*&tz=Europe/Berlin&grace=30m&rid=r1")).status,
		).toBe(201);
		expect((await ping("nightly-backup/0?rid=r1", "backup done: 4.2 GB")).status).toBe(200);
		expect((await ping("billing-export?period=1h")).status).toBe(201);
		expect((await ping("billing-export/fail", "<script>alert('x')</script> disk full")).status).toBe(200);
		expect((await ping("cache-warm?period=5m")).status).toBe(201);

		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Monitors" }).click();
		const table = page.getByRole("table", { name: "Monitors" });
		await table.getByRole("link", { name: "billing-export" }).waitFor();
		expect(await table.getByRole("link").allTextContents()).toEqual([
			"billing-export",
			"cache-warm",
			"nightly-backup",
		]);
		const rows = await table.getByRole("row").allTextContents();
		expect(rows[1]).toContain("down");
		expect(rows[2]).toContain("up");
		expect(rows[3]).toContain("up");
		// Schedules in words (they read "every 1h", "every 5m" and a bare "30 3 * * *"); a cron
		// schedule keeps its expression and zone beside the words.
		expect(rows[1]).toContain("Every hour");
		expect(rows[1]).toContain("grace 1 hour");
		expect(rows[2]).toContain("Every 5 minutes");
		expect(rows[3]).toContain("At 03:30");
		expect(rows[3]).toContain("30 3 * * * · Europe/Berlin · grace 30 minutes");
		// The page says how a monitor comes to be (there is no "Add monitor" button: the first ping).
		await page.getByText("a ping to a new name creates its monitor", { exact: false }).waitFor();
		await screenshot(page, "monitors");
		await page.getByRole("button", { name: /^Down \(1\)$/ }).click();
		await expect.poll(() => table.getByRole("row").count()).toBe(2);
		expect(new URL(page.url()).searchParams.get("status")).toBe("down");

		await page.getByRole("button", { name: /^All/ }).click();
		await table.getByRole("link", { name: "nightly-backup" }).click();
		await page.getByRole("heading", { name: "nightly-backup" }).waitFor();
		// Without a display name the slug is the title, said once (the subtitle repeated it).
		// (What is visible: the closed delete dialog names it too.)
		expect(await page.getByText("nightly-backup", { exact: true }).filter({ visible: true }).count()).toBe(1);
		const pings = page.getByRole("table", { name: "Pings" });
		await pings.getByText("success").waitFor();
		expect(await pings.getByRole("row").count()).toBe(3);
		const cron = await page.getByText("30 3 * * * curl").textContent();
		expect(cron).toContain(`"${server.url}/api/v1/heartbeat/nightly-backup/start"`);
		expect(cron).toContain(`"${server.url}/api/v1/heartbeat/nightly-backup/$?"`);
		// The cron line wraps only at its spaces: no word is drawn over two lines (it broke after
		// hyphens, "X-API-" / "Key", "nightly-" / "backup", and a person would copy it wrong).
		// And all of it shows: no word runs past the block's edge (a URL longer than the block's width
		// was cut off there); only such a word may take two lines.
		const drawn = await page.getByText("30 3 * * * curl").evaluate((code) => {
			// The lines a node's text is drawn on (by the tops of its text's boxes).
			const lineTops = (node: Node) => {
				const tops = new Set<number>();
				const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
				for (let text = walker.nextNode(); text; text = walker.nextNode()) {
					const range = document.createRange();
					range.selectNodeContents(text);
					for (const rect of range.getClientRects()) if (rect.width > 0) tops.add(Math.round(rect.top));
				}
				return tops.size;
			};
			const block = (code.closest("pre") as HTMLElement).getBoundingClientRect();
			const words = [...code.querySelectorAll(":scope > span")];
			const textWidth = (word: Element) => {
				const probe = document.createElement("span");
				probe.style.whiteSpace = "pre";
				probe.textContent = word.textContent;
				code.appendChild(probe);
				const width = probe.getBoundingClientRect().width;
				probe.remove();
				return width;
			};
			return {
				lines: lineTops(code),
				words: words.length,
				split: words
					.filter((word) => lineTops(word) > 1 && textWidth(word) < block.width - 30)
					.map((word) => word.textContent),
				outside: words
					.filter((word) => {
						const box = word.getBoundingClientRect();
						return box.left < block.left || box.right > block.right;
					})
					.map((word) => word.textContent),
				// A word broken over lines: what its first line holds (it must end at a slash).
				broken: words
					.filter((word) => lineTops(word) > 1)
					.map((word) => {
						const parts = [...word.children];
						const top = Math.round(parts[0]?.getBoundingClientRect().top ?? 0);
						return parts
							.filter((part) => Math.round(part.getBoundingClientRect().top) === top)
							.map((part) => part.textContent)
							.join("");
					}),
			};
		});
		expect(drawn.lines).toBeGreaterThan(1);
		expect(drawn.words).toBeGreaterThan(20);
		expect(drawn.split).toEqual([]);
		expect(drawn.outside).toEqual([]);
		for (const firstLine of drawn.broken) expect(firstLine).toMatch(/\/$/);
		await page.getByRole("textbox", { name: "Cron schedule" }).waitFor();
		expect(await page.getByLabel("Time zone").inputValue()).toBe("Europe/Berlin");
		// The schedule's hint says it in words, in its zone, and follows what is typed.
		const scheduleField = page.getByRole("textbox", { name: "Cron schedule" });
		const hintOf = () =>
			scheduleField.evaluate((input) => {
				const id = input.getAttribute("aria-describedby");
				return id ? (document.getElementById(id)?.textContent ?? "") : "";
			});
		expect(await hintOf()).toBe("At 03:30 (Europe/Berlin)");
		await scheduleField.fill("0 9 * * 1-5");
		expect(await hintOf()).toBe("At 09:00, Monday through Friday (Europe/Berlin)");
		await scheduleField.fill("0 9 *");
		expect(await hintOf()).toContain("5 fields");
		await scheduleField.fill("30 3 * * *");
		// Fields side by side line up by their inputs, hints or not.
		const [schedule, zone] = await rowPlaces(
			page.getByRole("textbox", { name: "Cron schedule" }),
			page.getByLabel("Time zone"),
		);
		expect(zone?.top).toBe(schedule?.top);
		// The status badge beside Pause sits level with it.
		const [badge, pause] = await rowPlaces(
			// The page's first "up": the badge beside the monitor's name (the state card's comes later).
			page.getByRole("main").getByText("up", { exact: true }).first(),
			page.getByRole("button", { name: "Pause" }),
		);
		expect(Math.abs((badge?.middle ?? 0) - (pause?.middle ?? 0))).toBeLessThanOrEqual(2);
		// It alerts when it would go down: the grace period (30 minutes) after it is due, not when it is
		// due (it said the same time twice).
		const stateOf = (term: string) =>
			page
				.locator("dl.kv dt", { hasText: term })
				.locator("xpath=following-sibling::dd[1]/time")
				.getAttribute("datetime");
		const [due, alerts] = [await stateOf("Next due"), await stateOf("Alerts if silent")];
		expect(Date.parse(alerts ?? "") - Date.parse(due ?? "")).toBe(30 * 60_000);
		await screenshot(page, "monitor-detail");
	});

	it("renders attacker-controlled text as text (ping bodies)", async () => {
		await page.goto(`${server.url}/monitors/billing-export`);
		const pings = page.getByRole("table", { name: "Pings" });
		await pings.getByText(/bytes/).first().click();
		await pings.getByText("<script>alert('x')</script> disk full").waitFor();
		expect(await page.locator("script:not([src])").count()).toBe(0);
	});

	it("pauses and resumes a monitor, with the change in its history", async () => {
		// An edit not yet saved outlives a pause (which changes the monitor: its form was reset).
		const grace = page.getByLabel("Grace (seconds)");
		await grace.fill("901");
		await page.getByRole("button", { name: "Pause" }).click();
		await page.getByRole("button", { name: "Resume" }).waitFor();
		await page.getByRole("table", { name: "Status changes" }).getByText("paused").first().waitFor();
		// With the keyboard: the button keeps the focus while it works (disabled while busy, it dropped
		// the focus to the page's start).
		await page.getByRole("button", { name: "Resume" }).focus();
		await page.keyboard.press("Enter");
		await page.getByRole("button", { name: "Pause" }).waitFor();
		await expect
			.poll(() => page.evaluate(() => document.activeElement?.textContent?.trim() ?? ""))
			.toBe("Pause");
		await page.getByRole("table", { name: "Status changes" }).getByRole("row").nth(2).waitFor();
		expect(await grace.inputValue()).toBe("901");
		await page.reload();
		await grace.waitFor();
		// With a display name, it is the title and the slug goes under it.
		await page.getByLabel("Display name").fill("Billing export");
		await page.getByRole("button", { name: "Save settings" }).click();
		await page.getByRole("heading", { name: "Billing export" }).waitFor();
		await page.getByText("billing-export", { exact: true }).filter({ visible: true }).waitFor();
	});

	it("says a cron schedule that cronstrue cannot put in words once, as its first line", async () => {
		// croner (the API) takes "the last Sunday of the month" as 0#L; cronstrue has no words for it.
		const key = await apiKeyViaApi();
		const created = await fetch(
			`${server.url}/api/v1/heartbeat/month-end?schedule=${encodeURIComponent("0 0 * * 0#L")}`,
			{ method: "POST", headers: { "X-API-Key": key } },
		);
		expect(created.status).toBe(201);
		await page.goto(`${server.url}/monitors`);
		const row = page.getByRole("row", { name: /month-end/ });
		await row.waitFor();
		// It was written twice: in place of the words, and again under them.
		expect(await row.getByText("0 0 * * 0#L", { exact: true }).count()).toBe(1);
		expect(await row.textContent()).toContain("UTC · grace");
	});

	it("adds a notification channel, sends a test and shows it in the delivery log", async () => {
		await page.goto(`${server.url}/monitors/channels`);
		await page.getByLabel("Channel name").fill("On-call");
		await page.getByLabel("Webhook URL").fill(`${receiver.url}/hook`);
		await page.getByRole("button", { name: "Add channel" }).click();
		const table = page.getByRole("table", { name: "Notification channels" });
		await table.getByText("On-call").waitFor();
		// The form is empty again: a second click must not add the same channel twice.
		expect(await page.getByLabel("Channel name").inputValue()).toBe("");
		expect(await page.getByLabel("Webhook URL").inputValue()).toBe("");
		await page.getByRole("button", { name: "Send test to On-call" }).click();
		await page.getByText("Test sent to On-call: the receiver answered 204.").waitFor();
		expect(receiver.received).toHaveLength(1);
		expect(JSON.parse(receiver.received[0] as string)).toMatchObject({
			event: "test",
			channel: { name: "On-call" },
		});
		await page.getByRole("button", { name: "Delivery log" }).click();
		const log = page.getByRole("table", { name: "Delivery log" });
		await log.getByText("delivered").waitFor();
		expect(await log.getByRole("row").count()).toBe(2);
		// A monitor's alert names the monitor as a person knows it, linked (it said "monitor mon_…").
		const key = await apiKeyViaApi();
		const failed = await fetch(`${server.url}/api/v1/heartbeat/nightly-backup/fail`, {
			method: "POST",
			headers: { "X-API-Key": key },
		});
		expect(failed.status).toBe(200);
		await expect.poll(() => receiver.received.length, { timeout: 15_000 }).toBe(2);
		await page.reload();
		await page.getByRole("button", { name: "Delivery log" }).click();
		await log.getByRole("link", { name: "nightly-backup" }).waitFor();
		expect(await log.getByText("Status of nightly-backup").count()).toBe(1);
		await screenshot(page, "channels");
	});

	it("shows the pages in the dark theme when the system asks for it", async () => {
		await page.emulateMedia({ colorScheme: "dark" });
		await page.goto(`${server.url}/monitors`);
		await page.getByRole("table", { name: "Monitors" }).waitFor();
		const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
		expect(background).toBe("rgb(17, 20, 24)");
		await screenshot(page, "monitors-dark");
		await page.emulateMedia({ colorScheme: "light" });
	});

	it("passes an accessibility audit (axe) on the settings, monitors and account pages, light and dark", async () => {
		const pages: Array<[string, () => Locator]> = [
			["/settings/api-keys", () => page.getByRole("table", { name: "API keys" })],
			["/settings/users", () => page.getByRole("table", { name: "Users" })],
			["/settings/teams", () => page.getByRole("form", { name: "Create a team" })],
			["/settings/org", () => page.getByRole("form", { name: "Organization settings" })],
			["/monitors", () => page.getByRole("table", { name: "Monitors" })],
			["/monitors/nightly-backup", () => page.getByRole("table", { name: "Pings" }).getByText("success")],
			["/monitors/channels", () => page.getByRole("table", { name: "Notification channels" })],
			["/account", () => page.getByRole("heading", { name: "My account" })],
		];
		const found: string[] = [];
		for (const [path, ready] of pages) {
			await page.goto(`${server.url}${path}`);
			await ready().first().waitFor();
			found.push(...(await accessibilityInBothThemes(page, path)));
		}
		expect(found).toEqual([]);
	});

	it("raised no uncaught error in any page", () => {
		expect(pageErrors).toEqual([]);
	});
});
