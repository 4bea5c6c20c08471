import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Role } from "../../src/auth/jwt.js";
import { dashboards } from "../../src/db/schema.js";
import { createOrg } from "../../src/services/api-keys.js";
import { updateDashboard } from "../../src/services/dashboards.js";
import { FakeClock } from "../support/clock.js";
import { type Answer, seedUser, send, sessionFor } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

/** The fake clock starts here: 2026-11-28T12:00:00.000Z. */
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const MIN = 60_000;
const SQ = "/api/v1/saved-queries";
const DASH = "/api/v1/dashboards";

type Auth = { token: string };

let t: TestApp;
let orgA: string;
let orgB: string;
/** Users of org A by role, plus a second member; one member of org B. */
let a: Record<Role | "member2", Auth>;
let bMember: Auth;

async function user(orgId: string, role: Role): Promise<Auth> {
	return sessionFor(t, await seedUser(t, { orgId, role }));
}

beforeEach(async () => {
	t = await createTestApp({ clock: new FakeClock(T0) });
	orgA = (await createOrg(t.database.db, t.clock, "Acme")).id;
	orgB = (await createOrg(t.database.db, t.clock, "Globex")).id;
	a = {
		viewer: await user(orgA, "viewer"),
		member: await user(orgA, "member"),
		member2: await user(orgA, "member"),
		admin: await user(orgA, "admin"),
		owner: await user(orgA, "owner"),
	};
	bMember = await user(orgB, "member");
});
afterEach(() => t.close());

const call = (auth: Auth, method: string, path: string, body?: unknown): Promise<Answer> =>
	send(t, method, path, { auth, ...(body !== undefined && { body }) });

/** Annotations are the telemetry here: a final OQL source, written through their own API. */
async function annotate(auth: Auth, title: string, service: string, minutesAgo: number): Promise<void> {
	const answer = await call(auth, "POST", "/api/v1/annotations", {
		title,
		service,
		time: T0 - minutesAgo * MIN,
	});
	expect(answer.status).toBe(201);
}

const panel = (id: string, query: string, x = 0, y = 0) => ({
	id,
	title: id,
	kind: "number",
	query,
	layout: { x, y, w: 4, h: 2 },
});

async function createDashboard(auth: Auth, body: Record<string, unknown>) {
	const answer = await call(auth, "POST", DASH, { title: "Board", ...body });
	expect(answer.status, answer.text).toBe(201);
	return answer.json as { id: string; version: number; panels: { id: string }[] };
}

async function saveQuery(auth: Auth, body: Record<string, unknown>) {
	const answer = await call(auth, "POST", SQ, {
		name: "q",
		query: "SELECT count(*) FROM annotations",
		...body,
	});
	expect(answer.status, answer.text).toBe(201);
	return answer.json as { id: string; visibility: string; owner: { id: string } };
}

