/**
 * Sessions, security properties (issue 3): no account oracle, single-use codes, brute-force back-off
 * kept in libSQL, refresh-token reuse detection, origin checks, secrets at rest, setup races.
 */
import { createHash } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
	loginThrottles,
	orgs,
	recoveryCodes,
	refreshFamilies,
	refreshTokens,
	users,
} from "../../src/db/schema.js";
import { SESSION_SETTINGS, THROTTLE_SETTINGS, throttledAddress } from "../../src/services/sessions.js";
import { runSweep } from "../../src/sweep.js";
import {
	ALLOWED_ORIGIN,
	BEARER_CHALLENGE,
	call,
	codeNow,
	createAuthApp,
	enableTotp,
	expectError,
	expectSession,
	type Harness,
	login,
	loginOk,
	logout,
	OTHER_PASSWORD,
	observable,
	PASSWORD,
	refresh,
	refreshCookieOf,
	seedUser,
	uniqueAddress,
	uniqueEmail,
} from "./auth-support.js";

let h: Harness;
beforeEach(async () => {
	h = await createAuthApp();
});
afterEach(() => h.close());

function expectRetryAfter(response: Response): number {
	const header = response.headers.get("Retry-After");
	expect(header).toMatch(/^[1-9][0-9]*$/);
	return Number(header);
}

async function expectThrottled(response: Response): Promise<number> {
	expect(refreshCookieOf(response)).toBeNull();
	const seconds = expectRetryAfter(response);
	await expectError(response, 429, "too_many_attempts");
	return seconds;
}

async function throttleRow(scope: string) {
	const [row] = await h.database.db.select().from(loginThrottles).where(eq(loginThrottles.scope, scope));
	return row;
}

describe("no account oracle on login", () => {
	it("unknown email, wrong password and disabled user get byte-identical answers (but the request id)", async () => {
		const active = await seedUser(h);
		const disabled = await seedUser(h, { disabled: true });
		const answers = await Promise.all([
			login(h, { email: active.email, password: OTHER_PASSWORD }).then(observable),
			login(h, { email: uniqueEmail(), password: OTHER_PASSWORD }).then(observable),
			login(h, { email: disabled.email, password: PASSWORD }).then(observable),
		]);
		const [wrongPassword] = answers;
		expect(wrongPassword?.status).toBe(401);
		expect(JSON.parse(wrongPassword?.body as string)).toEqual({
			error: {
				code: "invalid_credentials",
				message: expect.any(String),
				request_id: "<request-id>",
			},
		});
		expect(answers[1]).toEqual(wrongPassword);
		expect(answers[2]).toEqual(wrongPassword);
	});

	it("the answer does not depend on the password's length or shape either", async () => {
		const active = await seedUser(h);
		const a = await observable(await login(h, { email: active.email, password: "x" }));
		const b = await observable(await login(h, { email: uniqueEmail(), password: "y".repeat(4_000) }));
		expect(b).toEqual(a);
	});

	it("unknown emails are throttled exactly like known ones (no oracle through 429 either)", async () => {
		const known = await seedUser(h);
		const unknown = uniqueEmail();
		const outcomes: Record<string, number[]> = { known: [], unknown: [] };
		for (let i = 0; i < 6; i++) {
			outcomes.known?.push((await login(h, { email: known.email, password: OTHER_PASSWORD })).status);
			outcomes.unknown?.push((await login(h, { email: unknown, password: OTHER_PASSWORD })).status);
		}
		expect(outcomes.known).toEqual([401, 401, 401, 401, 401, 429]);
		expect(outcomes.unknown).toEqual(outcomes.known);
	});
});

