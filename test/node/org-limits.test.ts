/**
 * The limits audit: nothing capped how many users, teams, API keys, dashboards or saved queries an
 * org could create, and their lists are answered whole. Now each has a per-org limit (409
 * `<kind>_limit_reached`), counted and inserted in one statement so parallel creates cannot pass it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_ORG_LIMITS, type OrgLimits, orgLimitsFrom } from "../../src/config.js";
import { createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import { type Answer, type Credential, seedUser, send, sessionFor } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const LIMITS: OrgLimits = { users: 4, teams: 2, apiKeys: 3, dashboards: 2, savedQueries: 2 };

let t: TestApp;
let admin: Credential;
let orgId: string;

beforeEach(async () => {
	t = await createTestApp({ clock: new FakeClock(Date.UTC(2026, 11, 5)), orgLimits: LIMITS });
	// The org starts with one API key (createOrgWithKey's) and one user, its owner.
	({ orgId } = await t.createOrgWithKey("Full"));
	admin = await sessionFor(t, await seedUser(t, { orgId, role: "owner" }));
});
afterEach(async () => {
	await t.close();
});

let n = 0;
const create: Record<keyof OrgLimits, (auth: Credential) => Promise<Answer>> = {
	users: (auth) =>
		send(t, "POST", "/api/v1/users", {
			auth,
			body: { email: `u${++n}@example.com`, name: "U", role: "viewer" },
		}),
	teams: (auth) => send(t, "POST", "/api/v1/teams", { auth, body: { name: `team ${++n}` } }),
	apiKeys: (auth) => send(t, "POST", "/api/v1/api-keys", { auth, body: { name: `key ${++n}` } }),
	dashboards: (auth) =>
		send(t, "POST", "/api/v1/dashboards", { auth, body: { title: `board ${++n}`, panels: [] } }),
	savedQueries: (auth) =>
		send(t, "POST", "/api/v1/saved-queries", {
			auth,
			body: { name: `query ${++n}`, query: "SELECT count(*) FROM logs", visibility: "private" },
		}),
};
const CODES: Record<keyof OrgLimits, string> = {
	users: "user_limit_reached",
	teams: "team_limit_reached",
	apiKeys: "api_key_limit_reached",
	dashboards: "dashboard_limit_reached",
	savedQueries: "saved_query_limit_reached",
};
/** What the org already has when the test starts. */
const AT_START: Record<keyof OrgLimits, number> = {
	users: 1,
	teams: 0,
	apiKeys: 1,
	dashboards: 0,
	savedQueries: 0,
};

describe.each(Object.keys(LIMITS) as (keyof OrgLimits)[])("the org's limit on %s", (kind) => {
	it("creates up to the limit, then answers 409 with its code and the setting to raise; another org is not held", async () => {
		for (let i = AT_START[kind]; i < LIMITS[kind]; i++) expect((await create[kind](admin)).status).toBe(201);
		const refused = await create[kind](admin);
		expect(refused.status).toBe(409);
		expect(refused.json.error.code).toBe(CODES[kind]);
		expect(refused.json.error.message).toContain(`at most ${LIMITS[kind]}`);
		expect(refused.json.error.message).toMatch(/ORG_MAX_[A-Z_]+/);
		const other = await createOrg(t.deps.db, t.clock, "Other");
		const otherAdmin = await sessionFor(t, await seedUser(t, { orgId: other.id, role: "owner" }));
		expect((await create[kind](otherAdmin)).status).toBe(201);
	});

	it("holds under parallel creates: ten at once with one place left make one", async () => {
		for (let i = AT_START[kind]; i < LIMITS[kind] - 1; i++)
			expect((await create[kind](admin)).status).toBe(201);
		const answers = await Promise.all(Array.from({ length: 10 }, () => create[kind](admin)));
		expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(9).fill(409)]);
		expect(answers.filter((a) => a.status === 409).every((a) => a.json.error.code === CODES[kind])).toBe(
			true,
		);
	});
});

