import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashApiKey, isWellFormedApiKey } from "../../src/auth/api-key.js";
import type { KeyValueStore } from "../../src/auth/key-resolver.js";
import { checkPasswordPolicy, verifyPassword } from "../../src/auth/password.js";
import { apiKeys, orgs, refreshFamilies, teamMembers, type UserRow, users } from "../../src/db/schema.js";
import { createOrg } from "../../src/services/api-keys.js";
import { startRefreshFamily } from "../../src/services/sessions.js";
import { FakeClock } from "../support/clock.js";
import { type Answer, seedUser, send, sessionFor } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

/** 2026-11-28T12:00:00.000Z */
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

/** Workers KV, reduced to a Map: put and delete take effect at once. */
class MapKv implements KeyValueStore {
	readonly entries = new Map<string, string>();
	async get(key: string) {
		return this.entries.get(key) ?? null;
	}
	async put(key: string, value: string) {
		this.entries.set(key, value);
	}
	async delete(key: string) {
		this.entries.delete(key);
	}
}

interface Org {
	id: string;
	owner: UserRow;
	admin: UserRow;
	member: UserRow;
	viewer: UserRow;
	as: Record<"owner" | "admin" | "member" | "viewer", { token: string }>;
}

let t: TestApp;
let kv: MapKv;
let a: Org;
let b: Org;

async function seedOrg(name: string): Promise<Org> {
	const org = await createOrg(t.database.db, t.clock, name);
	const owner = await seedUser(t, { orgId: org.id, role: "owner", name: `${name} Owner` });
	const admin = await seedUser(t, { orgId: org.id, role: "admin", name: `${name} Admin` });
	const member = await seedUser(t, { orgId: org.id, role: "member", name: `${name} Member` });
	const viewer = await seedUser(t, { orgId: org.id, role: "viewer", name: `${name} Viewer` });
	return {
		id: org.id,
		owner,
		admin,
		member,
		viewer,
		as: {
			owner: await sessionFor(t, owner),
			admin: await sessionFor(t, admin),
			member: await sessionFor(t, member),
			viewer: await sessionFor(t, viewer),
		},
	};
}

beforeEach(async () => {
	kv = new MapKv();
	t = await createTestApp({ clock: new FakeClock(T0), kv });
	a = await seedOrg("Acme");
	b = await seedOrg("Globex");
});
afterEach(() => t.close());