describe("first-run setup", () => {
	it("concurrent setups: exactly one 201, the others 409; one org and one user exist", async () => {
		const responses = await Promise.all(
			Array.from({ length: 5 }, (_, i) =>
				call(h, "/api/v1/setup", {
					body: {
						org_name: `Org ${i}`,
						name: `User ${i}`,
						email: `racer${i}@example.com`,
						password: PASSWORD,
					},
				}),
			),
		);
		expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
		for (const response of responses.filter((r) => r.status === 409)) {
			await expectError(response, 409, "already_set_up");
		}
		const userRows = await h.database.db.select().from(users);
		expect(userRows).toHaveLength(1);
		const allOrgs = await h.database.db.select().from(orgs);
		expect(allOrgs.map((o) => o.id)).toEqual([userRows[0]?.orgId]);
	});

	describe("with SETUP_TOKEN configured", () => {
		const SETUP_TOKEN = "setup-token-for-tests-0123456789";
		let guarded: Harness;
		beforeEach(async () => {
			guarded = await createAuthApp({ setupToken: SETUP_TOKEN });
		});
		afterEach(() => guarded.close());

		const body = { org_name: "Acme", name: "Ada", email: "ada@example.com", password: PASSWORD };

		it.each([
			["missing", undefined],
			["empty", ""],
			["wrong", "setup-token-for-tests-0123456788"],
			["a prefix of the right one", SETUP_TOKEN.slice(0, -1)],
			["the right one plus more", `${SETUP_TOKEN}x`],
			["differently cased", SETUP_TOKEN.toUpperCase()],
		])("X-Setup-Token %s → 401 invalid_setup_token, nothing created", async (_, token) => {
			const response = await call(guarded, "/api/v1/setup", {
				body,
				...(token === undefined ? {} : { headers: { "X-Setup-Token": token } }),
			});
			await expectError(response, 401, "invalid_setup_token");
			expect(response.headers.get("WWW-Authenticate")).toBe(
				'SetupToken realm="hexcovery", header="X-Setup-Token"',
			);
			expect(await guarded.database.db.select().from(users)).toHaveLength(0);
		});

		it("the right X-Setup-Token → 201", async () => {
			const response = await call(guarded, "/api/v1/setup", {
				body,
				headers: { "X-Setup-Token": SETUP_TOKEN },
			});
			expect(response.status, await response.clone().text()).toBe(201);
			expect(await guarded.database.db.select().from(users)).toHaveLength(1);
			await loginOk(guarded, { email: body.email, password: PASSWORD });
		});
	});
});

