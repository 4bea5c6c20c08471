/**
 * Per-org accounts (issue 13, finding 7): an email address is unique within an org, not globally. An
 * admin inviting an address that has an account in another org gets a new, independent account,
 * answered exactly as for a fresh address (no cross-org oracle, nothing pre-claimed); the login's
 * optional `org` picks among an address's accounts, and without it the oldest active one signs in.
 */
import * as nodeCrypto from "node:crypto";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loginThrottles, users } from "../../src/db/schema.js";
import { accountScope } from "../../src/services/sessions.js";
import {
	call,
	codeNow,
	createAuthApp,
	enableTotp,
	expectError,
	expectSession,
	type Harness,
	login,
	OTHER_PASSWORD,
	observable,
	PASSWORD,
	type SeededUser,
	seedUser,
	type UserJson,
	uniqueAddress,
	uniqueEmail,
} from "./auth-support.js";

// Counts scrypt runs: the real scrypt still runs (the wrapper only counts calls), so a test can
// check that every login attempt costs exactly one password verification.
vi.mock("node:crypto", async (importOriginal) => {
	const real = await importOriginal<typeof import("node:crypto")>();
	return { ...real, scrypt: vi.fn(real.scrypt) };
});
const scryptCalls = () => vi.mocked(nodeCrypto.scrypt).mock.calls.length;

const THIRD_PASSWORD = "a third quite long passphrase 7";

let h: Harness;
beforeEach(async () => {
	h = await createAuthApp();
});
afterEach(() => h.close());

async function sessionOf(seeded: { email: string; password: string }, org?: string) {
	return expectSession(
		await login(h, { email: seeded.email, password: seeded.password, ...(org ? { org } : {}) }),
	);
}

interface Invited extends UserJson {
	initial_password: string;
}

async function invite(token: string, email: string, role = "member") {
	return call(h, "/api/v1/users", { token, body: { email, name: "Invited", role } });
}

/** The invited user's first sign-in to `org` and the forced password change: answers the new session. */
async function takeOver(invited: Invited, newPassword: string) {
	const first = await sessionOf({ email: invited.email, password: invited.initial_password }, invited.org_id);
	expect(first.body.user).toMatchObject({ id: invited.id, must_change_password: true });
	const changed = await call(h, "/api/v1/me/password", {
		token: first.token,
		body: { current_password: invited.initial_password, new_password: newPassword },
	});
	expect(changed.status, await changed.clone().text()).toBe(200);
	return changed.json() as Promise<{ access_token: string; user: UserJson }>;
}

/** Org A (where the address already has an account) and org B (whose admin invites the address). */
async function twoOrgs(): Promise<{ existing: SeededUser; adminB: SeededUser; adminBToken: string }> {
	const existing = await seedUser(h, { role: "admin" });
	h.clock.advance(1_000);
	const adminB = await seedUser(h, { role: "admin" });
	const adminBToken = (await sessionOf(adminB)).token;
	return { existing, adminB, adminBToken };
}

async function userRow(id: string) {
	const [row] = await h.database.db.select().from(users).where(eq(users.id, id));
	return row;
}

describe("inviting an address that has an account in another org", () => {
	it("answers 201 exactly as for a fresh address and leaves the other org's account untouched", async () => {
		const { existing, adminBToken } = await twoOrgs();
		const before = await userRow(existing.user.id);

		const taken = await invite(adminBToken, existing.email.toUpperCase(), "viewer");
		const fresh = await invite(adminBToken, uniqueEmail(), "viewer");
		expect(taken.status, await taken.clone().text()).toBe(201);
		expect(fresh.status).toBe(201);
		const shape = async (response: Response) => {
			const headers = [...response.headers.entries()].filter(([name]) => name !== "x-request-id");
			const body = (await response.json()) as Record<string, unknown>;
			return { headers, keys: Object.keys(body).sort(), org: body.org_id, role: body.role };
		};
		const takenShape = await shape(taken.clone());
		expect(takenShape).toEqual(await shape(fresh));
		const created = (await taken.json()) as Invited;
		expect(created).toMatchObject({
			email: existing.email,
			role: "viewer",
			must_change_password: true,
			totp_enabled: false,
		});
		expect(created.id).not.toBe(existing.user.id);
		expect(created.org_id).not.toBe(existing.orgId);

		// Nothing about the account in org A changed, and it still signs in as before.
		expect(await userRow(existing.user.id)).toEqual(before);
		const stillA = await sessionOf(existing, existing.orgId);
		expect(stillA.body.user).toMatchObject({
			id: existing.user.id,
			role: "admin",
			must_change_password: false,
		});
	});

	it("the same address twice in the same org stays 409 conflict", async () => {
		const { existing, adminBToken } = await twoOrgs();
		expect((await invite(adminBToken, existing.email)).status).toBe(201);
		await expectError(await invite(adminBToken, existing.email.toUpperCase()), 409, "conflict");
		const rows = await h.database.db.select().from(users).where(eq(users.email, existing.email));
		expect(rows).toHaveLength(2);
	});
});