function expectError(answer: Answer, status: number, code: string): void {
	expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({ status, code });
	expect(answer.text).not.toMatch(/SQLITE|stack|at \w+ \(/);
}

async function userRow(id: string): Promise<UserRow | undefined> {
	const [row] = await t.database.db.select().from(users).where(eq(users.id, id));
	return row;
}

describe("API keys", () => {
	it("shows the key once at creation and never again; lists and renames without it", async () => {
		const created = await send(t, "POST", "/api/v1/api-keys", {
			auth: a.as.admin,
			body: { name: "  deploy bot  ", expires_at: "2027-01-01T00:00:00Z" },
		});
		expect(created.status).toBe(201);
		expect(created.headers.get("Cache-Control")).toBe("no-store");
		const key = created.json.key as string;
		expect(isWellFormedApiKey(key)).toBe(true);
		expect(created.json).toEqual({
			id: expect.stringMatching(/^key_/),
			name: "deploy bot",
			start: key.slice(0, 8),
			created_at: new Date(T0).toISOString(),
			created_by: a.admin.id,
			last_used_at: null,
			expires_at: "2027-01-01T00:00:00.000Z",
			revoked_at: null,
			status: "active",
			key,
		});
		const hash = hashApiKey(key);

		const renamed = await send(t, "PATCH", `/api/v1/api-keys/${created.json.id}`, {
			auth: a.as.owner,
			body: { name: "deploy" },
		});
		expect(renamed.status).toBe(200);
		expect(renamed.json.name).toBe("deploy");
		expect(renamed.json).not.toHaveProperty("key");

		const listed = await send(t, "GET", "/api/v1/api-keys", { auth: a.as.admin });
		expect(listed.status).toBe(200);
		expect(listed.json.data).toHaveLength(1);
		expect(listed.json.data[0]).toEqual({ ...created.json, name: "deploy", key: undefined });
		for (const answer of [listed, renamed]) {
			expect(answer.text).not.toContain(key);
			expect(answer.text).not.toContain(hash);
		}
		// The other org sees none of it.
		expect((await send(t, "GET", "/api/v1/api-keys", { auth: b.as.admin })).json.data).toEqual([]);
	});

	it("revocation takes effect on the very next request and clears KV; revoking again is 204", async () => {
		const created = await send(t, "POST", "/api/v1/api-keys", { auth: a.as.admin, body: { name: "ci" } });
		const key = created.json.key as string;
		const hash = hashApiKey(key);
		// Warm every cache tier with the key.
		expect((await send(t, "GET", "/api/v1/annotations", { auth: { key } })).status).toBe(200);
		expect(kv.entries.has(`apikey:${hash}`)).toBe(true);
		const readsBefore = t.store.reads;
		expect((await send(t, "GET", "/api/v1/annotations", { auth: { key } })).status).toBe(200);
		expect(t.store.reads).toBe(readsBefore); // served from memory: revocation must clear it

		expect(
			(await send(t, "DELETE", `/api/v1/api-keys/${created.json.id}`, { auth: a.as.admin })).status,
		).toBe(204);
		expect(kv.entries.has(`apikey:${hash}`)).toBe(false);
		expectError(await send(t, "GET", "/api/v1/annotations", { auth: { key } }), 401, "invalid_api_key");

		const revokedAt = new Date(T0).toISOString();
		t.clock.advance(60_000);
		expect(
			(await send(t, "DELETE", `/api/v1/api-keys/${created.json.id}`, { auth: a.as.owner })).status,
		).toBe(204);
		const [listed] = (await send(t, "GET", "/api/v1/api-keys", { auth: a.as.admin })).json.data;
		expect(listed).toMatchObject({ status: "revoked", revoked_at: revokedAt });
	});

	it("reports expired keys and refuses an expiry in the past or bad input with details", async () => {
		const soon = await send(t, "POST", "/api/v1/api-keys", {
			auth: a.as.admin,
			body: { name: "short", expires_at: T0 + 1000 },
		});
		expect(soon.status).toBe(201);
		t.clock.advance(2000);
		expect((await send(t, "GET", "/api/v1/api-keys", { auth: a.as.admin })).json.data[0].status).toBe(
			"expired",
		);

		const past = await send(t, "POST", "/api/v1/api-keys", {
			auth: a.as.admin,
			body: { name: "late", expires_at: "2020-01-01T00:00:00Z" },
		});
		expectError(past, 400, "invalid_request");
		expect(past.json.error.details).toEqual([{ path: "expires_at", message: expect.any(String) }]);

		for (const body of [
			{ name: "" },
			{ name: "x".repeat(201) },
			{},
			{ name: "x", org_id: b.id },
			{ name: 5 },
		]) {
			const answer = await send(t, "POST", "/api/v1/api-keys", { auth: a.as.admin, body });
			expectError(answer, 400, "invalid_request");
			expect(answer.json.error.details.length).toBeGreaterThan(0);
		}
		expectError(
			await send(t, "GET", `/api/v1/api-keys?org_id=${b.id}`, { auth: a.as.admin }),
			400,
			"invalid_request",
		);
		expect(await t.database.db.select().from(apiKeys)).toHaveLength(1);
	});

	it("another org's key is 404 for rename and revoke, and keeps working", async () => {
		const created = await send(t, "POST", "/api/v1/api-keys", { auth: b.as.admin, body: { name: "globex" } });
		const id = created.json.id as string;
		expectError(
			await send(t, "PATCH", `/api/v1/api-keys/${id}`, { auth: a.as.owner, body: { name: "stolen" } }),
			404,
			"not_found",
		);
		expectError(await send(t, "DELETE", `/api/v1/api-keys/${id}`, { auth: a.as.owner }), 404, "not_found");
		expectError(
			await send(t, "DELETE", "/api/v1/api-keys/key_missing", { auth: a.as.owner }),
			404,
			"not_found",
		);
		expect((await send(t, "GET", "/api/v1/annotations", { auth: { key: created.json.key } })).status).toBe(
			200,
		);
		const [row] = await t.database.db.select().from(apiKeys).where(eq(apiKeys.id, id));
		expect(row).toMatchObject({ name: "globex", revokedAt: null });
	});
});

describe("users", () => {
	it("invites with a one-time password; the invitee must change it first", async () => {
		const invited = await send(t, "POST", "/api/v1/users", {
			auth: a.as.admin,
			body: { email: "  Grace@Example.COM ", name: "Grace", role: "member" },
		});
		expect(invited.status).toBe(201);
		expect(invited.headers.get("Cache-Control")).toBe("no-store");
		const initial = invited.json.initial_password as string;
		expect(initial.length).toBeGreaterThanOrEqual(20);
		expect(checkPasswordPolicy(initial)).toBeNull();
		expect(invited.json).toMatchObject({
			org_id: a.id,
			email: "grace@example.com",
			name: "Grace",
			role: "member",
			must_change_password: true,
			disabled: false,
			totp_enabled: false,
		});
		const row = (await userRow(invited.json.id)) as UserRow;
		expect(row.mustChangePassword).toBe(true);
		expect((await verifyPassword(initial, row.passwordHash as string)).ok).toBe(true);

		const listed = await send(t, "GET", "/api/v1/users", { auth: a.as.viewer });
		expect(listed.json.data.map((u: { email: string }) => u.email)).toContain("grace@example.com");
		expect(listed.text).not.toContain(initial);
		expect(listed.text).not.toContain("initial_password");

		// Its token carries `pcr`: only /me and /me/password until the password is changed.
		const session = await sessionFor(t, row);
		expectError(
			await send(t, "GET", "/api/v1/annotations", { auth: session }),
			403,
			"password_change_required",
		);
		expectError(await send(t, "GET", "/api/v1/users", { auth: session }), 403, "password_change_required");
		const me = await send(t, "GET", "/api/v1/me", { auth: session });
		expect(me.status).toBe(200);
		expect(me.json.must_change_password).toBe(true);
	});

	it("emails are unique within an org (409 conflict); bad input is 400 with details", async () => {
		const taken = [a.member.email.toUpperCase(), a.viewer.email];
		for (const email of taken) {
			expectError(
				await send(t, "POST", "/api/v1/users", {
					auth: a.as.admin,
					body: { email, name: "Dup", role: "viewer" },
				}),
				409,
				"conflict",
			);
		}
		const bad = [
			{ email: "not-an-email", name: "X", role: "member" },
			{ email: "x@example.com", name: "X", role: "superuser" },
			{ email: "x@example.com", name: " ", role: "member" },
			{ email: "x@example.com", name: "X", role: "member", org_id: b.id },
			{ email: "x@example.com", name: "X" },
		];
		for (const body of bad) {
			const answer = await send(t, "POST", "/api/v1/users", { auth: a.as.admin, body });
			expectError(answer, 400, "invalid_request");
			expect(answer.json.error.details.length).toBeGreaterThan(0);
		}
		for (const body of [{}, { disabled: "yes" }, { role: "root" }, { name: "n", org_id: b.id }]) {
			const answer = await send(t, "PATCH", `/api/v1/users/${a.member.id}`, { auth: a.as.admin, body });
			expectError(answer, 400, "invalid_request");
			expect(answer.json.error.details.length).toBeGreaterThan(0);
		}
		expect(await t.database.db.select().from(users)).toHaveLength(8);
	});

	it("only owners grant the owner role or change an owner", async () => {
		const asAdmin = (method: string, path: string, body?: unknown) =>
			send(t, method, path, { auth: a.as.admin, body });
		expectError(
			await asAdmin("POST", "/api/v1/users", { email: "boss@example.com", name: "Boss", role: "owner" }),
			403,
			"insufficient_role",
		);
		expectError(
			await asAdmin("PATCH", `/api/v1/users/${a.member.id}`, { role: "owner" }),
			403,
			"insufficient_role",
		);
		expectError(
			await asAdmin("PATCH", `/api/v1/users/${a.admin.id}`, { role: "owner" }),
			403,
			"insufficient_role",
		);
		for (const body of [{ role: "admin" }, { disabled: true }, { name: "Renamed" }]) {
			expectError(await asAdmin("PATCH", `/api/v1/users/${a.owner.id}`, body), 403, "insufficient_role");
		}
		expectError(await asAdmin("DELETE", `/api/v1/users/${a.owner.id}`), 403, "insufficient_role");
		expect(await userRow(a.owner.id)).toMatchObject({ role: "owner", disabledAt: null, name: a.owner.name });

		// Admins manage everyone else.
		const promoted = await asAdmin("PATCH", `/api/v1/users/${a.member.id}`, { role: "admin", name: "Mem" });
		expect(promoted.status).toBe(200);
		expect(promoted.json).toMatchObject({ id: a.member.id, role: "admin", name: "Mem" });

		const owner = (method: string, path: string, body?: unknown) =>
			send(t, method, path, { auth: a.as.owner, body });
		expect((await owner("PATCH", `/api/v1/users/${a.member.id}`, { role: "owner" })).json.role).toBe("owner");
		const invited = await owner("POST", "/api/v1/users", {
			email: "boss@example.com",
			name: "Boss",
			role: "owner",
		});
		expect(invited.status).toBe(201);
		expect(invited.json.role).toBe("owner");
		expect((await owner("PATCH", `/api/v1/users/${a.member.id}`, { role: "viewer" })).json.role).toBe(
			"viewer",
		);
	});

	it("the last active owner cannot be demoted, disabled or deleted (409 last_owner)", async () => {
		const self = (method: string, body?: unknown) =>
			send(t, method, `/api/v1/users/${a.owner.id}`, { auth: a.as.owner, body });
		expectError(await self("PATCH", { role: "admin" }), 409, "last_owner");
		expectError(await self("PATCH", { disabled: true }), 409, "last_owner");
		expectError(await self("DELETE"), 409, "last_owner");

		// A disabled owner does not count: the active one is still the last.
		const dormant = await seedUser(t, { orgId: a.id, role: "owner", disabled: true });
		expectError(await self("PATCH", { role: "member" }), 409, "last_owner");
		expect(await userRow(a.owner.id)).toMatchObject({ role: "owner", disabledAt: null });

		// With a second active owner, stepping down works; disabling or deleting oneself never does.
		await t.database.db.update(users).set({ disabledAt: null }).where(eq(users.id, dormant.id));
		expectError(await self("PATCH", { disabled: true }), 409, "conflict");
		expectError(await self("DELETE"), 409, "conflict");
		const stepped = await self("PATCH", { role: "admin" });
		expect(stepped.status).toBe(200);
		expect(stepped.json.role).toBe("admin");
		// Now `dormant` is the last owner, and `a.owner` (an admin now, at once) cannot touch it.
		const asNewOwner = await sessionFor(t, dormant);
		expectError(
			await send(t, "PATCH", `/api/v1/users/${dormant.id}`, { auth: asNewOwner, body: { role: "member" } }),
			409,
			"last_owner",
		);
		expectError(
			await send(t, "DELETE", `/api/v1/users/${dormant.id}`, { auth: a.as.owner }),
			403,
			"insufficient_role",
		);
	});

	it("the last-owner guard sits in the write itself: an owner removed mid-request cannot remove the other", async () => {
		// Deterministic interleaving: the caller passes the guard as an active owner, then — just before
		// its own write reaches the database — another request disables it. Its write must then fail.
		const second = await seedUser(t, { orgId: a.id, role: "owner" });
		const client = t.database.client;
		const execute = client.execute.bind(client);
		const batch = client.batch.bind(client);
		let interleave = false;
		const disableCaller = async (sqlText: string) => {
			if (interleave && /^(update|delete from) "users"/.test(sqlText)) {
				interleave = false;
				await execute({ sql: "UPDATE users SET disabled_at = 1 WHERE id = ?", args: [a.owner.id] });
			}
		};
		client.execute = (async (stmt: { sql: string }) => {
			await disableCaller(stmt.sql);
			return execute(stmt as never);
		}) as typeof client.execute;
		client.batch = (async (stmts: { sql: string }[], mode?: never) => {
			await disableCaller(stmts[0]?.sql ?? "");
			return batch(stmts as never, mode);
		}) as typeof client.batch;

		for (const [method, body] of [
			["PATCH", { disabled: true }],
			["PATCH", { role: "member" }],
			["DELETE", undefined],
		] as const) {
			interleave = true;
			const answer = await send(t, method, `/api/v1/users/${second.id}`, { auth: a.as.owner, body });
			expect(interleave).toBe(false);
			expectError(answer, 409, "last_owner");
			expect(await userRow(second.id)).toMatchObject({ role: "owner", disabledAt: null });
			await execute({ sql: "UPDATE users SET disabled_at = NULL WHERE id = ?", args: [a.owner.id] });
		}
		client.execute = execute;
		client.batch = batch;
	});

	it("disabling revokes the user's refresh families and refuses their token on management routes", async () => {
		const now = t.clock.now();
		await startRefreshFamily(t.database.db, a.member, now);
		await startRefreshFamily(t.database.db, a.member, now);
		await startRefreshFamily(t.database.db, a.viewer, now);
		t.clock.advance(5000);

		const disabled = await send(t, "PATCH", `/api/v1/users/${a.member.id}`, {
			auth: a.as.admin,
			body: { disabled: true },
		});
		expect(disabled.status).toBe(200);
		expect(disabled.json.disabled).toBe(true);
		const families = await t.database.db.select().from(refreshFamilies);
		expect(
			families.filter((f) => f.userId === a.member.id).map((f) => [f.revokedAt, f.revokedReason]),
		).toEqual([
			[now + 5000, "disabled"],
			[now + 5000, "disabled"],
		]);
		expect(families.find((f) => f.userId === a.viewer.id)?.revokedAt).toBeNull();

		const refused = await send(t, "GET", "/api/v1/users", { auth: a.as.member });
		expectError(refused, 401, "invalid_token");
		expect(refused.headers.get("WWW-Authenticate")).toContain("Bearer");

		const enabled = await send(t, "PATCH", `/api/v1/users/${a.member.id}`, {
			auth: a.as.admin,
			body: { disabled: false },
		});
		expect(enabled.json.disabled).toBe(false);
		expect((await send(t, "GET", "/api/v1/users", { auth: a.as.member })).status).toBe(200);
	});

	it("a demoted user is held to the current role at once, whatever the token says", async () => {
		await send(t, "PATCH", `/api/v1/users/${a.admin.id}`, { auth: a.as.owner, body: { role: "member" } });
		expectError(
			await send(t, "POST", "/api/v1/api-keys", { auth: a.as.admin, body: { name: "late" } }),
			403,
			"insufficient_role",
		);
		// An admin whose token claims owner (say, demoted since) cannot grant owner: the database decides.
		const admin = await seedUser(t, { orgId: a.id, role: "admin" });
		const forged = await sessionFor(t, admin, { role: "owner" });
		expectError(
			await send(t, "PATCH", `/api/v1/users/${a.member.id}`, { auth: forged, body: { role: "owner" } }),
			403,
			"insufficient_role",
		);
	});

	it("deletes a user with their sessions and memberships", async () => {
		const team = await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body: { name: "ops" } });
		await send(t, "PUT", `/api/v1/teams/${team.json.id}/members/${a.member.id}`, { auth: a.as.admin });
		await startRefreshFamily(t.database.db, a.member, t.clock.now());

		expect((await send(t, "DELETE", `/api/v1/users/${a.member.id}`, { auth: a.as.admin })).status).toBe(204);
		expect(await userRow(a.member.id)).toBeUndefined();
		expect(
			await t.database.db.select().from(refreshFamilies).where(eq(refreshFamilies.userId, a.member.id)),
		).toEqual([]);
		expect(await t.database.db.select().from(teamMembers).where(eq(teamMembers.userId, a.member.id))).toEqual(
			[],
		);
		expect(
			(await send(t, "GET", `/api/v1/teams/${team.json.id}`, { auth: a.as.viewer })).json.member_count,
		).toBe(0);
		expectError(
			await send(t, "DELETE", `/api/v1/users/${a.member.id}`, { auth: a.as.admin }),
			404,
			"not_found",
		);
	});

	it("another org's user is 404 for every :id route and stays untouched", async () => {
		for (const [method, body] of [
			["PATCH", { name: "pwned" }],
			["PATCH", { disabled: true }],
			["PATCH", { role: "viewer" }],
			["DELETE", undefined],
		] as const) {
			expectError(
				await send(t, method, `/api/v1/users/${b.admin.id}`, { auth: a.as.owner, body }),
				404,
				"not_found",
			);
		}
		expect(await userRow(b.admin.id)).toEqual(b.admin);
		const listed = await send(t, "GET", "/api/v1/users", { auth: a.as.viewer });
		expect(listed.json.data.map((u: { id: string }) => u.id).sort()).toEqual(
			[a.owner.id, a.admin.id, a.member.id, a.viewer.id].sort(),
		);
	});
});