describe("login back-off (per account and per client address, in libSQL)", () => {
	it("after 5 failures the 6th attempt is refused with 429 and Retry-After, even with the right password", async () => {
		const seeded = await seedUser(h);
		for (let i = 0; i < 5; i++) {
			await expectError(
				await login(h, { email: seeded.email, password: OTHER_PASSWORD }),
				401,
				"invalid_credentials",
			);
		}
		const seconds = await expectThrottled(await login(h, seeded));
		expect(seconds).toBeGreaterThanOrEqual(1);
		// Still refused a moment before the block ends…
		h.clock.advance(seconds * 1000 - 1);
		await expectThrottled(await login(h, seeded));
		// …and the right password works once Retry-After has passed.
		h.clock.advance(1);
		await loginOk(h, seeded);
	});

	it("the account back-off grows exponentially and is capped: waiting 60 s always unblocks the account", async () => {
		const seeded = await seedUser(h);
		const fail = () =>
			login(h, { email: seeded.email, password: OTHER_PASSWORD }, { address: uniqueAddress() });
		for (let i = 0; i < 4; i++) expect((await fail()).status).toBe(401);
		const waits: number[] = [];
		for (let i = 0; i < 12; i++) {
			expect((await fail()).status).toBe(401);
			const seconds = await expectThrottled(await login(h, seeded, { address: uniqueAddress() }));
			waits.push(seconds);
			h.clock.advance(seconds * 1000);
		}
		expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]);
		expect((await throttleRow(`account:${seeded.email}`))?.failures).toBe(16);

		expect((await fail()).status).toBe(401);
		await expectThrottled(await login(h, seeded, { address: uniqueAddress() }));
		h.clock.advance(60_000);
		await loginOk(h, seeded, {}, { address: uniqueAddress() });
	});

	it("per address: 20 failures over different emails block that address, not others", async () => {
		const attacker = uniqueAddress();
		for (let i = 0; i < THROTTLE_SETTINGS.address.threshold; i++) {
			await expectError(
				await login(h, { email: uniqueEmail(), password: OTHER_PASSWORD }, { address: attacker }),
				401,
				"invalid_credentials",
			);
		}
		const victim = await seedUser(h);
		await expectThrottled(await login(h, victim, { address: attacker }));
		await loginOk(h, victim, {}, { address: uniqueAddress() });
		const row = await throttleRow(`address:${attacker}`);
		expect(row).toMatchObject({ failures: 20, lastFailureAt: h.clock.now() });
		expect(row?.blockedUntil).toBeGreaterThan(h.clock.now());
	});

	it("per address: an IPv6 client is counted by its /64, so new addresses in it do not reset the count", async () => {
		const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
		for (let i = 0; i < THROTTLE_SETTINGS.address.threshold; i++) {
			await expectError(
				await login(
					h,
					{ email: uniqueEmail(), password: OTHER_PASSWORD },
					{ address: `${prefix}::${i + 1}` },
				),
				401,
				"invalid_credentials",
			);
		}
		const victim = await seedUser(h);
		// A fresh address in the same /64, written out in full: blocked.
		await expectThrottled(await login(h, victim, { address: `${prefix}:0:0:0:ffff` }));
		// The next /64 is another subscriber's.
		await loginOk(h, victim, {}, { address: `${prefix.slice(0, -1)}8::1` });
		expect(await throttleRow(`address:${prefix}::/64`)).toMatchObject({ failures: 20 });
	});

	it("reads client addresses for the back-off as addresses", () => {
		expect(throttledAddress("2001:DB8:0:1:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:0:1::/64");
		expect(throttledAddress("2001:db8::1")).toBe("2001:db8:0:0::/64");
		expect(throttledAddress("[fe80::1%eth0]")).toBe("fe80:0:0:0::/64");
		expect(throttledAddress("::1")).toBe("0:0:0:0::/64");
		// IPv4, mapped into IPv6 by a dual-stack socket or not: the address itself.
		expect(throttledAddress("::ffff:192.0.2.7")).toBe("192.0.2.7");
		expect(throttledAddress("::ffff:c000:207")).toBe("192.0.2.7");
		expect(throttledAddress("192.0.2.7")).toBe("192.0.2.7");
		// Not an address: kept as it is (its own scope), never widened.
		for (const odd of ["unknown", "1:2:3", "1::2::3", "1:2:3:4:5:6:7:8:9", "::ffff:1.2.3.999", "g::1"]) {
			expect(throttledAddress(odd)).toBe(odd);
		}
	});

	it("a success forgives only itself: the failures before it still count until they are 15 minutes old", async () => {
		const seeded = await seedUser(h);
		const fail = async () =>
			expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD })).status).toBe(401);
		for (let i = 0; i < 4; i++) await fail();
		await loginOk(h, seeded);
		expect((await throttleRow(`account:${seeded.email}`))?.failures).toBe(4);
		await fail();
		await expectThrottled(await login(h, seeded));
		h.clock.advance(THROTTLE_SETTINGS.windowMs + 1);
		await fail();
		await loginOk(h, seeded);
	});

	it("successes do not keep earlier failures fresh: 15 minutes after them a typo starts a new count", async () => {
		const seeded = await seedUser(h);
		for (let i = 0; i < 4; i++)
			expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD })).status).toBe(401);
		h.clock.advance(10 * 60_000);
		await loginOk(h, seeded);
		h.clock.advance(6 * 60_000);
		// 16 minutes after the four failures: they are forgotten (the success had moved their time on,
		// and this typo was the fifth failure: blocked).
		expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD })).status).toBe(401);
		expect((await throttleRow(`account:${seeded.email}`))?.failures).toBe(1);
		await loginOk(h, seeded);
	});

	it("another org's account of the same email cannot reset the back-off: logging in to it between guesses does not help", async () => {
		// Mallory, an admin of her own org, created an account for the victim's email there: she knows
		// its password. The victim's account in another org has another password.
		const victim = await seedUser(h, { password: OTHER_PASSWORD });
		const planted = await seedUser(h, { email: victim.email });
		const guess = () => login(h, { email: victim.email, password: PASSWORD, org: victim.orgId });
		const plantedLogin = () =>
			login(h, { email: planted.email, password: planted.password, org: planted.orgId });
		const statuses: number[] = [];
		for (let round = 0; round < 3; round++) {
			statuses.push((await guess()).status, (await guess()).status, (await plantedLogin()).status);
		}
		// The fifth failure blocks the email: guesses and the planted account's logins alike. Before,
		// each planted login cleared the count: 401, 401, 200 forever.
		expect(statuses).toEqual([401, 401, 200, 401, 401, 200, 401, 429, 429]);
		expect((await throttleRow(`account:${victim.email}`))?.failures).toBe(5);
	});

	it("successes and totp_required answers count against neither scope", async () => {
		const address = uniqueAddress();
		const plain = await seedUser(h);
		const twoFactor = await seedUser(h);
		await enableTotp(h, (await loginOk(h, twoFactor)).token);
		for (let i = 0; i < THROTTLE_SETTINGS.address.threshold + 1; i++) {
			await loginOk(h, plain, {}, { address });
			await expectError(await login(h, twoFactor, { address }), 401, "totp_required");
		}
		expect(await throttleRow(`address:${address}`)).toMatchObject({ failures: 0, blockedUntil: 0 });
		expect(await throttleRow(`account:${twoFactor.email}`)).toMatchObject({ failures: 0, blockedUntil: 0 });
	});

	it("a success right at the threshold leaves no block on the address behind", async () => {
		const address = uniqueAddress();
		for (let i = 0; i < THROTTLE_SETTINGS.address.threshold - 1; i++) {
			await login(h, { email: uniqueEmail(), password: OTHER_PASSWORD }, { address });
		}
		const seeded = await seedUser(h);
		await loginOk(h, seeded, {}, { address });
		expect(await throttleRow(`address:${address}`)).toMatchObject({ failures: 19, blockedUntil: 0 });
		await loginOk(h, seeded, {}, { address });
	});

	it("failures older than the 15-minute window are forgotten", async () => {
		const seeded = await seedUser(h);
		for (let i = 0; i < 4; i++) {
			expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD })).status).toBe(401);
		}
		h.clock.advance(THROTTLE_SETTINGS.windowMs + 1);
		for (let i = 0; i < 4; i++) {
			expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD })).status).toBe(401);
		}
		expect((await throttleRow(`account:${seeded.email}`))?.failures).toBe(4);
		await loginOk(h, seeded);
	});

	it("within the window, failures keep counting", async () => {
		const seeded = await seedUser(h);
		for (let i = 0; i < 5; i++) {
			h.clock.advance(THROTTLE_SETTINGS.windowMs - 1_000);
			expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD })).status).toBe(401);
		}
		await expectThrottled(await login(h, seeded));
	});

	it("the counters are rows of login_throttles in libSQL, per account and per address", async () => {
		const seeded = await seedUser(h);
		const address = uniqueAddress();
		expect((await login(h, { email: seeded.email, password: OTHER_PASSWORD }, { address })).status).toBe(401);
		expect(await throttleRow(`account:${seeded.email}`)).toEqual({
			scope: `account:${seeded.email}`,
			failures: 1,
			lastFailureAt: h.clock.now(),
			blockedUntil: 0,
		});
		expect(await throttleRow(`address:${address}`)).toMatchObject({ failures: 1, blockedUntil: 0 });
		// The same counter whatever the email's case.
		expect(
			(await login(h, { email: seeded.email.toUpperCase(), password: OTHER_PASSWORD }, { address })).status,
		).toBe(401);
		expect((await throttleRow(`account:${seeded.email}`))?.failures).toBe(2);
	});

	it("wrong TOTP codes count as failures: 5 of them block even the right code", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const right = await codeNow(h, secret);
		const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
		for (let i = 0; i < 5; i++) {
			expect((await login(h, { email: seeded.email, password: PASSWORD, totp_code: wrong })).status).toBe(
				401,
			);
		}
		await expectThrottled(await login(h, { email: seeded.email, password: PASSWORD, totp_code: right }));
	});

	it("wrong codes once the password is right have their own back-off per user, over a day, up to an hour", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		const scope = `second-factor:${seeded.user.id}`;
		const wrongNow = async () => {
			const right = await codeNow(h, secret);
			return String((Number(right) + 500_000) % 1_000_000).padStart(6, "0");
		};
		// A wrong password counts nothing here: no one without it can slow the owner's codes down.
		await expectError(
			await login(h, { email: seeded.email, password: OTHER_PASSWORD, totp_code: await wrongNow() }),
			401,
			"invalid_credentials",
		);
		expect(await throttleRow(scope)).toBeUndefined();
		// Five wrong codes, each past the account's own back-off (at most 60 s).
		for (let i = 0; i < 5; i++) {
			h.clock.advance(61_000);
			await expectError(
				await login(h, { email: seeded.email, password: PASSWORD, totp_code: await wrongNow() }),
				401,
				"invalid_totp",
			);
		}
		expect(await throttleRow(scope)).toMatchObject({ failures: 5 });
		// Past the account's back-off, the right code still waits out the second factor's minute.
		h.clock.advance(31_000);
		const seconds = await expectThrottled(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: await codeNow(h, secret) }),
		);
		expect(seconds).toBeGreaterThan(1);
		expect(seconds).toBeLessThanOrEqual(60);
		h.clock.advance(seconds * 1000);
		await loginOk(h, seeded, { totp_code: await codeNow(h, secret) });
		// The count lasts a day, not the account's 15 minutes, and the sweep keeps it: twenty minutes
		// later one more wrong code blocks again, for longer (2 min), recovery codes too.
		h.clock.advance(20 * 60_000);
		await runSweep(h.deps);
		expect(await throttleRow(scope)).toMatchObject({ failures: 5 });
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: await wrongNow() }),
			401,
			"invalid_totp",
		);
		h.clock.advance(61_000);
		const longer = await expectThrottled(
			await login(h, { email: seeded.email, password: PASSWORD, recovery_code: "aaaa-bbbb-cccc" }),
		);
		expect(longer).toBeGreaterThan(30);
		expect(longer).toBeLessThanOrEqual(120);
		// A day without a wrong code forgets them (and the sweep deletes the row).
		h.clock.advance(THROTTLE_SETTINGS.secondFactor.windowMs + 1);
		await runSweep(h.deps);
		expect(await throttleRow(scope)).toBeUndefined();
	});

	it("whoever has the password can keep the codes blocked; changing the password, or an admin's 2FA reset, ends it", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { secret } = await enableTotp(h, token);
		const scope = `second-factor:${seeded.user.id}`;
		const block = async () => {
			for (let i = 0; i < 5; i++) {
				h.clock.advance(61_000);
				await login(h, { email: seeded.email, password: seeded.password, totp_code: "000000" });
			}
			h.clock.advance(31_000);
			await expectThrottled(
				await login(h, {
					email: seeded.email,
					password: seeded.password,
					totp_code: await codeNow(h, secret),
				}),
			);
		};
		await block();
		// Signed in elsewhere, the owner changes the password (past the account's own back-off, at most
		// a minute): the block on the codes is gone.
		h.clock.advance(61_000);
		const changed = await call(h, "/api/v1/me/password", {
			token,
			body: { current_password: PASSWORD, new_password: OTHER_PASSWORD },
		});
		expect(changed.status).toBe(200);
		expect(await throttleRow(scope)).toBeUndefined();
		seeded.password = OTHER_PASSWORD;
		h.clock.advance(30_000);
		await loginOk(h, seeded, { totp_code: await codeNow(h, secret) });
		// Blocked again; another owner of the org turns the 2FA off, which ends the block too.
		await block();
		const admin = await seedUser(h, { role: "owner", orgId: seeded.orgId });
		const reset = await call(h, `/api/v1/users/${seeded.user.id}/totp/reset`, {
			token: (await loginOk(h, admin)).token,
			body: { password: PASSWORD },
		});
		expect(reset.status).toBe(204);
		expect(await throttleRow(scope)).toBeUndefined();
	});

	it("the same back-off holds the codes of a 2FA disable (a stolen token with the password)", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { secret } = await enableTotp(h, token);
		for (let i = 0; i < 5; i++) {
			h.clock.advance(61_000);
			const disable = await call(h, "/api/v1/auth/totp/disable", {
				token,
				body: { password: PASSWORD, code: "not-a-code" },
			});
			await expectError(disable, 401, "invalid_totp");
		}
		h.clock.advance(31_000);
		await expectThrottled(
			await call(h, "/api/v1/auth/totp/disable", {
				token,
				body: { password: PASSWORD, code: await codeNow(h, secret) },
			}),
		);
	});

	it("a burst of concurrent guesses gets no more attempts than the threshold", async () => {
		const seeded = await seedUser(h);
		const responses = await Promise.all(
			Array.from({ length: 12 }, (_, i) =>
				login(h, { email: seeded.email, password: `${OTHER_PASSWORD} ${i}` }, { address: uniqueAddress() }),
			),
		);
		const statuses = responses.map((r) => r.status).sort();
		expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
		expect((await throttleRow(`account:${seeded.email}`))?.failures).toBe(5);
	});

	it("a burst from one address over many emails gets no more attempts than the address threshold", async () => {
		const address = uniqueAddress();
		const responses = await Promise.all(
			Array.from({ length: 30 }, () =>
				login(h, { email: uniqueEmail(), password: OTHER_PASSWORD }, { address }),
			),
		);
		const statuses = responses.map((r) => r.status).sort();
		expect(statuses).toEqual([...Array(20).fill(401), ...Array(10).fill(429)]);
	});
});

