import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES, type Role } from "../../src/auth/jwt.js";
import { hashPassword } from "../../src/auth/password.js";
import { teamMembers, teams } from "../../src/db/schema.js";
import { newId } from "../../src/ids.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { type Credential, seedUser, send, sessionFor } from "../support/management.js";
import { createTestApp, TEST_PASSWORD_HASHING, type TestApp } from "../support/node-app.js";

/**
 * The role matrix (docs/rbac.md) as one table. In `path` and `body`, `:user`, `:team` and `:key` are
 * replaced by a fresh user, team and API key of the caller's org, and `$n` by a number unique to
 * the request, so every cell runs against its own world and no cell depends on another.
 * `ok` is what a caller with a sufficient role gets (with `okCode` when that is an error the route
 * itself answers); `beforePasswordChange` marks routes an invited user reaches with a `pcr` token.
 */
interface Row {
	method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
	path: string;
	body?: unknown;
	minRole: Role;
	ok: number;
	okCode?: string;
	beforePasswordChange?: true;
}

const PASSWORD = "rbac-table-password-9f3k";

const ROUTES: Row[] = [
	{ method: "GET", path: "/api/v1/api-keys", minRole: "admin", ok: 200 },
	{ method: "POST", path: "/api/v1/api-keys", body: { name: "ci $n" }, minRole: "admin", ok: 201 },
	{ method: "PATCH", path: "/api/v1/api-keys/:key", body: { name: "renamed" }, minRole: "admin", ok: 200 },
	{ method: "DELETE", path: "/api/v1/api-keys/:key", minRole: "admin", ok: 204 },

	{ method: "GET", path: "/api/v1/users", minRole: "viewer", ok: 200 },
	{
		method: "POST",
		path: "/api/v1/users",
		body: { email: "invitee$n@example.com", name: "Invitee", role: "member" },
		minRole: "admin",
		ok: 201,
	},
	{ method: "PATCH", path: "/api/v1/users/:user", body: { role: "viewer" }, minRole: "admin", ok: 200 },
	{ method: "DELETE", path: "/api/v1/users/:user", minRole: "admin", ok: 204 },
	{
		method: "POST",
		path: "/api/v1/users/:user/totp/reset",
		body: { password: PASSWORD },
		minRole: "admin",
		// The fresh user has no 2FA: reaching the handler answers 409, not 401/403.
		ok: 409,
		okCode: "totp_not_enabled",
	},

	{ method: "GET", path: "/api/v1/teams", minRole: "viewer", ok: 200 },
	{ method: "POST", path: "/api/v1/teams", body: { name: "team $n" }, minRole: "admin", ok: 201 },
	{ method: "GET", path: "/api/v1/teams/:team", minRole: "viewer", ok: 200 },
	{ method: "PATCH", path: "/api/v1/teams/:team", body: { description: "d" }, minRole: "admin", ok: 200 },
	{ method: "DELETE", path: "/api/v1/teams/:team", minRole: "admin", ok: 204 },
	{ method: "PUT", path: "/api/v1/teams/:team/members/:user", minRole: "admin", ok: 204 },
	{ method: "DELETE", path: "/api/v1/teams/:team/members/:user", minRole: "admin", ok: 204 },

	{ method: "GET", path: "/api/v1/org", minRole: "viewer", ok: 200 },
	{ method: "PATCH", path: "/api/v1/org", body: { retention_days: 90 }, minRole: "admin", ok: 200 },

	{ method: "GET", path: "/api/v1/me", minRole: "viewer", ok: 200, beforePasswordChange: true },
	{
		method: "PATCH",
		path: "/api/v1/me",
		body: { name: "Me" },
		minRole: "viewer",
		ok: 200,
		beforePasswordChange: true,
	},
	{
		method: "POST",
		path: "/api/v1/me/password",
		body: { current_password: PASSWORD, new_password: "a-new-password-for-$n" },
		minRole: "viewer",
		ok: 200,
		beforePasswordChange: true,
	},

	// Two-factor setup waits until an invited user has chosen their own password.
	{
		method: "POST",
		path: "/api/v1/auth/totp/setup",
		minRole: "viewer",
		ok: 200,
	},
	{
		method: "POST",
		path: "/api/v1/auth/totp/enable",
		body: { password: "irrelevant-for-the-role-check", code: "123456" },
		minRole: "viewer",
		// The fresh caller has no secret yet: reaching the handler answers 409, not 401/403.
		ok: 409,
		okCode: "totp_not_enabled",
	},
	{
		method: "POST",
		path: "/api/v1/auth/totp/disable",
		body: { password: PASSWORD, code: "123456" },
		minRole: "viewer",
		ok: 409,
		okCode: "totp_not_enabled",
	},
];