describe("teams", () => {
	it("creates, lists with member counts, shows members, renames and deletes", async () => {
		const created = await send(t, "POST", "/api/v1/teams", {
			auth: a.as.admin,
			body: { name: "payments", description: "Checkout" },
		});
		expect(created.status).toBe(201);
		expect(created.json).toMatchObject({ name: "payments", description: "Checkout", member_count: 0 });
		const id = created.json.id as string;
		await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body: { name: "ads" } });

		for (const user of [a.member, a.viewer, a.member]) {
			expect(
				(await send(t, "PUT", `/api/v1/teams/${id}/members/${user.id}`, { auth: a.as.admin })).status,
			).toBe(204);
		}
		const list = await send(t, "GET", "/api/v1/teams", { auth: a.as.viewer });
		expect(
			list.json.data.map((x: { name: string; member_count: number }) => [x.name, x.member_count]),
		).toEqual([
			["ads", 0],
			["payments", 2],
		]);
		const shown = await send(t, "GET", `/api/v1/teams/${id}`, { auth: a.as.viewer });
		expect(shown.status).toBe(200);
		expect(shown.json.member_count).toBe(2);
		expect(shown.json.members).toEqual(
			[a.member, a.viewer]
				.map((u) => ({ id: u.id, name: u.name, email: u.email, role: u.role }))
				.sort((x, y) => x.name.localeCompare(y.name)),
		);

		for (let i = 0; i < 2; i++) {
			const removed = await send(t, "DELETE", `/api/v1/teams/${id}/members/${a.viewer.id}`, {
				auth: a.as.admin,
			});
			expect(removed.status).toBe(204);
		}
		const patched = await send(t, "PATCH", `/api/v1/teams/${id}`, {
			auth: a.as.admin,
			body: { name: "billing", description: null },
		});
		expect(patched.status).toBe(200);
		expect(patched.json).toMatchObject({ name: "billing", description: null, member_count: 1 });

		expect((await send(t, "DELETE", `/api/v1/teams/${id}`, { auth: a.as.admin })).status).toBe(204);
		expectError(await send(t, "GET", `/api/v1/teams/${id}`, { auth: a.as.admin }), 404, "not_found");
		expect(await userRow(a.member.id)).toBeDefined();
		expect(await t.database.db.select().from(teamMembers).where(eq(teamMembers.teamId, id))).toEqual([]);
	});

	it("team names are unique per org (409 conflict); bad input is 400 with details", async () => {
		const first = await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body: { name: "sre" } });
		const other = await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body: { name: "dev" } });
		expectError(
			await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body: { name: "sre" } }),
			409,
			"conflict",
		);
		expectError(
			await send(t, "PATCH", `/api/v1/teams/${other.json.id}`, { auth: a.as.admin, body: { name: "sre" } }),
			409,
			"conflict",
		);
		expect((await send(t, "POST", "/api/v1/teams", { auth: b.as.admin, body: { name: "sre" } })).status).toBe(
			201,
		);
		for (const body of [{}, { name: "" }, { name: "x", org_id: b.id }, { name: "x", members: [] }]) {
			const created = await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body });
			expectError(created, 400, "invalid_request");
			expect(created.json.error.details.length).toBeGreaterThan(0);
		}
		expectError(
			await send(t, "PATCH", `/api/v1/teams/${first.json.id}`, { auth: a.as.admin, body: {} }),
			400,
			"invalid_request",
		);
	});

	it("another org's team or user is 404 for every :id route", async () => {
		const mine = (await send(t, "POST", "/api/v1/teams", { auth: a.as.admin, body: { name: "mine" } })).json
			.id;
		const theirs = (await send(t, "POST", "/api/v1/teams", { auth: b.as.admin, body: { name: "theirs" } }))
			.json.id;
		await send(t, "PUT", `/api/v1/teams/${theirs}/members/${b.member.id}`, { auth: b.as.admin });
		const attempts: [string, string, unknown?][] = [
			["GET", `/api/v1/teams/${theirs}`],
			["PATCH", `/api/v1/teams/${theirs}`, { name: "pwned" }],
			["DELETE", `/api/v1/teams/${theirs}`],
			["PUT", `/api/v1/teams/${theirs}/members/${a.member.id}`],
			["DELETE", `/api/v1/teams/${theirs}/members/${b.member.id}`],
			["PUT", `/api/v1/teams/${mine}/members/${b.member.id}`],
			["DELETE", `/api/v1/teams/${mine}/members/${b.member.id}`],
			["PUT", `/api/v1/teams/${mine}/members/usr_missing`],
			["GET", "/api/v1/teams/team_missing"],
		];
		for (const [method, path, body] of attempts) {
			expectError(await send(t, method, path, { auth: a.as.owner, body }), 404, "not_found");
		}
		const theirTeam = await send(t, "GET", `/api/v1/teams/${theirs}`, { auth: b.as.viewer });
		expect(theirTeam.json).toMatchObject({ name: "theirs", member_count: 1 });
		expect((await send(t, "GET", `/api/v1/teams/${mine}`, { auth: a.as.viewer })).json.members).toEqual([]);
	});
});