describe("saved queries", () => {
	it("saves, lists, replaces and deletes a shared query, with its owner", async () => {
		const saved = await saveQuery(a.member, { name: "Errors", description: "d" });
		expect(saved.visibility).toBe("org");
		const viewerList = await call(a.viewer, "GET", SQ);
		expect(viewerList.json.data.map((q: { id: string }) => q.id)).toEqual([saved.id]);
		expect(viewerList.json.data[0].owner.name).toMatch(/^User /);

		// Another member edits a shared query; description left out becomes null, visibility stays.
		const put = await call(a.member2, "PUT", `${SQ}/${saved.id}`, {
			name: "Errors 2",
			query: "SELECT count(*) FROM annotations WHERE service = 'api'",
		});
		expect(put.status).toBe(200);
		expect(put.json).toMatchObject({ name: "Errors 2", description: null, visibility: "org" });
		expect(put.json.owner.id).toBe(saved.owner.id);

		expect((await call(a.member2, "DELETE", `${SQ}/${saved.id}`)).status).toBe(204);
		expect((await call(a.member, "GET", `${SQ}/${saved.id}`)).status).toBe(404);
	});

	it("refuses a broken query on save with the OQL error and its position", async () => {
		const syntax = await call(a.member, "POST", SQ, { name: "bad", query: "SELECT count(*)\nFORM logs" });
		expect(syntax.status).toBe(400);
		expect(syntax.json.error.code).toBe("oql_syntax_error");
		expect(syntax.json.error.position).toEqual({ line: 2, column: 1 });
		expect(syntax.json.error.details).toEqual([{ path: "query", message: syntax.json.error.message }]);

		const unknownField = await call(a.member, "POST", SQ, {
			name: "bad",
			query: "SELECT count(*) FROM annotations WHERE sevice = 'x'",
		});
		expect(unknownField.status).toBe(400);
		expect(unknownField.json.error.code).toBe("oql_invalid_query");
		expect(unknownField.json.error.position).toEqual({ line: 1, column: 40 });

		const saved = await saveQuery(a.member, {});
		const put = await call(a.member, "PUT", `${SQ}/${saved.id}`, { name: "q", query: "SELECT FROM" });
		expect(put.status).toBe(400);
		expect(put.json.error.code).toBe("oql_syntax_error");
		expect((await call(a.member, "GET", `${SQ}/${saved.id}`)).json.query).toBe(
			"SELECT count(*) FROM annotations",
		);
		expect((await call(a.member, "GET", SQ)).json.data).toHaveLength(1);
	});

	it("accepts $variables in a saved query and binds them per run", async () => {
		await annotate(a.member, "deploy", "checkout", 5);
		await annotate(a.member, "deploy", "cart", 5);
		const saved = await saveQuery(a.member, {
			query: "SELECT count(*) AS n FROM annotations WHERE service = $service",
		});
		const run = await call(a.viewer, "POST", `${SQ}/${saved.id}/run`, { variables: { service: "cart" } });
		expect(run.status).toBe(200);
		expect(run.json.rows).toEqual([[1]]);
		const unbound = await call(a.viewer, "POST", `${SQ}/${saved.id}/run`);
		expect(unbound.status).toBe(400);
		expect(unbound.json.error.code).toBe("oql_invalid_query");
		expect(unbound.json.error.position).toEqual({ line: 1, column: 55 });
	});

	it("keeps a private query invisible to everyone but its owner", async () => {
		const mine = await saveQuery(a.member, { name: "mine", visibility: "private" });
		const shared = await saveQuery(a.member2, { name: "shared" });
		for (const other of [a.member2, a.admin, a.owner, a.viewer]) {
			expect((await call(other, "GET", `${SQ}/${mine.id}`)).status).toBe(404);
			expect((await call(other, "POST", `${SQ}/${mine.id}/run`, {})).status).toBe(404);
			const list = await call(other, "GET", SQ);
			expect(list.json.data.map((q: { id: string }) => q.id)).toEqual([shared.id]);
		}
		for (const writer of [a.member2, a.admin, a.owner]) {
			const put = await call(writer, "PUT", `${SQ}/${mine.id}`, {
				name: "x",
				query: "SELECT count(*) FROM logs",
			});
			expect(put.status).toBe(404);
			expect((await call(writer, "DELETE", `${SQ}/${mine.id}`)).status).toBe(404);
		}
		expect((await call(a.member, "GET", `${SQ}/${mine.id}`)).json.name).toBe("mine");
		const own = await call(a.member, "GET", `${SQ}?owner=me`);
		expect(own.json.data.map((q: { id: string }) => q.id)).toEqual([mine.id]);
		const priv = await call(a.member, "GET", `${SQ}?visibility=private`);
		expect(priv.json.data.map((q: { id: string }) => q.id)).toEqual([mine.id]);
		expect((await call(a.member, "DELETE", `${SQ}/${mine.id}`)).status).toBe(204);
	});

	it("lets only the owner change visibility", async () => {
		const saved = await saveQuery(a.member, {});
		const byOther = await call(a.admin, "PUT", `${SQ}/${saved.id}`, {
			name: "q",
			query: "SELECT count(*) FROM annotations",
			visibility: "private",
		});
		expect(byOther.status).toBe(403);
		expect(byOther.json.error.code).toBe("not_owner");
		const byOwner = await call(a.member, "PUT", `${SQ}/${saved.id}`, {
			name: "q",
			query: "SELECT count(*) FROM annotations",
			visibility: "private",
		});
		expect(byOwner.status).toBe(200);
		expect(byOwner.json.visibility).toBe("private");
		expect((await call(a.admin, "GET", `${SQ}/${saved.id}`)).status).toBe(404);
	});

	it("pages the list with a cursor, without gaps or repeats", async () => {
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) {
			ids.push((await saveQuery(a.member, { name: `q${i}` })).id);
			t.clock.advance(i % 2 === 0 ? 0 : 1000); // ties on created_at are broken by id
		}
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const page: Answer = await call(a.viewer, "GET", `${SQ}?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
			expect(page.json.data.length).toBeLessThanOrEqual(2);
			seen.push(...page.json.data.map((q: { id: string }) => q.id));
			cursor = page.json.next_cursor;
		} while (cursor);
		expect([...seen].sort()).toEqual([...ids].sort());
		expect(new Set(seen).size).toBe(5);
	});

	it("refuses to delete or hide a query that a dashboard panel uses", async () => {
		const saved = await saveQuery(a.member, {});
		const board = await createDashboard(a.member2, {
			title: "uses it",
			panels: [
				{ id: "s", title: "s", kind: "table", saved_query_id: saved.id, layout: { x: 0, y: 0, w: 6, h: 3 } },
			],
		});
		const del = await call(a.member, "DELETE", `${SQ}/${saved.id}`);
		expect(del.status).toBe(409);
		expect(del.json.error.code).toBe("conflict");
		expect(del.json.error.details).toEqual([{ dashboard_id: board.id, title: "uses it" }]);
		const hide = await call(a.member, "PUT", `${SQ}/${saved.id}`, {
			name: "q",
			query: "SELECT count(*) FROM annotations",
			visibility: "private",
		});
		expect(hide.status).toBe(409);
		expect((await call(a.member, "DELETE", `${DASH}/${board.id}`)).status).toBe(204);
		expect((await call(a.member, "DELETE", `${SQ}/${saved.id}`)).status).toBe(204);
	});
});

describe("dashboards", () => {
	it("creates with defaults and reads back the same document", async () => {
		const created = await call(a.member, "POST", DASH, {
			title: "Checkout",
			tags: ["team:payments", "team:payments"],
			variables: [{ name: "service", source: { source: "logs", field: "service" }, default: "checkout" }],
			panels: [
				{
					title: "no id",
					kind: "timeseries",
					query: "SELECT count(*) FROM logs TIMESERIES",
					layout: { x: 0, y: 0, w: 12, h: 3 },
				},
			],
		});
		expect(created.status).toBe(201);
		expect(created.json).toMatchObject({
			title: "Checkout",
			description: null,
			tags: ["team:payments"],
			time: { last: "1h" },
			version: 1,
		});
		expect(created.json.panels[0].id).toMatch(/^p_[0-9A-Za-z]{8}$/);
		const read = await call(a.viewer, "GET", `${DASH}/${created.json.id}`);
		expect(read.json).toEqual(created.json);
		const list = await call(a.viewer, "GET", `${DASH}?tag=team:payments&q=CHECK`);
		expect(list.json.data).toHaveLength(1);
		expect(list.json.data[0]).toMatchObject({ id: created.json.id, panel_count: 1 });
		expect((await call(a.viewer, "GET", `${DASH}?tag=other`)).json.data).toEqual([]);
	});

	it("validates the grid, the panel count, query xor saved query, and variables", async () => {
		const bad = async (body: Record<string, unknown>, path: string) => {
			const answer = await call(a.member, "POST", DASH, { title: "x", ...body });
			expect(answer.status, JSON.stringify(body)).toBe(400);
			expect(answer.json.error.code).toBe("invalid_request");
			expect(answer.json.error.details.map((d: { path: string }) => d.path)).toContain(path);
		};
		const q = "SELECT count(*) FROM logs";
		await bad({ panels: [{ ...panel("a", q), layout: { x: 20, y: 0, w: 8, h: 2 } }] }, "panels.0.layout.w");
		await bad({ panels: [{ ...panel("a", q), layout: { x: 24, y: 0, w: 1, h: 2 } }] }, "panels.0.layout.x");
		await bad({ panels: [panel("a", q, 0, 0), panel("b", q, 2, 1)] }, "panels.1.layout");
		await bad({ panels: [panel("a", q, 0, 0), panel("a", q, 4, 0)] }, "panels.1.id");
		await bad({ panels: Array.from({ length: 51 }, (_, i) => panel(`p${i}`, q, 0, i * 2)) }, "panels");
		await bad({ panels: [{ ...panel("a", q), saved_query_id: "sq_x" }] }, "panels.0.query");
		await bad({ panels: [{ ...panel("a", q), query: undefined }] }, "panels.0.query");
		await bad(
			{ panels: [{ ...panel("a", q), saved_query_id: "sq_nope", query: undefined }] },
			"panels.0.saved_query_id",
		);
		await bad({ variables: [{ name: "s" }, { name: "s" }] }, "variables.1.name");
		await bad({ variables: [{ name: "s", values: ["a"], default: "b" }] }, "variables.0.default");
		await bad(
			{ variables: [{ name: "s", source: { source: "logs", field: "severity" } }] },
			"variables.0.source.field",
		);
		await bad({ time: { last: "32d" } }, "time");
		await bad({ time: { from: T0, to: T0 - 1 } }, "time.to");
		// Adjacent panels touch without overlapping; 50 panels are allowed.
		await createDashboard(a.member, {
			panels: [panel("a", q, 0, 0), panel("b", q, 4, 0), panel("c", q, 0, 2)],
		});
		await createDashboard(a.member, {
			panels: Array.from({ length: 50 }, (_, i) => panel(`p${i}`, q, 0, i * 2)),
		});
	});

	it("refuses a broken panel query with its position and the panel's path", async () => {
		const answer = await call(a.member, "POST", DASH, {
			title: "x",
			panels: [panel("ok", "SELECT count(*) FROM logs"), panel("bad", "SELECT count(*) FROM logz", 4)],
		});
		expect(answer.status).toBe(400);
		expect(answer.json.error.code).toBe("oql_invalid_query");
		expect(answer.json.error.position).toEqual({ line: 1, column: 22 });
		expect(answer.json.error.details[0].path).toBe("panels.1.query");

		const undeclared = await call(a.member, "POST", DASH, {
			title: "x",
			variables: [{ name: "service" }],
			panels: [panel("v", "SELECT count(*) FROM logs WHERE host = $host")],
		});
		expect(undeclared.status).toBe(400);
		expect(undeclared.json.error.code).toBe("oql_invalid_query");
		expect(undeclared.json.error.position).toEqual({ line: 1, column: 40 });

		// A declared variable passes the check whatever its eventual value.
		await createDashboard(a.member, {
			variables: [{ name: "since" }],
			panels: [panel("v", "SELECT count(*) FROM logs WHERE timestamp >= $since")],
		});
	});

	it("refuses panels that use a private or another org's saved query", async () => {
		const priv = await saveQuery(a.member, { visibility: "private" });
		const foreign = await saveQuery(bMember, {});
		for (const id of [priv.id, foreign.id]) {
			const answer = await call(a.member, "POST", DASH, {
				title: "x",
				panels: [
					{ id: "s", title: "s", kind: "table", saved_query_id: id, layout: { x: 0, y: 0, w: 6, h: 3 } },
				],
			});
			expect(answer.status).toBe(400);
			expect(answer.json.error.details[0].path).toBe("panels.0.saved_query_id");
		}
	});

	it("enforces versions: stale PUT and PATCH get 409, fresh ones 200 and version + 1", async () => {
		const board = await createDashboard(a.member, {
			description: "keep me",
			panels: [panel("a", "SELECT count(*) FROM logs")],
		});
		const put = await call(a.member2, "PUT", `${DASH}/${board.id}`, {
			title: "Replaced",
			panels: [panel("b", "SELECT count(*) FROM spans")],
			version: 1,
		});
		expect(put.status).toBe(200);
		expect(put.json).toMatchObject({ title: "Replaced", description: null, version: 2 });
		expect(put.json.panels.map((p: { id: string }) => p.id)).toEqual(["b"]);

		const stalePut = await call(a.member, "PUT", `${DASH}/${board.id}`, { title: "Mine", version: 1 });
		expect(stalePut.status).toBe(409);
		expect(stalePut.json.error.code).toBe("version_conflict");
		expect(stalePut.json.error.details).toEqual({ current_version: 2 });

		const patch = await call(a.member, "PATCH", `${DASH}/${board.id}`, { description: "new", version: 2 });
		expect(patch.status).toBe(200);
		expect(patch.json).toMatchObject({ title: "Replaced", description: "new", version: 3 });
		expect(patch.json.panels.map((p: { id: string }) => p.id)).toEqual(["b"]);

		const stalePatch = await call(a.member2, "PATCH", `${DASH}/${board.id}`, { title: "Theirs", version: 2 });
		expect(stalePatch.status).toBe(409);
		expect(stalePatch.json.error.code).toBe("version_conflict");

		const cleared = await call(a.member2, "PATCH", `${DASH}/${board.id}`, { description: null, version: 3 });
		expect(cleared.json).toMatchObject({ description: null, title: "Replaced", version: 4 });

		const read = await call(a.viewer, "GET", `${DASH}/${board.id}`);
		expect(read.json).toMatchObject({ title: "Replaced", version: 4 });
		expect((await call(a.member, "PATCH", `${DASH}/${board.id}`, { version: 4 })).status).toBe(400);
	});

	it("lets exactly one of two concurrent writers at the same version win", async () => {
		const board = await createDashboard(a.member, {});
		const answers = await Promise.all([
			call(a.member, "PATCH", `${DASH}/${board.id}`, { title: "one", version: 1 }),
			call(a.member2, "PATCH", `${DASH}/${board.id}`, { title: "two", version: 1 }),
		]);
		expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
		const winner = answers.find((r) => r.status === 200) as Answer;
		expect((await call(a.viewer, "GET", `${DASH}/${board.id}`)).json).toMatchObject({
			title: winner.json.title,
			version: 2,
		});
	});

	it("the write itself is conditional on the version, not only the check before it", async () => {
		const board = await createDashboard(a.member, {});
		const actor = { userId: "usr_x", orgId: orgA, role: "member" as const };
		const content = {
			title: "t",
			description: null,
			tags: [],
			time: { last: "1h" },
			variables: [],
			panels: [],
		};
		await updateDashboard(t.database.db, t.clock, actor, board.id, 1, content);
		const stale = updateDashboard(t.database.db, t.clock, actor, board.id, 1, { ...content, title: "lost" });
		await expect(stale).rejects.toMatchObject({ status: 409, code: "version_conflict" });
		await expect(
			updateDashboard(t.database.db, t.clock, actor, "dash_nope", 1, content),
		).rejects.toMatchObject({
			status: 404,
		});
		expect((await call(a.viewer, "GET", `${DASH}/${board.id}`)).json).toMatchObject({
			title: "t",
			version: 2,
		});
	});

	it("duplicates: a new id, '(copy)', version 1, the same content", async () => {
		const board = await createDashboard(a.member, {
			title: "Checkout",
			tags: ["prod"],
			panels: [panel("a", "SELECT count(*) FROM logs")],
		});
		await call(a.member, "PATCH", `${DASH}/${board.id}`, { description: "v2", version: 1 });
		const copy = await call(a.member2, "POST", `${DASH}/${board.id}/duplicate`);
		expect(copy.status).toBe(201);
		expect(copy.json.id).not.toBe(board.id);
		expect(copy.json).toMatchObject({
			title: "Checkout (copy)",
			description: "v2",
			tags: ["prod"],
			version: 1,
		});
		expect(copy.json.panels).toEqual((await call(a.member, "GET", `${DASH}/${board.id}`)).json.panels);
		const named = await call(a.member2, "POST", `${DASH}/${board.id}/duplicate`, { title: "Staging" });
		expect(named.json.title).toBe("Staging");
		const long = await createDashboard(a.member, { title: "t".repeat(200) });
		const longCopy = await call(a.member, "POST", `${DASH}/${long.id}/duplicate`);
		expect(longCopy.json.title).toBe(`${"t".repeat(193)} (copy)`);
		expect((await call(a.viewer, "GET", DASH)).json.data).toHaveLength(5);
	});

	it("an optional body sent empty with a JSON Content-Type is no body (not 400); a required one still says it is empty", async () => {
		await annotate(a.member, "deploy", "cart", 5);
		const saved = await saveQuery(a.member, {});
		const board = await createDashboard(a.member, { title: "Checkout" });
		for (const body of ["", "  \n"]) {
			const run = await t.app.request(`${SQ}/${saved.id}/run`, {
				method: "POST",
				headers: { Authorization: `Bearer ${a.viewer.token}`, "Content-Type": "application/json" },
				body,
			});
			expect(run.status, await run.clone().text()).toBe(200);
			expect(((await run.json()) as { rows: unknown[] }).rows).toEqual([[1]]);
			const copy = await t.app.request(`${DASH}/${board.id}/duplicate`, {
				method: "POST",
				headers: {
					Authorization: `Bearer ${a.member.token}`,
					"Content-Type": "application/json; charset=utf-8",
				},
				body,
			});
			expect(copy.status, await copy.clone().text()).toBe(201);
			expect(((await copy.json()) as { title: string }).title).toBe("Checkout (copy)");
		}
		// Not a loophole: a malformed or mistyped optional body is still refused.
		const malformed = await t.app.request(`${SQ}/${saved.id}/run`, {
			method: "POST",
			headers: { Authorization: `Bearer ${a.viewer.token}`, "Content-Type": "application/json" },
			body: "{",
		});
		expect(malformed.status).toBe(400);
		const text = await t.app.request(`${DASH}/${board.id}/duplicate`, {
			method: "POST",
			headers: { Authorization: `Bearer ${a.member.token}`, "Content-Type": "text/plain" },
			body: "x",
		});
		expect(text.status).toBe(415);
		// A required body sent empty is still 400, and says so.
		const empty = await t.app.request(SQ, {
			method: "POST",
			headers: { Authorization: `Bearer ${a.member.token}`, "Content-Type": "application/json" },
			body: "",
		});
		expect(empty.status).toBe(400);
		expect(((await empty.json()) as { error: { message: string } }).error.message).toBe(
			"The request body is empty; send a JSON object.",
		);
	});

	it("every optional JSON request body in the OpenAPI document is one of those tested above", async () => {
		const doc = (await (await t.app.request("/api/v1/openapi.json")).json()) as {
			paths: Record<string, Record<string, { requestBody?: { required?: boolean; content: object } }>>;
		};
		const optional = Object.entries(doc.paths).flatMap(([path, operations]) =>
			Object.entries(operations).flatMap(([method, operation]) =>
				operation.requestBody && operation.requestBody.required !== true
					? [`${method.toUpperCase()} ${path} ${Object.keys(operation.requestBody.content).join(",")}`]
					: [],
			),
		);
		// The pings' optional body is any text, never parsed (test/node/heartbeats-api.test.ts).
		expect(optional.filter((entry) => !entry.endsWith(" */*")).sort()).toEqual([
			"POST /api/v1/dashboards/{id}/duplicate application/json",
			"POST /api/v1/saved-queries/{id}/run application/json",
		]);
	});

	it("answers 404 for another org's dashboards and saved queries, on every route", async () => {
		const board = await createDashboard(bMember, {});
		const saved = await saveQuery(bMember, {});
		const attempts: [string, string, unknown?][] = [
			["GET", `${DASH}/${board.id}`],
			["PUT", `${DASH}/${board.id}`, { title: "x", version: 1 }],
			["PATCH", `${DASH}/${board.id}`, { title: "x", version: 1 }],
			["DELETE", `${DASH}/${board.id}`],
			["POST", `${DASH}/${board.id}/duplicate`],
			["GET", `${DASH}/${board.id}/data`],
			["GET", `${SQ}/${saved.id}`],
			["PUT", `${SQ}/${saved.id}`, { name: "x", query: "SELECT count(*) FROM logs" }],
			["DELETE", `${SQ}/${saved.id}`],
			["POST", `${SQ}/${saved.id}/run`, {}],
		];
		for (const [method, path, body] of attempts) {
			const answer = await call(a.owner, method, path, body);
			expect(answer.status, `${method} ${path}`).toBe(404);
			expect(answer.json.error.code).toBe("not_found");
		}
		expect((await call(a.owner, "GET", DASH)).json.data).toEqual([]);
		expect((await call(a.owner, "GET", SQ)).json.data).toEqual([]);
		// Org B's objects are untouched.
		expect((await call(bMember, "GET", `${DASH}/${board.id}`)).json.version).toBe(1);
		expect((await call(bMember, "GET", `${SQ}/${saved.id}`)).status).toBe(200);
	});
});

describe("dashboard data", () => {
	async function seedAnnotations() {
		await annotate(a.member, "a1", "checkout", 10);
		await annotate(a.member, "a2", "checkout", 20);
		await annotate(a.member, "a3", "cart", 30);
		await annotate(a.member, "old", "checkout", 180);
		await annotate(bMember, "b1", "checkout", 10);
		await annotate(bMember, "b2", "checkout", 15);
	}

	it("runs every panel; a broken panel reports its own error and the others their data", async () => {
		await seedAnnotations();
		const saved = await saveQuery(a.member, {
			query: "SELECT count(*) FROM annotations WHERE service = 'cart'",
		});
		const board = await createDashboard(a.member, {
			panels: [
				panel("all", "SELECT count(*) FROM annotations"),
				panel("broken", "SELECT count(*) FROM annotations", 4),
				{
					id: "saved",
					title: "s",
					kind: "number",
					saved_query_id: saved.id,
					layout: { x: 8, y: 0, w: 4, h: 2 },
				},
				panel("titles", "SELECT title FROM annotations ORDER BY timestamp", 0, 2),
			],
		});
		// Save-time checks keep broken queries out; one can still break later (OQL changes, hand edits).
		const [row] = await t.database.db.select().from(dashboards).where(eq(dashboards.id, board.id));
		const panels = JSON.parse(row?.panels ?? "[]");
		panels[1].query = "SELECT count(*) FROM annotations WHERE sevrity = 1";
		await t.database.db
			.update(dashboards)
			.set({ panels: JSON.stringify(panels) })
			.where(eq(dashboards.id, board.id));

		const data = await call(a.viewer, "GET", `${DASH}/${board.id}/data`);
		expect(data.status).toBe(200);
		expect(data.json.time).toEqual({ from: "2026-11-28T11:00:00.000Z", to: "2026-11-28T12:00:00.000Z" });
		expect(Object.keys(data.json.panels).sort()).toEqual(["all", "broken", "saved", "titles"]);
		expect(data.json.panels.all.data.rows).toEqual([[3]]);
		expect(data.json.panels.saved.data.rows).toEqual([[1]]);
		expect(data.json.panels.titles.data.rows).toEqual([["a3"], ["a2"], ["a1"]]);
		expect(data.json.panels.broken.error.code).toBe("oql_invalid_query");
		expect(data.json.panels.broken.error.position).toEqual({ line: 1, column: 40 });
		expect(data.json.panels.broken.data).toBeUndefined();
	});

	it("applies from/to (RFC 3339 or epoch ms) to every panel", async () => {
		await seedAnnotations();
		const board = await createDashboard(a.member, {
			time: { last: "6h" },
			panels: [panel("n", "SELECT count(*) FROM annotations LAST 5m")],
		});
		const wide = await call(a.viewer, "GET", `${DASH}/${board.id}/data`);
		expect(wide.json.panels.n.data.rows).toEqual([[4]]);
		const from = new Date(T0 - 25 * MIN).toISOString();
		const narrow = await call(a.viewer, "GET", `${DASH}/${board.id}/data?from=${from}&to=${T0 - 5 * MIN}`);
		expect(narrow.status).toBe(200);
		expect(narrow.json.panels.n.data.rows).toEqual([[2]]);
		expect(narrow.json.panels.n.data.meta).toMatchObject({ from, to: new Date(T0 - 5 * MIN).toISOString() });
		const inverted = await call(a.viewer, "GET", `${DASH}/${board.id}/data?from=${T0}&to=${T0 - MIN}`);
		expect(inverted.status).toBe(400);
		expect((await call(a.viewer, "GET", `${DASH}/${board.id}/data?from=yesterday`)).status).toBe(400);
		expect((await call(a.viewer, "GET", `${DASH}/${board.id}/data?limit=5`)).status).toBe(400);
	});

	it("binds variables as values: an injection attempt matches nothing and never errors", async () => {
		await seedAnnotations();
		const board = await createDashboard(a.member, {
			variables: [{ name: "service", default: "checkout" }],
			panels: [
				panel("n", "SELECT count(*) FROM annotations WHERE service = $service"),
				panel("titles", "SELECT title FROM annotations WHERE service = $service ORDER BY timestamp", 4),
			],
		});
		const url = (value?: string) =>
			`${DASH}/${board.id}/data${value === undefined ? "" : `?var.service=${encodeURIComponent(value)}`}`;

		const byDefault = await call(a.viewer, "GET", url());
		expect(byDefault.json.variables).toEqual({ service: "checkout" });
		expect(byDefault.json.panels.n.data.rows).toEqual([[2]]);
		expect((await call(a.viewer, "GET", url("cart"))).json.panels.n.data.rows).toEqual([[1]]);

		for (const attack of [
			"checkout' OR '1'='1",
			"x' OR 1=1 --",
			"'); DROP TABLE annotations; --",
			'checkout" OR ""="',
			"$service",
			"' UNION SELECT title FROM annotations WHERE org_id != '",
		]) {
			const answer = await call(a.viewer, "GET", url(attack));
			expect(answer.status, attack).toBe(200);
			expect(answer.json.panels.n, attack).toEqual({ data: expect.objectContaining({ rows: [[0]] }) });
			expect(answer.json.panels.titles.data.rows, attack).toEqual([]);
		}
		// Nothing was dropped, and org B's rows never showed up.
		const after = await call(a.viewer, "GET", url("checkout"));
		expect(after.json.panels.titles.data.rows).toEqual([["a2"], ["a1"]]);

		const unknown = await call(a.viewer, "GET", `${DASH}/${board.id}/data?var.host=x`);
		expect(unknown.status).toBe(400);
		expect(unknown.json.error.details[0].path).toBe("var.host");
		expect((await call(a.viewer, "GET", `${url("a")}&var.service=b`)).status).toBe(400);
	});

	it("reports a panel whose saved query is gone, and an unbound variable, per panel", async () => {
		await seedAnnotations();
		const saved = await saveQuery(a.member, {});
		const board = await createDashboard(a.member, {
			variables: [{ name: "env" }],
			panels: [
				{ id: "s", title: "s", kind: "number", saved_query_id: saved.id, layout: { x: 0, y: 0, w: 4, h: 2 } },
				panel("v", "SELECT count(*) FROM annotations WHERE environment = $env", 4),
				panel("ok", "SELECT count(*) FROM annotations", 8),
			],
		});
		await t.database.client.execute({ sql: "DELETE FROM saved_queries WHERE id = ?", args: [saved.id] });
		const data = await call(a.viewer, "GET", `${DASH}/${board.id}/data`);
		expect(data.status).toBe(200);
		expect(data.json.variables).toEqual({ env: null });
		expect(data.json.panels.s.error.code).toBe("not_found");
		expect(data.json.panels.v.error.code).toBe("oql_invalid_query");
		expect(data.json.panels.ok.data.rows).toEqual([[3]]);
		const bound = await call(a.viewer, "GET", `${DASH}/${board.id}/data?var.env=prod`);
		expect(bound.json.panels.v.data.rows).toEqual([[0]]);
	});
});
