/**
 * Per-org accounts in a real headless Chromium against the real Node server: an admin of one org
 * invites an address that already has an account in another org; the invitation card shows the
 * sign-in link with `?org=`, which opens sign-in with the Organization ID filled in; and the
 * Organization ID field, typed by hand, signs in to the second account while the first stays the
 * default. Controls are found by label and role.
 */
import { createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCodeAt } from "../../src/auth/totp.js";
import { systemClock } from "../../src/clock.js";
import * as schema from "../../src/db/schema.js";
import { createOrg } from "../../src/services/api-keys.js";
import { createUser } from "../../src/services/users.js";
import { accessibilityInBothThemes, launchBrowser } from "../support/browser.js";
import { screenshot, startWebServer, type WebServer } from "../support/web-server.js";

/** Her first account, in Acme (made by first-run setup). */
const ADA = {
	org: "Acme",
	name: "Ada Lovelace",
	email: "ada@example.com",
	password: "plum-tractor-ocean-41",
};
/** Globex's owner, who invites Ada's address. */
const GLOBEX_OWNER = { email: "olive@globex.example", password: "granite-lantern-meadow-58" };
const ADA_GLOBEX_PASSWORD = "saffron-glacier-pocket-36";

let server: WebServer;
let browser: Browser;
let globexId = "";
let acmeId = "";
const pageErrors: string[] = [];

beforeAll(async () => {
	server = await startWebServer();
	const setup = await fetch(`${server.url}/api/v1/setup`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ org_name: ADA.org, name: ADA.name, email: ADA.email, password: ADA.password }),
	});
	expect(setup.status).toBe(201);
	acmeId = ((await setup.json()) as { org: { id: string } }).org.id;
	// A second org with its owner, as `org create` and `user create` make them.
	const client = createClient({ url: `file:${server.dataDir}/web.db` });
	try {
		const db = drizzle(client, { schema });
		globexId = (await createOrg(db, systemClock, "Globex")).id;
		const owner = await createUser(db, systemClock, {
			orgId: globexId,
			email: GLOBEX_OWNER.email,
			name: "Olive Owner",
			role: "owner",
			password: GLOBEX_OWNER.password,
		});
		expect(owner).not.toBeNull();
	} finally {
		client.close();
	}
	browser = await launchBrowser();
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

async function newPage(context: BrowserContext): Promise<Page> {
	const page = await context.newPage();
	page.on("pageerror", (error) => pageErrors.push(error.message));
	return page;
}

/** The org the signed-in person is in, as Settings → Organization shows it. */
async function organizationName(page: Page): Promise<string> {
	await page.goto(`${server.url}/settings`);
	await page
		.getByRole("navigation", { name: "Settings" })
		.getByRole("link", { name: "Organization" })
		.click();
	const field = page.getByLabel("Organization name");
	await expect.poll(() => field.inputValue()).not.toBe("");
	return field.inputValue();
}

/** Globex's owner signed in on Settings → Users, in a fresh context of her own. */
async function globexUsersPage(): Promise<{ context: BrowserContext; page: Page }> {
	const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	const page = await newPage(context);
	await page.goto(`${server.url}/settings/users`);
	await page.getByRole("heading", { name: "Sign in" }).waitFor();
	await page.getByLabel("Email").fill(GLOBEX_OWNER.email);
	await page.getByLabel("Password").fill(GLOBEX_OWNER.password);
	await page.getByRole("button", { name: "Sign in" }).click();
	return { context, page };
}