describe("two accounts of one address", () => {
	async function twoAccounts() {
		const { existing, adminBToken } = await twoOrgs();
		h.clock.advance(1_000);
		const invited = (await (await invite(adminBToken, existing.email, "viewer")).json()) as Invited;
		const second = await takeOver(invited, OTHER_PASSWORD);
		return { existing, invited, second };
	}

	it("have separate passwords and roles; each signs in with its org, and without org the oldest does", async () => {
		const { existing, invited } = await twoAccounts();
		const a = await sessionOf({ email: existing.email, password: PASSWORD }, existing.orgId);
		expect(a.body.user).toMatchObject({ id: existing.user.id, org_id: existing.orgId, role: "admin" });
		const b = await sessionOf({ email: existing.email, password: OTHER_PASSWORD }, invited.org_id);
		expect(b.body.user).toMatchObject({ id: invited.id, org_id: invited.org_id, role: "viewer" });

		// Without org: the oldest account, org A's; B's password does not open it.
		const oldest = await sessionOf({ email: existing.email, password: PASSWORD });
		expect(oldest.body.user.id).toBe(existing.user.id);
		await expectError(
			await login(h, { email: existing.email, password: OTHER_PASSWORD }, { address: uniqueAddress() }),
			401,
			"invalid_credentials",
		);
		// Each password opens only its own account.
		await expectError(
			await login(h, { email: existing.email, password: PASSWORD, org: invited.org_id }),
			401,
			"invalid_credentials",
		);
		// Refresh keeps each session on its own account.
		const refreshed = await call(h, "/api/v1/auth/refresh", { cookie: b.cookie });
		expect(refreshed.status).toBe(200);
		expect(((await refreshed.json()) as { user: UserJson }).user.id).toBe(invited.id);
	});

	it("without org, a disabled oldest account gives way to the next oldest", async () => {
		const { existing, invited } = await twoAccounts();
		await h.database.db
			.update(users)
			.set({ disabledAt: h.clock.now() })
			.where(eq(users.id, existing.user.id));
		const session = await sessionOf({ email: existing.email, password: OTHER_PASSWORD });
		expect(session.body.user.id).toBe(invited.id);
		await expectError(
			await login(h, { email: existing.email, password: PASSWORD, org: existing.orgId }),
			401,
			"invalid_credentials",
		);
	});

	it("2FA is per account: turning it on in one org leaves the other's login as it was", async () => {
		const { existing, invited, second } = await twoAccounts();
		const { secret } = await enableTotp(h, second.access_token, OTHER_PASSWORD);
		const setupA = await userRow(existing.user.id);
		expect(setupA?.totpEnabledAt).toBeNull();
		await expectError(
			await login(h, { email: existing.email, password: OTHER_PASSWORD, org: invited.org_id }),
			401,
			"totp_required",
		);
		h.clock.advance(30_000); // the next TOTP step: enabling used this one's code
		const withCode = await expectSession(
			await login(h, {
				email: existing.email,
				password: OTHER_PASSWORD,
				org: invited.org_id,
				totp_code: await codeNow(h, secret),
			}),
		);
		expect(withCode.body.user).toMatchObject({ id: invited.id, totp_enabled: true });
		const a = await sessionOf({ email: existing.email, password: PASSWORD }, existing.orgId);
		expect(a.body.user).toMatchObject({ id: existing.user.id, totp_enabled: false });
	});

	it("a token of the org B account cannot touch org A, nor the address's account there", async () => {
		const { existing, invited, second } = await twoAccounts();
		const token = second.access_token;
		const list = await call(h, "/api/v1/users", { method: "GET", token });
		expect(list.status).toBe(200);
		const listed = ((await list.json()) as { data: UserJson[] }).data;
		expect(listed.map((u) => u.org_id)).toEqual(listed.map(() => invited.org_id));
		expect(listed.map((u) => u.id)).not.toContain(existing.user.id);
		// Even as an admin of org B, org A's account of the same address is out of reach.
		await h.database.db.update(users).set({ role: "admin" }).where(eq(users.id, invited.id));
		const adminToken = (await sessionOf({ email: existing.email, password: OTHER_PASSWORD }, invited.org_id))
			.token;
		for (const [method, body] of [
			["PATCH", { role: "viewer" }],
			["PATCH", { disabled: true }],
			["DELETE", undefined],
		] as const) {
			const answer = await call(h, `/api/v1/users/${existing.user.id}`, {
				method,
				token: adminToken,
				...(body ? { body } : {}),
			});
			await expectError(answer, 404, "not_found");
		}
		const me = await call(h, "/api/v1/me", { method: "GET", token: adminToken });
		expect(((await me.json()) as UserJson).id).toBe(invited.id);
		const untouched = await userRow(existing.user.id);
		expect(untouched).toMatchObject({ role: "admin", disabledAt: null });
	});
});