type Caller = Role | "invited" | "api_key" | "none";
const CALLERS: Caller[] = [...ROLES, "invited", "api_key", "none"];

function expected(row: Row, caller: Caller): { status: number; code?: string } {
	const ok = row.okCode ? { status: row.ok, code: row.okCode } : { status: row.ok };
	switch (caller) {
		case "none":
			return { status: 401, code: "missing_credentials" };
		case "api_key":
			return { status: 403, code: "session_required" };
		case "invited":
			// An owner who has not changed the initial password yet.
			return row.beforePasswordChange ? ok : { status: 403, code: "password_change_required" };
		default:
			return ROLES.indexOf(caller) >= ROLES.indexOf(row.minRole)
				? ok
				: { status: 403, code: "insufficient_role" };
	}
}

let t: TestApp;
let passwordHash: string;
let counter = 0;

beforeAll(async () => {
	t = await createTestApp();
	passwordHash = await hashPassword(PASSWORD, TEST_PASSWORD_HASHING);
});
afterAll(() => t.close());

/** A fresh org holding the caller, a user, a team (with that user) and an API key. */
async function world(caller: Caller): Promise<{ credential: Credential; ids: Record<string, string> }> {
	const org = await createOrg(t.database.db, t.clock, `Org ${++counter}`);
	const actor = await seedUser(t, {
		orgId: org.id,
		role: caller === "invited" || !ROLES.includes(caller as Role) ? "owner" : (caller as Role),
		passwordHash,
		mustChangePassword: caller === "invited",
	});
	const user = await seedUser(t, { orgId: org.id, role: "member" });
	const now = t.clock.now();
	const team = { id: newId("team"), orgId: org.id, name: "platform", createdAt: now, updatedAt: now };
	await t.database.db.insert(teams).values(team);
	await t.database.db
		.insert(teamMembers)
		.values({ teamId: team.id, userId: user.id, orgId: org.id, addedAt: now });
	const target = await createApiKey(t.database.db, t.clock, {
		orgId: org.id,
		name: "target",
		createdBy: "cli",
	});
	let credential: Credential = null;
	if (caller === "api_key") {
		credential = {
			key: (await createApiKey(t.database.db, t.clock, { orgId: org.id, name: "caller", createdBy: "cli" }))
				.key,
		};
	} else if (caller !== "none") {
		credential = await sessionFor(t, actor);
	}
	return { credential, ids: { user: user.id, team: team.id, key: target.summary.id } };
}

function fill(value: unknown, ids: Record<string, string>, n: number): unknown {
	if (typeof value === "string") {
		return value
			.replace(/:(user|team|key)\b/g, (_, name: string) => ids[name] as string)
			.replace("$n", String(n));
	}
	if (value && typeof value === "object") {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, ids, n)]));
	}
	return value;
}

describe("RBAC: every management route × every caller", () => {
	it("answers exactly the role matrix", async () => {
		const mismatches: string[] = [];
		let cells = 0;
		for (const row of ROUTES) {
			for (const caller of CALLERS) {
				const { credential, ids } = await world(caller);
				const n = ++counter;
				const path = fill(row.path, ids, n) as string;
				const answer = await send(t, row.method, path, {
					auth: credential,
					body: row.body === undefined ? undefined : fill(row.body, ids, n),
				});
				const want = expected(row, caller);
				const got = { status: answer.status, code: answer.json?.error?.code as string | undefined };
				const codeMatters = want.code !== undefined || [401, 403].includes(got.status);
				if (got.status !== want.status || (codeMatters && got.code !== want.code)) {
					mismatches.push(
						`${row.method} ${row.path} as ${caller}: want ${want.status} ${want.code ?? ""}, got ${got.status} ${got.code ?? ""}`,
					);
				}
				cells++;
			}
		}
		expect(mismatches).toEqual([]);
		expect(cells).toBe(ROUTES.length * CALLERS.length);
	});

	it("the table lists every management route of the OpenAPI document, and only those", async () => {
		const doc = (await send(t, "GET", "/api/v1/openapi.json")).json as {
			paths: Record<string, Record<string, unknown>>;
		};
		const management = /^\/api\/v1\/(api-keys|users|teams|org|me|auth\/totp)(\/|$)/;
		// Path parameters are compared by position: `{id}` in the document, `:team` in the table.
		const documented = Object.entries(doc.paths)
			.filter(([path]) => management.test(path))
			.flatMap(([path, ops]) =>
				Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{\w+\}/g, "{}")}`),
			)
			.sort();
		const tabled = ROUTES.map((row) => `${row.method} ${row.path.replace(/:\w+/g, "{}")}`).sort();
		expect(documented).toEqual(tabled);
	});
});
