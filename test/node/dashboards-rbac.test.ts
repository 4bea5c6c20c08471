import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES, type Role } from "../../src/auth/jwt.js";
import { dashboards, savedQueries } from "../../src/db/schema.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { type Credential, seedUser, send, sessionFor } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

/**
 * Contract §6 for saved queries and dashboards as one table: viewers read (and run), members and
 * up write; API keys get 403 `session_required`. In `path`, `:sq` and `:dash` are replaced by a
 * shared saved query (owned by another member) and a dashboard of the caller's org, and `$n` by a
 * number unique to the request, so every cell runs against its own world.
 */
interface Row {
	method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
	path: string;
	body?: unknown;
	minRole: Role;
	ok: number;
}

const QUERY = "SELECT count(*) FROM annotations";
const PANEL = { id: "n", title: "Count", kind: "number", query: QUERY, layout: { x: 0, y: 0, w: 4, h: 2 } };

const ROUTES: Row[] = [
	{ method: "GET", path: "/api/v1/saved-queries", minRole: "viewer", ok: 200 },
	{
		method: "POST",
		path: "/api/v1/saved-queries",
		body: { name: "q $n", query: QUERY },
		minRole: "member",
		ok: 201,
	},
	{ method: "GET", path: "/api/v1/saved-queries/:sq", minRole: "viewer", ok: 200 },
	{
		method: "PUT",
		path: "/api/v1/saved-queries/:sq",
		body: { name: "renamed $n", query: QUERY },
		minRole: "member",
		ok: 200,
	},
	{ method: "DELETE", path: "/api/v1/saved-queries/:sq", minRole: "member", ok: 204 },
	{ method: "POST", path: "/api/v1/saved-queries/:sq/run", body: {}, minRole: "viewer", ok: 200 },

	{ method: "GET", path: "/api/v1/dashboards", minRole: "viewer", ok: 200 },
	{
		method: "POST",
		path: "/api/v1/dashboards",
		body: { title: "d $n", panels: [PANEL] },
		minRole: "member",
		ok: 201,
	},
	{ method: "GET", path: "/api/v1/dashboards/:dash", minRole: "viewer", ok: 200 },
	{
		method: "PUT",
		path: "/api/v1/dashboards/:dash",
		body: { title: "replaced $n", panels: [PANEL], version: 1 },
		minRole: "member",
		ok: 200,
	},
	{
		method: "PATCH",
		path: "/api/v1/dashboards/:dash",
		body: { title: "patched $n", version: 1 },
		minRole: "member",
		ok: 200,
	},
	{ method: "DELETE", path: "/api/v1/dashboards/:dash", minRole: "member", ok: 204 },
	{ method: "POST", path: "/api/v1/dashboards/:dash/duplicate", minRole: "member", ok: 201 },
	{ method: "GET", path: "/api/v1/dashboards/:dash/data", minRole: "viewer", ok: 200 },
];

type Caller = Role | "invited" | "api_key" | "none";
const CALLERS: Caller[] = [...ROLES, "invited", "api_key", "none"];

function expected(row: Row, caller: Caller): { status: number; code?: string } {
	switch (caller) {
		case "none":
			return { status: 401, code: "missing_credentials" };
		case "api_key":
			return { status: 403, code: "session_required" };
		case "invited":
			return { status: 403, code: "password_change_required" };
		default:
			return ROLES.indexOf(caller) >= ROLES.indexOf(row.minRole)
				? { status: row.ok }
				: { status: 403, code: "insufficient_role" };
	}
}

let t: TestApp;
let counter = 0;

beforeAll(async () => {
	t = await createTestApp();
});
afterAll(() => t.close());