describe("TOTP codes and recovery codes are single-use", () => {
	it("the same TOTP code twice in its step → the second is 401 invalid_totp (replay)", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const code = await codeNow(h, secret);
		await loginOk(h, seeded, { totp_code: code });
		h.clock.advance(5_000);
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: code }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
		// Still refused in the next step, while ±1 would otherwise still accept it.
		h.clock.advance(30_000);
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: code }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});

	it("the code used to enable 2FA cannot log in", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const { secret } = await enableTotp(h, token);
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: await codeNow(h, secret) }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});

	it("an earlier step's code is refused once a later one was used", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(60_000);
		const previous = await codeNow(h, secret);
		h.clock.advance(30_000);
		await loginOk(h, seeded, { totp_code: await codeNow(h, secret) });
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, totp_code: previous }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
	});

	it("the same TOTP code sent twice at once → exactly one 200", async () => {
		const seeded = await seedUser(h);
		const { secret } = await enableTotp(h, (await loginOk(h, seeded)).token);
		h.clock.advance(30_000);
		const code = await codeNow(h, secret);
		const responses = await Promise.all([
			login(h, { email: seeded.email, password: PASSWORD, totp_code: code }),
			login(h, { email: seeded.email, password: PASSWORD, totp_code: code }),
		]);
		expect(responses.map((r) => r.status).sort()).toEqual([200, 401]);
	});

	it("a recovery code works once and only once, also under concurrency", async () => {
		const seeded = await seedUser(h);
		const { recoveryCodes: codes } = await enableTotp(h, (await loginOk(h, seeded)).token);
		const [first, second] = codes as [string, string];
		await loginOk(h, seeded, { recovery_code: first });
		await expectError(
			await login(h, { email: seeded.email, password: PASSWORD, recovery_code: first }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
		const responses = await Promise.all([
			login(h, { email: seeded.email, password: PASSWORD, recovery_code: second }),
			login(h, { email: seeded.email, password: PASSWORD, recovery_code: second.toUpperCase() }),
		]);
		expect(responses.map((r) => r.status).sort()).toEqual([200, 401]);
		const rows = await h.database.db
			.select()
			.from(recoveryCodes)
			.where(eq(recoveryCodes.userId, seeded.user.id));
		expect(rows.filter((r) => r.usedAt !== null)).toHaveLength(2);
	});

	it("another user's recovery code does not work", async () => {
		const alice = await seedUser(h);
		const bob = await seedUser(h);
		await enableTotp(h, (await loginOk(h, alice)).token);
		const { recoveryCodes: bobs } = await enableTotp(h, (await loginOk(h, bob)).token);
		await expectError(
			await login(h, { email: alice.email, password: PASSWORD, recovery_code: bobs[0] as string }),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
		await loginOk(h, bob, { recovery_code: bobs[0] as string });
	});

	it("re-enabling 2FA replaces the recovery codes: the old ones stop working", async () => {
		const seeded = await seedUser(h);
		const { token } = await loginOk(h, seeded);
		const first = await enableTotp(h, token);
		h.clock.advance(30_000);
		const disable = await call(h, "/api/v1/auth/totp/disable", {
			token,
			body: { password: PASSWORD, code: await codeNow(h, first.secret) },
		});
		expect(disable.status).toBe(204);
		h.clock.advance(30_000);
		const second = await enableTotp(h, token);
		expect(second.secret).not.toBe(first.secret);
		await expectError(
			await login(h, {
				email: seeded.email,
				password: PASSWORD,
				recovery_code: first.recoveryCodes[0] as string,
			}),
			401,
			"invalid_totp",
			BEARER_CHALLENGE,
		);
		await loginOk(h, seeded, { recovery_code: second.recoveryCodes[0] as string });
	});
});

describe("secrets at rest", () => {
	it("the TOTP secret is encrypted, recovery codes are keyed hashes, refresh tokens are SHA-256 only", async () => {
		const seeded = await seedUser(h);
		const session = await loginOk(h, seeded);
		const { secret, recoveryCodes: codes } = await enableTotp(h, session.token);

		const [row] = await h.database.db.select().from(users).where(eq(users.id, seeded.user.id));
		expect(row?.totpSecret).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
		expect(row?.totpSecret).not.toContain(secret);

		const stored = await h.database.db
			.select()
			.from(recoveryCodes)
			.where(eq(recoveryCodes.userId, seeded.user.id));
		expect(stored).toHaveLength(10);
		const plain = new Set(codes.flatMap((c) => [c, c.replace("-", "")]));
		const sha = new Set(codes.map((c) => createHash("sha256").update(c.replace("-", "")).digest("hex")));
		for (const { codeHash } of stored) {
			expect(codeHash).toMatch(/^[0-9a-f]{64}$/);
			expect(plain.has(codeHash)).toBe(false);
			// Keyed (HMAC), not a bare SHA-256 someone could brute-force from a leaked table.
			expect(sha.has(codeHash)).toBe(false);
		}

		const tokens = await h.database.db.select().from(refreshTokens);
		expect(tokens.map((t) => t.tokenHash)).toContain(
			createHash("sha256").update(session.cookie).digest("hex"),
		);
		expect(JSON.stringify(tokens)).not.toContain(session.cookie);
		expect(JSON.stringify(tokens)).not.toContain(session.cookie.slice(4));
	});
});

describe("refresh-token reuse", () => {
	it("a rotated token replayed after the 10 s grace → 401 refresh_token_reused and the family is revoked", async () => {
		const seeded = await seedUser(h);
		const first = await loginOk(h, seeded);
		const bystander = await loginOk(h, seeded);
		const second = await expectSession(await refresh(h, first.cookie));
		h.clock.advance(10_001);

		const replay = await refresh(h, first.cookie);
		expect(refreshCookieOf(replay)?.line).toMatch(/^hexcovery_refresh=; Max-Age=0;/);
		await expectError(replay, 401, "refresh_token_reused", BEARER_CHALLENGE);
		// The newest token of the family fails too: the whole session is over.
		await expectError(await refresh(h, second.cookie), 401, "invalid_token", BEARER_CHALLENGE);
		// And the replay keeps failing.
		await expectError(await refresh(h, first.cookie), 401, "refresh_token_reused", BEARER_CHALLENGE);

		const families = await h.database.db
			.select()
			.from(refreshFamilies)
			.where(eq(refreshFamilies.userId, seeded.user.id));
		expect(families.map((f) => f.revokedReason).sort()).toEqual([null, "reuse"]);
		// The user's other session (another device) is untouched.
		await expectSession(await refresh(h, bystander.cookie));
	});

	it("a replay of a token whose successor was already used also revokes the family", async () => {
		const seeded = await seedUser(h);
		const first = await loginOk(h, seeded);
		h.clock.advance(20_000);
		const second = await expectSession(await refresh(h, first.cookie));
		h.clock.advance(20_000);
		const third = await expectSession(await refresh(h, second.cookie));
		await expectError(await refresh(h, first.cookie), 401, "refresh_token_reused", BEARER_CHALLENGE);
		await expectError(await refresh(h, third.cookie), 401, "invalid_token", BEARER_CHALLENGE);
	});

	it("within the grace window a rotation has at most 8 successors (parallel reuses too); later rotations start afresh", async () => {
		const seeded = await seedUser(h);
		const first = await loginOk(h, seeded);
		const successor = await expectSession(await refresh(h, first.cookie));
		// Twenty tabs at once with the rotated cookie: seven more successors, the others refused
		// (counted and inserted in one statement each: a count-then-insert let all twenty through).
		h.clock.advance(100);
		const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(h, first.cookie)));
		const statuses = answers.map((a) => a.status);
		expect(statuses.filter((s) => s === 200)).toHaveLength(SESSION_SETTINGS.maxSuccessorsPerRotation - 1);
		expect(statuses.filter((s) => s === 401)).toHaveLength(
			20 - (SESSION_SETTINGS.maxSuccessorsPerRotation - 1),
		);
		// The session goes on; an hour later two tabs refreshing together both stay signed in (the
		// leftover successors of the burst do not count against a later rotation).
		const next = await expectSession(await refresh(h, successor.cookie));
		h.clock.advance(3_600_000);
		const both = await Promise.all([refresh(h, next.cookie), refresh(h, next.cookie)]);
		expect(both.map((r) => r.status)).toEqual([200, 200]);
	});

	it("a user has at most 50 sessions: a login beyond signs the least recently used out", async () => {
		const seeded = await seedUser(h);
		const oldest = await loginOk(h, seeded);
		h.clock.advance(1_000);
		const second = await loginOk(h, seeded);
		h.clock.advance(1_000);
		// The oldest session is in use (a refresh): it is not the one to go.
		const inUse = await expectSession(await refresh(h, oldest.cookie));
		for (let i = 0; i < SESSION_SETTINGS.maxSessionsPerUser - 1; i++) {
			h.clock.advance(1_000);
			await loginOk(h, seeded);
		}
		await expectError(await refresh(h, second.cookie), 401, "invalid_token", BEARER_CHALLENGE);
		await expectSession(await refresh(h, inUse.cookie));
		const live = await h.database.db
			.select()
			.from(refreshFamilies)
			.where(and(eq(refreshFamilies.userId, seeded.user.id), isNull(refreshFamilies.revokedAt)));
		expect(live).toHaveLength(SESSION_SETTINGS.maxSessionsPerUser);
		expect(
			(await h.database.db.select().from(refreshFamilies).where(eq(refreshFamilies.userId, seeded.user.id)))
				.map((f) => f.revokedReason)
				.filter((r) => r !== null),
		).toEqual(["session_limit"]);
	});

	it("a rotated token replayed within the grace window after logout does not revive the session", async () => {
		const seeded = await seedUser(h);
		const first = await loginOk(h, seeded);
		const second = await expectSession(await refresh(h, first.cookie));
		expect((await logout(h, second.cookie)).status).toBe(204);
		h.clock.advance(1_000);
		await expectError(await refresh(h, first.cookie), 401, "invalid_token", BEARER_CHALLENGE);
		await expectError(await refresh(h, second.cookie), 401, "invalid_token", BEARER_CHALLENGE);
	});
});