describe("one address, accounts in two orgs", () => {
	let signInLink = "";
	let oneTimePassword = "";

	it("inviting an address with an account in another org creates a new account; the card shows the sign-in link", async () => {
		const { context, page } = await globexUsersPage();
		await page.getByRole("button", { name: "Invite user" }).waitFor();

		await page.getByLabel("Name", { exact: true }).fill("Ada at Globex");
		await page.getByLabel("Email").fill(ADA.email);
		await page.getByLabel("Role", { exact: true }).selectOption("member");
		await page.getByRole("button", { name: "Invite user" }).click();
		const card = page.getByRole("region", { name: "Invited Ada at Globex" });
		oneTimePassword = await card.getByLabel("One-time password").inputValue();
		expect(oneTimePassword.length).toBeGreaterThanOrEqual(20);
		signInLink = await card.getByLabel("Sign-in link").inputValue();
		expect(signInLink).toBe(`${server.url}/sign-in?org=${globexId}`);
		await page.getByRole("table", { name: "Users" }).getByText(ADA.email).waitFor();
		await screenshot(page, "settings-users-invited");
		await context.close();
	});

	it("the sign-in link opens sign-in with the Organization ID filled in, and signs in to the new account", async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
		const page = await newPage(context);
		await page.goto(signInLink);
		await page.getByRole("heading", { name: "Sign in" }).waitFor();
		const orgField = page.getByLabel("Organization ID");
		expect(await orgField.isVisible()).toBe(true);
		expect(await orgField.inputValue()).toBe(globexId);
		await page.getByLabel("Email").fill(ADA.email);
		await page.getByLabel("Password").fill(oneTimePassword);
		await screenshot(page, "sign-in-organization");
		expect(await accessibilityInBothThemes(page, "sign-in")).toEqual([]);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("heading", { name: "Choose your password" }).waitFor();
		expect(await accessibilityInBothThemes(page, "choose your password")).toEqual([]);
		await page.getByLabel("Current password").fill(oneTimePassword);
		await page.getByLabel("New password", { exact: true }).fill(ADA_GLOBEX_PASSWORD);
		await page.getByLabel("Confirm new password").fill(ADA_GLOBEX_PASSWORD);
		await page.getByRole("button", { name: "Set password and continue" }).click();
		await page.getByRole("heading", { name: "Choose your password" }).waitFor({ state: "detached" });
		expect(await organizationName(page)).toBe("Globex");
		await context.close();
	});

	it("without an organization, sign-in opens her first account; with the Organization ID field, the second", async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
		const page = await newPage(context);
		await page.goto(`${server.url}/sign-in`);
		await page.getByRole("heading", { name: "Sign in" }).waitFor();
		// The field sits behind the disclosure until asked for.
		expect(await page.getByLabel("Organization ID").isVisible()).toBe(false);
		await page.getByLabel("Email").fill(ADA.email);
		await page.getByLabel("Password").fill(ADA.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("button", { name: "Sign out" }).waitFor();
		expect(await organizationName(page)).toBe(ADA.org);
		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("heading", { name: "Sign in" }).waitFor();

		// Globex's password without the organization: her first account does not take it.
		await page.getByLabel("Email").fill(ADA.email);
		await page.getByLabel("Password").fill(ADA_GLOBEX_PASSWORD);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("alert").getByText("The email or password is incorrect.").waitFor();

		await page.getByText("Sign in to a specific organization").click();
		const orgField = page.getByLabel("Organization ID");
		expect(await orgField.isVisible()).toBe(true);
		await orgField.fill(globexId);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("button", { name: "Sign out" }).waitFor();
		expect(await organizationName(page)).toBe("Globex");
		await context.close();
		// Her Acme account is as it was: Acme's id with her Acme password signs in there.
		const acme = await fetch(`${server.url}/api/v1/auth/login`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ email: ADA.email, password: ADA.password, org: acmeId }),
		});
		expect(acme.status).toBe(200);
		expect(((await acme.json()) as { user: { org_id: string; role: string } }).user).toMatchObject({
			org_id: acmeId,
			role: "owner",
		});
		expect(pageErrors).toEqual([]);
	});
});

describe("a lost second factor", () => {
	it("an owner turns off a member's 2FA with her own password; the member signs in without a code", async () => {
		const TESS = { email: "tess@globex.example", password: "walnut-harbor-signal-72" };
		const client = createClient({ url: `file:${server.dataDir}/web.db` });
		try {
			const created = await createUser(drizzle(client, { schema }), systemClock, {
				orgId: globexId,
				email: TESS.email,
				name: "Tess Member",
				role: "member",
				password: TESS.password,
			});
			expect(created).not.toBeNull();
		} finally {
			client.close();
		}
		const call = async (path: string, body: unknown, token?: string) =>
			fetch(`${server.url}${path}`, {
				method: "POST",
				headers: {
					"Content-Type": "application/json",
					...(token ? { Authorization: `Bearer ${token}` } : {}),
				},
				body: JSON.stringify(body),
			});
		// Tess turns 2FA on, then loses her phone and her recovery codes.
		const login = await call("/api/v1/auth/login", { ...TESS, org: globexId });
		const token = ((await login.json()) as { access_token: string }).access_token;
		const setup = await call("/api/v1/auth/totp/setup", {}, token);
		const { secret } = (await setup.json()) as { secret: string };
		const enable = await call(
			"/api/v1/auth/totp/enable",
			{ password: TESS.password, code: await totpCodeAt(secret, Date.now()) },
			token,
		);
		expect(enable.status).toBe(200);
		expect(
			(
				(await (await call("/api/v1/auth/login", { ...TESS, org: globexId })).json()) as {
					error: { code: string };
				}
			).error.code,
		).toBe("totp_required");

		const { context, page } = await globexUsersPage();
		const users = page.getByRole("table", { name: "Users" });
		await users.getByRole("button", { name: "Reset 2FA of Tess Member" }).click();
		const dialog = page.getByRole("dialog", { name: "Turn off this user's two-factor authentication?" });
		// Nothing typed: the field says so (the button did nothing and said nothing).
		await dialog.getByRole("button", { name: "Turn 2FA off" }).click();
		await dialog.getByText("Enter your own password.").waitFor();
		await dialog.getByLabel("Your password").fill("not-my-password-at-all");
		await dialog.getByRole("button", { name: "Turn 2FA off" }).click();
		await dialog.getByText("Your password is incorrect.").waitFor();
		await screenshot(page, "settings-users-reset-2fa");
		await dialog.getByLabel("Your password").fill(GLOBEX_OWNER.password);
		await dialog.getByRole("button", { name: "Turn 2FA off" }).click();
		await page
			.getByText("Two-factor authentication is off for Tess Member; they were signed out everywhere.")
			.waitFor();
		expect(await dialog.isVisible()).toBe(false);
		expect(await users.getByRole("button", { name: "Reset 2FA of Tess Member" }).count()).toBe(0);
		// The owner is still signed in (a wrong password of hers was no reason to end her session).
		await page.getByRole("button", { name: "Sign out" }).waitFor();
		// Tess signs in with her password alone.
		expect((await call("/api/v1/auth/login", { ...TESS, org: globexId })).status).toBe(200);
		expect(pageErrors).toEqual([]);
		await context.close();
	});
});