/** A fresh org holding the caller, another member, a shared saved query of theirs and a dashboard. */
async function world(caller: Caller): Promise<{ credential: Credential; ids: Record<string, string> }> {
	const org = await createOrg(t.database.db, t.clock, `Org ${++counter}`);
	const actor = await seedUser(t, {
		orgId: org.id,
		role: caller === "invited" || !ROLES.includes(caller as Role) ? "owner" : (caller as Role),
		mustChangePassword: caller === "invited",
	});
	const other = await seedUser(t, { orgId: org.id, role: "member" });
	const now = t.clock.now();
	const sq = `sq_rbac${counter}`;
	const dash = `dash_rbac${counter}`;
	await t.database.db.insert(savedQueries).values({
		id: sq,
		orgId: org.id,
		name: "shared",
		description: null,
		query: QUERY,
		visibility: "org",
		ownerId: other.id,
		createdAt: now,
		updatedAt: now,
	});
	await t.database.db.insert(dashboards).values({
		id: dash,
		orgId: org.id,
		title: "board",
		description: null,
		tags: "[]",
		timeRange: JSON.stringify({ last: "1h" }),
		variables: "[]",
		panels: JSON.stringify([PANEL]),
		version: 1,
		createdBy: other.id,
		updatedBy: other.id,
		createdAt: now,
		updatedAt: now,
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
	return { credential, ids: { sq, dash } };
}

function fill(value: unknown, ids: Record<string, string>, n: number): unknown {
	if (typeof value === "string") {
		return value.replace(/:(sq|dash)\b/g, (_, name: string) => ids[name] as string).replace("$n", String(n));
	}
	if (Array.isArray(value)) return value.map((v) => fill(v, ids, n));
	if (value && typeof value === "object") {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, ids, n)]));
	}
	return value;
}

describe("RBAC: every saved-query and dashboard route × every caller", () => {
	it("answers exactly the role matrix", async () => {
		const mismatches: string[] = [];
		let cells = 0;
		for (const row of ROUTES) {
			for (const caller of CALLERS) {
				const { credential, ids } = await world(caller);
				const n = ++counter;
				const answer = await send(t, row.method, fill(row.path, ids, n) as string, {
					auth: credential,
					body: row.body === undefined ? undefined : fill(row.body, ids, n),
				});
				const want = expected(row, caller);
				const got = { status: answer.status, code: answer.json?.error?.code as string | undefined };
				if (got.status !== want.status || got.code !== want.code) {
					mismatches.push(
						`${row.method} ${row.path} as ${caller}: want ${want.status} ${want.code ?? ""}, got ${got.status} ${got.code ?? ""} ${answer.json?.error?.message ?? ""}`,
					);
				}
				cells++;
			}
		}
		expect(mismatches).toEqual([]);
		expect(cells).toBe(ROUTES.length * CALLERS.length);
	});

	it("the table lists every saved-query and dashboard route of the OpenAPI document", async () => {
		const doc = (await send(t, "GET", "/api/v1/openapi.json")).json as {
			paths: Record<string, Record<string, unknown>>;
		};
		const ours = /^\/api\/v1\/(saved-queries|dashboards)(\/|$)/;
		const documented = Object.entries(doc.paths)
			.filter(([path]) => ours.test(path))
			.flatMap(([path, ops]) =>
				Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{\w+\}/g, "{}")}`),
			)
			.sort();
		const tabled = ROUTES.map((row) => `${row.method} ${row.path.replace(/:\w+/g, "{}")}`).sort();
		expect(documented).toEqual(tabled);
	});

	it("documents every one of these routes with an example", async () => {
		const doc = (await send(t, "GET", "/api/v1/openapi.json")).json as {
			paths: Record<string, Record<string, unknown>>;
			components: { schemas: Record<string, unknown> };
		};
		const missing: string[] = [];
		for (const [path, ops] of Object.entries(doc.paths)) {
			if (!/^\/api\/v1\/(saved-queries|dashboards)/.test(path)) continue;
			for (const [method, op] of Object.entries(ops)) {
				// An example anywhere in the operation or in a component schema it references.
				const text = JSON.stringify(op);
				const refs = [...text.matchAll(/#\/components\/schemas\/(\w+)/g)].map((m) => m[1] as string);
				const withRefs = text + refs.map((r) => JSON.stringify(doc.components.schemas[r])).join("");
				if (!withRefs.includes('"example')) missing.push(`${method.toUpperCase()} ${path}`);
			}
		}
		expect(missing).toEqual([]);
	});
});