describe("what counts toward a limit", () => {
	it("API keys: a revoked key frees its place; an expired one holds it until revoked", async () => {
		const first = await create.apiKeys(admin);
		const expiring = await send(t, "POST", "/api/v1/api-keys", {
			auth: admin,
			body: { name: "short", expires_at: new Date(t.clock.now() + 60_000).toISOString() },
		});
		expect(expiring.status).toBe(201);
		expect((await create.apiKeys(admin)).json.error.code).toBe("api_key_limit_reached");
		t.clock.advance(120_000);
		expect((await create.apiKeys(admin)).json.error.code).toBe("api_key_limit_reached");
		expect((await send(t, "DELETE", `/api/v1/api-keys/${expiring.json.id}`, { auth: admin })).status).toBe(
			204,
		);
		expect((await create.apiKeys(admin)).status).toBe(201);
		// The list still shows the revoked key.
		const list = await send(t, "GET", "/api/v1/api-keys", { auth: admin });
		expect(list.json.data.map((k: { id: string }) => k.id)).toContain(first.json.id);
		expect(list.json.data).toHaveLength(4);
	});

	it("users: a disabled user counts; an address already in the org is still 409 conflict below the limit", async () => {
		await seedUser(t, { orgId, role: "viewer", disabled: true });
		const taken = await send(t, "POST", "/api/v1/users", {
			auth: admin,
			body: { email: "same@example.com", name: "S", role: "viewer" },
		});
		expect(taken.status).toBe(201);
		const again = await send(t, "POST", "/api/v1/users", {
			auth: admin,
			body: { email: "same@example.com", name: "S", role: "viewer" },
		});
		expect(again.status).toBe(409);
		expect(again.json.error.code).toBe("conflict");
		expect((await create.users(admin)).status).toBe(201);
		expect((await create.users(admin)).json.error.code).toBe("user_limit_reached");
	});

	it("teams: a name taken is 409 conflict below the limit; deleting a team frees its place", async () => {
		const team = await create.teams(admin);
		const same = await send(t, "POST", "/api/v1/teams", { auth: admin, body: { name: team.json.name } });
		expect(same.status).toBe(409);
		expect(same.json.error.code).toBe("conflict");
		expect((await create.teams(admin)).status).toBe(201);
		expect((await create.teams(admin)).json.error.code).toBe("team_limit_reached");
		expect((await send(t, "DELETE", `/api/v1/teams/${team.json.id}`, { auth: admin })).status).toBe(204);
		expect((await create.teams(admin)).status).toBe(201);
	});

	it("dashboards: a duplicate is a new dashboard and is held by the limit too", async () => {
		const board = await create.dashboards(admin);
		const copy = await send(t, "POST", `/api/v1/dashboards/${board.json.id}/duplicate`, {
			auth: admin,
			body: {},
		});
		expect(copy.status).toBe(201);
		const beyond = await send(t, "POST", `/api/v1/dashboards/${board.json.id}/duplicate`, {
			auth: admin,
			body: {},
		});
		expect(beyond.status).toBe(409);
		expect(beyond.json.error.code).toBe("dashboard_limit_reached");
	});
});

describe("settings", () => {
	it("reads ORG_MAX_* with the defaults, and refuses what is not a whole number from 1", () => {
		expect(orgLimitsFrom({})).toEqual(DEFAULT_ORG_LIMITS);
		expect(orgLimitsFrom({ ORG_MAX_USERS: "50", ORG_MAX_SAVED_QUERIES: "7" })).toMatchObject({
			users: 50,
			savedQueries: 7,
			teams: DEFAULT_ORG_LIMITS.teams,
		});
		expect(() => orgLimitsFrom({ ORG_MAX_API_KEYS: "0" })).toThrow(ConfigError);
		expect(() => orgLimitsFrom({ ORG_MAX_DASHBOARDS: "lots" })).toThrow(/ORG_MAX_DASHBOARDS/);
	});
});