describe("org", () => {
	it("reads and changes the caller's own org only", async () => {
		const read = await send(t, "GET", "/api/v1/org", { auth: a.as.viewer });
		expect(read.json).toEqual({
			id: a.id,
			name: "Acme",
			retention_days: 30,
			created_at: new Date(T0).toISOString(),
		});
		const patched = await send(t, "PATCH", "/api/v1/org", {
			auth: a.as.admin,
			body: { name: "Acme Corp", retention_days: 90 },
		});
		expect(patched.status).toBe(200);
		expect(patched.json).toMatchObject({ id: a.id, name: "Acme Corp", retention_days: 90 });
		expect((await send(t, "GET", "/api/v1/org", { auth: a.as.member })).json.retention_days).toBe(90);
		const [other] = await t.database.db.select().from(orgs).where(eq(orgs.id, b.id));
		expect(other).toMatchObject({ name: "Globex", retentionDays: 30 });
	});

	it("refuses out-of-range or unknown settings with details", async () => {
		for (const body of [
			{ retention_days: 0 },
			{ retention_days: 3651 },
			{ retention_days: 1.5 },
			{ retention_days: "30" },
			{ name: "" },
			{},
			{ name: "x", org_id: b.id },
			{ name: "x", id: b.id },
		]) {
			const answer = await send(t, "PATCH", "/api/v1/org", { auth: a.as.owner, body });
			expectError(answer, 400, "invalid_request");
			expect(answer.json.error.details.length).toBeGreaterThan(0);
		}
		for (const days of [1, 3650]) {
			const answer = await send(t, "PATCH", "/api/v1/org", {
				auth: a.as.owner,
				body: { retention_days: days },
			});
			expect(answer.json.retention_days).toBe(days);
		}
	});
});