describe("origin checks on the cookie routes", () => {
	const foreign = [
		["a foreign origin", { Origin: "https://evil.example.net" }],
		["the allowed host over http", { Origin: "http://dashboard.example.com" }],
		["a look-alike subdomain", { Origin: "https://dashboard.example.com.evil.net" }],
		["an opaque origin", { Origin: "null" }],
		["Sec-Fetch-Site: cross-site", { "Sec-Fetch-Site": "cross-site" }],
		[
			"an allowed origin but Sec-Fetch-Site: cross-site",
			{ Origin: ALLOWED_ORIGIN, "Sec-Fetch-Site": "cross-site" },
		],
	] as const;

	it.each(foreign)(
		"login from %s → 403 origin_not_allowed, no cookie, nothing counted",
		async (_, headers) => {
			const seeded = await seedUser(h);
			const response = await login(h, seeded, { headers: { ...headers } });
			expect(refreshCookieOf(response)).toBeNull();
			await expectError(response, 403, "origin_not_allowed");
			expect(await h.database.db.select().from(loginThrottles)).toHaveLength(0);
		},
	);

	it.each(foreign)(
		"refresh from %s → 403 origin_not_allowed and the token is not rotated",
		async (_, headers) => {
			const seeded = await seedUser(h);
			const { cookie } = await loginOk(h, seeded);
			const response = await refresh(h, cookie, { headers: { ...headers } });
			expect(refreshCookieOf(response)).toBeNull();
			await expectError(response, 403, "origin_not_allowed");
			h.clock.advance(60_000);
			await expectSession(await refresh(h, cookie));
		},
	);

	it.each(foreign)("logout from %s → 403 origin_not_allowed and the session lives on", async (_, headers) => {
		const seeded = await seedUser(h);
		const { cookie } = await loginOk(h, seeded);
		const response = await logout(h, cookie, { headers: { ...headers } });
		expect(refreshCookieOf(response)).toBeNull();
		await expectError(response, 403, "origin_not_allowed");
		await expectSession(await refresh(h, cookie));
	});
});