describe("login with org: no oracle", () => {
	it("unknown org, no account in that org, unknown address and wrong password: identical 401s, one scrypt each", async () => {
		const { existing, adminB } = await twoOrgs();
		const attempts = [
			{ email: existing.email, password: OTHER_PASSWORD, org: existing.orgId }, // wrong password
			{ email: existing.email, password: PASSWORD, org: "org_00000000000000000000" }, // unknown org
			{ email: existing.email, password: PASSWORD, org: adminB.orgId }, // no account in that org
			{ email: uniqueEmail(), password: PASSWORD, org: existing.orgId }, // unknown address
			{ email: existing.email, password: OTHER_PASSWORD }, // wrong password, no org
		];
		const answers = [];
		for (const attempt of attempts) {
			const before = scryptCalls();
			answers.push(await observable(await login(h, attempt, { address: uniqueAddress() })));
			expect(scryptCalls() - before, JSON.stringify(attempt)).toBe(1);
		}
		const [wrongPassword] = answers;
		expect(wrongPassword?.status).toBe(401);
		expect(JSON.parse(wrongPassword?.body as string)).toEqual({
			error: { code: "invalid_credentials", message: expect.any(String), request_id: "<request-id>" },
		});
		for (const answer of answers) expect(answer).toEqual(wrongPassword);

		// A successful login is one verification too, with or without org.
		for (const org of [existing.orgId, undefined]) {
			const before = scryptCalls();
			await sessionOf(existing, org);
			expect(scryptCalls() - before).toBe(1);
		}
	});

	it("an empty or oversized org is a 400 like any malformed body", async () => {
		const existing = await seedUser(h);
		for (const org of ["", "  ", "o".repeat(65), 42]) {
			await expectError(
				await call(h, "/api/v1/auth/login", {
					body: { email: existing.email, password: PASSWORD, org },
					address: uniqueAddress(),
				}),
				400,
				"invalid_request",
			);
		}
	});

	it("the account back-off is per address, across its accounts and whatever org is sent", async () => {
		const { existing, adminB } = await twoOrgs();
		const orgs = [existing.orgId, adminB.orgId, "org_00000000000000000000", undefined];
		const statuses: number[] = [];
		for (let i = 0; i < 5; i++) {
			const org = orgs[i % orgs.length];
			const response = await login(
				h,
				{ email: existing.email, password: THIRD_PASSWORD, ...(org ? { org } : {}) },
				{ address: uniqueAddress() },
			);
			statuses.push(response.status);
		}
		expect(statuses).toEqual([401, 401, 401, 401, 401]);
		const [row] = await h.database.db
			.select()
			.from(loginThrottles)
			.where(eq(loginThrottles.scope, accountScope(existing.email)));
		expect(row?.failures).toBe(5);
		// The right password for org A's account, from another client address: still backed off.
		await expectError(
			await login(
				h,
				{ email: existing.email, password: PASSWORD, org: existing.orgId },
				{ address: uniqueAddress() },
			),
			429,
			"too_many_attempts",
		);
	});
});