describe("OpenAPI", () => {
	it("documents every management route with a summary and Bearer security", async () => {
		const doc = (await send(t, "GET", "/api/v1/openapi.json")).json as {
			paths: Record<string, Record<string, { summary?: string; security?: unknown }>>;
		};
		const expected = [
			"get /api/v1/api-keys",
			"post /api/v1/api-keys",
			"patch /api/v1/api-keys/{id}",
			"delete /api/v1/api-keys/{id}",
			"get /api/v1/users",
			"post /api/v1/users",
			"patch /api/v1/users/{id}",
			"delete /api/v1/users/{id}",
			"get /api/v1/teams",
			"post /api/v1/teams",
			"get /api/v1/teams/{id}",
			"patch /api/v1/teams/{id}",
			"delete /api/v1/teams/{id}",
			"put /api/v1/teams/{id}/members/{user_id}",
			"delete /api/v1/teams/{id}/members/{user_id}",
			"get /api/v1/org",
			"patch /api/v1/org",
		];
		for (const route of expected) {
			const [method, path] = route.split(" ") as [string, string];
			const operation = doc.paths[path]?.[method];
			expect(operation, route).toBeDefined();
			expect(operation?.summary, route).toBeTruthy();
			expect(operation?.security, route).toEqual([{ Bearer: [] }]);
		}
	});
});