describe("an admin turns off another user's lost 2FA (POST /api/v1/users/:id/totp/reset)", () => {
	async function orgWithTwoFactorUser(targetRole: "member" | "owner" = "member") {
		const owner = await seedUser(h, { role: "owner" });
		const admin = await seedUser(h, { role: "admin", orgId: owner.orgId });
		// The target's password is not the admins': the reset must check the caller's.
		const target = await seedUser(h, { role: targetRole, orgId: owner.orgId, password: OTHER_PASSWORD });
		const session = await loginOk(h, target);
		const { secret } = await enableTotp(h, session.token, target.password);
		return { owner, admin, target, secret, session };
	}
	const reset = (token: string, id: string, password: string) =>
		call(h, `/api/v1/users/${id}/totp/reset`, { token, body: { password } });

	it("needs the admin's own password; then the user signs in without a code and every old session ended", async () => {
		const { admin, target, session } = await orgWithTwoFactorUser();
		const { token } = await loginOk(h, admin);
		// A stolen access token alone is not enough, nor the target's password.
		await expectError(
			await reset(token, target.user.id, "not the admin's password"),
			401,
			"invalid_credentials",
		);
		await expectError(await reset(token, target.user.id, OTHER_PASSWORD), 401, "invalid_credentials");
		await expectError(await login(h, target), 401, "totp_required");
		expect((await reset(token, target.user.id, PASSWORD)).status).toBe(204);
		// The old session's refresh token no longer works; a login needs no code.
		expect((await refresh(h, session.cookie)).status).toBe(401);
		await loginOk(h, target);
		const [row] = await h.database.db.select().from(users).where(eq(users.id, target.user.id));
		expect(row).toMatchObject({ totpSecret: null, totpEnabledAt: null });
		expect(
			await h.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, target.user.id)),
		).toEqual([]);
		// Off already: 409.
		await expectError(await reset(token, target.user.id, PASSWORD), 409, "totp_not_enabled");
	});

	it("only owners reset an owner's; nobody resets their own here; another org's user is 404; members cannot", async () => {
		const { owner, admin, target } = await orgWithTwoFactorUser("owner");
		const adminToken = (await loginOk(h, admin)).token;
		await expectError(await reset(adminToken, target.user.id, PASSWORD), 403, "insufficient_role");
		const ownerToken = (await loginOk(h, owner)).token;
		const mine = await orgWithTwoFactorUser();
		await expectError(await reset(ownerToken, mine.target.user.id, PASSWORD), 404, "not_found");
		await expectError(await reset(ownerToken, owner.user.id, PASSWORD), 409, "conflict");
		const member = await seedUser(h, { role: "member", orgId: owner.orgId });
		await expectError(
			await reset((await loginOk(h, member)).token, target.user.id, PASSWORD),
			403,
			"insufficient_role",
		);
		expect((await reset(ownerToken, target.user.id, PASSWORD)).status).toBe(204);
	});
});
