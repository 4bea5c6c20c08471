import type { Client } from "@libsql/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDatabase } from "../../src/db/client.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

/** The fake clock starts here: 2026-11-28T12:00:00.000Z. */
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const BASE = "/api/v1/annotations";

interface Annotation {
	id: string;
	title: string;
	text: string | null;
	tags: string[];
	time: string;
	time_end: string | null;
	service: string | null;
	environment: string | null;
	version: string | null;
	url: string | null;
	external_id: string | null;
	created_at: string;
	updated_at: string;
	created_by: { type: "api_key" | "user"; id: string; name: string | null };
}
interface ListBody {
	data: Annotation[];
	next_cursor: string | null;
}
interface ErrorJson {
	error: { code: string; message: string; request_id: string; details?: { path: string; message: string }[] };
}

type Auth = { key: string } | { token: string };

interface Answer<T> {
	status: number;
	headers: Headers;
	text: string;
	json: T;
}

let t: TestApp;
let orgA: { orgId: string; key: string; keyId: string };
let keyA: Auth;

beforeEach(async () => {
	t = await createTestApp({ clock: new FakeClock(T0) });
	orgA = await t.createOrgWithKey("Acme");
	keyA = { key: orgA.key };
});
afterEach(() => t.close());

function authHeaders(auth?: Auth): Record<string, string> {
	if (!auth) return {};
	return "key" in auth ? { "X-API-Key": auth.key } : { Authorization: `Bearer ${auth.token}` };
}

async function call<T = unknown>(
	method: string,
	path: string,
	options: { auth?: Auth; body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
	const headers: Record<string, string> = { ...authHeaders(options.auth) };
	let body: BodyInit | undefined = options.raw;
	if (options.body !== undefined) {
		headers["Content-Type"] = "application/json";
		body = JSON.stringify(options.body);
	}
	Object.assign(headers, options.headers);
	const res = await t.app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
	const text = await res.text();
	let json: unknown = null;
	if (text !== "") {
		try {
			json = JSON.parse(text);
		} catch {
			json = null;
		}
	}
	return { status: res.status, headers: res.headers, text, json: json as T };
}

const post = (body: unknown, auth: Auth = keyA) => call<Annotation>("POST", BASE, { auth, body });
const list = (query = "", auth: Auth = keyA) => call<ListBody>("GET", `${BASE}${query}`, { auth });

async function create(body: Record<string, unknown>, auth: Auth = keyA): Promise<Annotation> {
	const res = await post(body, auth);
	expect(res.status, res.text).toBe(201);
	return res.json;
}

function expectError(res: Answer<unknown>, status: number, code: string): ErrorJson {
	expect(res.status, res.text).toBe(status);
	const body = res.json as ErrorJson;
	expect(body.error.code).toBe(code);
	expect(typeof body.error.message).toBe("string");
	expect(body.error.request_id).toBe(res.headers.get("X-Request-Id"));
	return body;
}

function expectInvalid(res: Answer<unknown>, path?: string): ErrorJson {
	const body = expectError(res, 400, "invalid_request");
	expect(Array.isArray(body.error.details)).toBe(true);
	expect(body.error.details?.length).toBeGreaterThan(0);
	if (path !== undefined) expect(body.error.details?.map((d) => d.path)).toContain(path);
	return body;
}

/** Follows next_cursor to the end; `between` runs after each page but the last. */
async function walk(
	query: string,
	auth: Auth = keyA,
	between?: () => Promise<void>,
): Promise<{ rows: Annotation[]; pages: number }> {
	const rows: Annotation[] = [];
	let cursor: string | null = null;
	let pages = 0;
	do {
		const sep = query === "" ? "?" : "&";
		const res = await list(
			cursor === null ? query : `${query}${sep}cursor=${encodeURIComponent(cursor)}`,
			auth,
		);
		expect(res.status, res.text).toBe(200);
		rows.push(...res.json.data);
		cursor = res.json.next_cursor;
		pages++;
		if (cursor !== null && between) await between();
		expect(pages).toBeLessThan(500);
	} while (cursor !== null);
	return { rows, pages };
}

/** The same real database, but every statement waits one macrotask first, like a network round trip. */
function withLatency(client: Client): Client {
	return new Proxy(client, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (typeof value !== "function") return value;
			if (prop !== "execute" && prop !== "batch") return value.bind(target);
			return async (...args: unknown[]) => {
				await new Promise((resolve) => setImmediate(resolve));
				return value.apply(target, args);
			};
		},
	});
}

/** Newest first: time descending, ties by id descending. */
function expectNewestFirst(rows: Annotation[]) {
	for (let i = 1; i < rows.length; i++) {
		const a = rows[i - 1] as Annotation;
		const b = rows[i] as Annotation;
		const ta = Date.parse(a.time);
		const tb = Date.parse(b.time);
		expect(ta > tb || (ta === tb && a.id > b.id), `${a.time}/${a.id} before ${b.time}/${b.id}`).toBe(true);
	}
}

describe("annotations: happy paths", () => {
	describe("create", () => {
		it("answers 201 with every field echoed, and GET returns the same object", async () => {
			const body = {
				title: "Deploy checkout v2.14.1",
				text: "Rolled out by CI run 981273",
				tags: ["deploy", "team:payments", "region/eu-west-1", "v2.14_1"],
				time: "2026-11-28T11:00:00.000Z",
				time_end: "2026-11-28T11:05:30.250Z",
				service: "checkout",
				environment: "production",
				version: "v2.14.1",
				url: "https://github.com/acme/checkout/actions/runs/981273",
				external_id: "github-run-981273",
			};
			const res = await post(body);
			expect(res.status, res.text).toBe(201);
			expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
			expect(res.json).toEqual({
				id: expect.stringMatching(/^ann_[0-9A-Za-z]{20}$/),
				...body,
				created_at: "2026-11-28T12:00:00.000Z",
				updated_at: "2026-11-28T12:00:00.000Z",
				created_by: { type: "api_key", id: orgA.keyId, name: "test key" },
			});

			const got = await call<Annotation>("GET", `${BASE}/${res.json.id}`, { auth: keyA });
			expect(got.status).toBe(200);
			expect(got.json).toEqual(res.json);
		});

		it("writes times as RFC 3339 UTC with milliseconds and defaults `time` to now", async () => {
			const first = await create({ title: "no time given" });
			expect(first.time).toBe("2026-11-28T12:00:00.000Z");
			expect(first).toMatchObject({
				text: null,
				tags: [],
				time_end: null,
				service: null,
				environment: null,
				version: null,
				url: null,
				external_id: null,
			});

			t.clock.advance(61_234);
			const second = await create({ title: "later" });
			expect(second.time).toBe("2026-11-28T12:01:01.234Z");
			expect(second.created_at).toBe("2026-11-28T12:01:01.234Z");
			for (const value of [second.time, second.created_at, second.updated_at]) {
				expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
			}
		});

		it("accepts epoch milliseconds and RFC 3339 with an offset, normalised to UTC", async () => {
			const epoch = await create({ title: "epoch", time: T0 - 3_600_000 + 7, time_end: T0 + 1 });
			expect(epoch.time).toBe("2026-11-28T11:00:00.007Z");
			expect(epoch.time_end).toBe("2026-11-28T12:00:00.001Z");

			const offset = await create({
				title: "offset",
				time: "2026-11-28T14:30:00.5+02:30",
				time_end: "2026-11-28T07:15:00-05:00",
			});
			expect(offset.time).toBe("2026-11-28T12:00:00.500Z");
			expect(offset.time_end).toBe("2026-11-28T12:15:00.000Z");

			const noFraction = await create({ title: "no fraction", time: "2026-01-02T03:04:05Z" });
			expect(noFraction.time).toBe("2026-01-02T03:04:05.000Z");

			const zero = await create({ title: "epoch zero", time: 0 });
			expect(zero.time).toBe("1970-01-01T00:00:00.000Z");

			const last = await create({ title: "last RFC 3339 instant", time: "9999-12-31T23:59:59.999Z" });
			expect(last.time).toBe("9999-12-31T23:59:59.999Z");
		});

		it("names the author: the API key, or the JWT's user with a null name", async () => {
			const byKey = await create({ title: "by key" });
			expect(byKey.created_by).toEqual({ type: "api_key", id: orgA.keyId, name: "test key" });

			const token = await t.mintToken({ orgId: orgA.orgId, userId: "usr_alice", role: "member" });
			const byUser = await create({ title: "by user" }, { token });
			expect(byUser.created_by).toEqual({ type: "user", id: "usr_alice", name: null });
		});

		it("de-duplicates tags, keeping first-seen order", async () => {
			const created = await create({ title: "dup tags", tags: ["deploy", "b", "deploy", "a", "b"] });
			expect(created.tags).toEqual(["deploy", "b", "a"]);
			const byTag = await list("?tags=deploy");
			expect(byTag.json.data.map((a) => a.id)).toEqual([created.id]);
		});

		it("treats external_id as an idempotency key within one org", async () => {
			const first = await post({ title: "Deploy 1", external_id: "run-1", tags: ["deploy"] });
			expect(first.status).toBe(201);

			t.clock.advance(5_000);
			const again = await post({ title: "A different title", external_id: "run-1" });
			expect(again.status, again.text).toBe(200);
			expect(again.json).toEqual(first.json);

			// Same org through a JWT: still the same annotation.
			const token = await t.mintToken({ orgId: orgA.orgId, role: "member" });
			const viaJwt = await post({ title: "via jwt", external_id: "run-1" }, { token });
			expect(viaJwt.status).toBe(200);
			expect(viaJwt.json.id).toBe(first.json.id);

			const all = await list();
			expect(all.json.data.map((a) => a.id)).toEqual([first.json.id]);

			// Another org with the same external_id gets its own annotation.
			const orgB = await t.createOrgWithKey("Other");
			const inB = await post({ title: "B's deploy", external_id: "run-1" }, { key: orgB.key });
			expect(inB.status, inB.text).toBe(201);
			expect(inB.json.id).not.toBe(first.json.id);
			expect(inB.json.title).toBe("B's deploy");
			expect((await list()).json.data.map((a) => a.id)).toEqual([first.json.id]);
			expect((await list("", { key: orgB.key })).json.data.map((a) => a.id)).toEqual([inB.json.id]);
		});

		it("lets a deleted annotation's external_id be used again", async () => {
			const first = await create({ title: "one", external_id: "run-9" });
			expect((await call("DELETE", `${BASE}/${first.id}`, { auth: keyA })).status).toBe(204);
			const second = await post({ title: "two", external_id: "run-9" });
			expect(second.status).toBe(201);
			expect(second.json.id).not.toBe(first.id);
		});

		it.each([
			["without tags", {}, false],
			["with tags", { tags: ["deploy", "ci"] }, false],
			["without tags, over a slow link", {}, true],
			["with tags, over a slow link", { tags: ["deploy", "ci"] }, true],
		])(
			"turns 10 concurrent posts of one external_id into one 201 and nine 200s (%s)",
			async (_, extra, slow) => {
				// Embedded libSQL answers within the same tick, so requests never interleave between the
				// external_id lookup and the insert. A remote libSQL (Workers, Turso) does: the slow link puts a
				// macrotask before every statement so every racer looks up first, and all but one lose at the
				// unique index.
				if (slow) t.deps.db = createDatabase(withLatency(t.database.client));
				const answers = await Promise.all(
					Array.from({ length: 10 }, (_, i) => post({ title: `racer ${i}`, external_id: "race", ...extra })),
				);
				const statuses = answers.map((a) => a.status).sort();
				expect(statuses, answers.map((a) => a.text).join("\n")).toEqual([
					200, 200, 200, 200, 200, 200, 200, 200, 200, 201,
				]);
				const winner = answers.find((a) => a.status === 201)?.json as Annotation;
				for (const answer of answers) expect(answer.json).toEqual(winner);

				const all = await list();
				expect(all.json.data.map((a) => a.id)).toEqual([winner.id]);
				const rows = await t.database.client.execute("SELECT count(*) AS n FROM annotations");
				expect(Number(rows.rows[0]?.n)).toBe(1);
			},
		);
	});

	describe("list", () => {
		it("returns newest first, filtered by from/to inclusively in RFC 3339 or epoch ms", async () => {
			const times = [T0 - 4000, T0 - 3000, T0 - 2000, T0 - 1000];
			const made: Annotation[] = [];
			for (const time of times) made.push(await create({ title: `at ${time}`, time }));
			const [a0, a1, a2, a3] = made as [Annotation, Annotation, Annotation, Annotation];

			const all = await list();
			expect(all.status).toBe(200);
			expect(all.json.data.map((a) => a.id)).toEqual([a3.id, a2.id, a1.id, a0.id]);
			expect(all.json.next_cursor).toBeNull();

			const byIso = await list(
				`?from=${encodeURIComponent(iso(T0 - 3000))}&to=${encodeURIComponent(iso(T0 - 2000))}`,
			);
			expect(byIso.status, byIso.text).toBe(200);
			expect(byIso.json.data.map((a) => a.id)).toEqual([a2.id, a1.id]);

			const byEpoch = await list(`?from=${T0 - 3000}&to=${T0 - 2000}`);
			expect(byEpoch.json.data.map((a) => a.id)).toEqual([a2.id, a1.id]);

			const withOffset = await list(`?from=${encodeURIComponent("2026-11-28T13:59:58+02:00")}`);
			expect(withOffset.json.data.map((a) => a.id)).toEqual([a3.id, a2.id]);

			expect((await list(`?to=${T0 - 3001}`)).json.data.map((a) => a.id)).toEqual([a0.id]);
			expect((await list(`?from=${T0}`)).json.data).toEqual([]);
		});

		it("filters by tags with match=all (the default) or match=any", async () => {
			const both = await create({ title: "both", tags: ["deploy", "team:payments"], time: T0 - 3000 });
			const deployOnly = await create({ title: "deploy", tags: ["deploy"], time: T0 - 2000 });
			const teamOnly = await create({ title: "team", tags: ["team:payments", "incident"], time: T0 - 1000 });
			await create({ title: "untagged", time: T0 - 500 });

			const ids = async (q: string) => {
				const res = await list(q);
				expect(res.status, res.text).toBe(200);
				return res.json.data.map((a) => a.id);
			};
			expect(await ids("?tags=deploy,team:payments")).toEqual([both.id]);
			expect(await ids("?tags=deploy,team:payments&match=all")).toEqual([both.id]);
			expect(await ids("?tags=deploy,team:payments&match=any")).toEqual([
				teamOnly.id,
				deployOnly.id,
				both.id,
			]);
			expect(await ids("?tags=deploy")).toEqual([deployOnly.id, both.id]);
			expect(await ids("?tags=incident,deploy&match=all")).toEqual([]);
			expect(await ids("?tags=nothing-has-this&match=any")).toEqual([]);
			// A repeated tag in the filter does not make match=all impossible.
			expect(await ids("?tags=deploy,deploy")).toEqual([deployOnly.id, both.id]);
		});

		it("filters by service and environment", async () => {
			const a = await create({ title: "a", service: "checkout", environment: "production", time: T0 - 3 });
			const b = await create({ title: "b", service: "checkout", environment: "staging", time: T0 - 2 });
			const c = await create({ title: "c", service: "search", environment: "production", time: T0 - 1 });
			await create({ title: "d", time: T0 });

			const ids = async (q: string) => (await list(q)).json.data.map((x) => x.id);
			expect(await ids("?service=checkout")).toEqual([b.id, a.id]);
			expect(await ids("?environment=production")).toEqual([c.id, a.id]);
			expect(await ids("?service=checkout&environment=production")).toEqual([a.id]);
			expect(await ids("?service=nope")).toEqual([]);
		});

		it("pages by 100 by default and accepts up to limit=1000", async () => {
			for (let i = 0; i < 101; i++) await create({ title: `n${i}`, time: T0 - i });

			const first = await list();
			expect(first.json.data).toHaveLength(100);
			expect(first.json.next_cursor).toEqual(expect.any(String));
			const second = await list(`?cursor=${encodeURIComponent(first.json.next_cursor as string)}`);
			expect(second.json.data).toHaveLength(1);
			expect(second.json.data[0]?.title).toBe("n100");
			expect(second.json.next_cursor).toBeNull();

			const big = await list("?limit=1000");
			expect(big.status).toBe(200);
			expect(big.json.data).toHaveLength(101);
			expect(big.json.next_cursor).toBeNull();

			const exact = await list("?limit=101");
			expect(exact.json.data).toHaveLength(101);
			expect(exact.json.next_cursor).toBeNull();
		});

		it("walks every row exactly once with cursors, ties on `time` broken by id", async () => {
			const made: Annotation[] = [];
			// 23 rows over 5 distinct times: many share a time exactly.
			for (let i = 0; i < 23; i++) made.push(await create({ title: `r${i}`, time: T0 - (i % 5) * 1000 }));

			for (const limit of [1, 2, 3, 4, 5, 7, 22, 23]) {
				const { rows, pages } = await walk(`?limit=${limit}`);
				expect(rows.map((r) => r.id).sort()).toEqual(made.map((r) => r.id).sort());
				expect(new Set(rows.map((r) => r.id)).size).toBe(23);
				expect(pages).toBe(Math.ceil(23 / limit));
				expectNewestFirst(rows);
			}
		});

		it("keeps a walk free of gaps and repeats while newer annotations arrive between pages", async () => {
			const existing: Annotation[] = [];
			for (let i = 0; i < 17; i++)
				existing.push(await create({ title: `old ${i}`, time: T0 - 60_000 - (i % 4) }));
			t.clock.advance(1000);

			const inserted: string[] = [];
			const { rows } = await walk("?limit=3", keyA, async () => {
				t.clock.advance(1000);
				inserted.push((await create({ title: `new ${inserted.length}` })).id);
			});

			expect(inserted.length).toBeGreaterThan(3);
			const seen = rows.map((r) => r.id);
			expect(new Set(seen).size).toBe(seen.length);
			expect([...seen].sort()).toEqual(existing.map((a) => a.id).sort());
			for (const id of inserted) expect(seen).not.toContain(id);
			expectNewestFirst(rows);

			// A fresh walk sees everything, new rows first.
			const fresh = await walk("?limit=4");
			expect(fresh.rows).toHaveLength(existing.length + inserted.length);
			expect(fresh.rows.slice(0, inserted.length).map((r) => r.id)).toEqual([...inserted].reverse());
		});

		it("combines a cursor with filters", async () => {
			const deploys: Annotation[] = [];
			for (let i = 0; i < 9; i++) {
				const a = await create({ title: `d${i}`, tags: ["deploy"], service: "api", time: T0 - (i % 3) });
				deploys.push(a);
				await create({ title: `o${i}`, tags: ["other"], service: "api", time: T0 - (i % 3) });
			}
			const { rows } = await walk("?tags=deploy&service=api&limit=2");
			expect(rows.map((r) => r.id).sort()).toEqual(deploys.map((r) => r.id).sort());
			expectNewestFirst(rows);
		});
	});

	describe("get, replace, delete", () => {
		it("PUT replaces the mutable fields; fields left out become null; updated_at follows the clock", async () => {
			const original = await create({
				title: "original",
				text: "some text",
				tags: ["deploy", "old"],
				time: T0 - 10_000,
				time_end: T0 - 5_000,
				service: "checkout",
				environment: "production",
				version: "v1",
				url: "https://example.com/1",
				external_id: "ext-1",
			});

			t.clock.advance(90_000);
			const res = await call<Annotation>("PUT", `${BASE}/${original.id}`, {
				auth: keyA,
				body: { title: "replaced", time: "2026-11-28T10:00:00+01:00", tags: ["new", "new"] },
			});
			expect(res.status, res.text).toBe(200);
			expect(res.json).toEqual({
				id: original.id,
				title: "replaced",
				text: null,
				tags: ["new"],
				time: "2026-11-28T09:00:00.000Z",
				time_end: null,
				service: null,
				environment: null,
				version: null,
				url: null,
				external_id: "ext-1",
				created_at: original.created_at,
				updated_at: "2026-11-28T12:01:30.000Z",
				created_by: original.created_by,
			});

			const got = await call<Annotation>("GET", `${BASE}/${original.id}`, { auth: keyA });
			expect(got.json).toEqual(res.json);

			// Still idempotent by its external_id, which PUT cannot change.
			const again = await post({ title: "x", external_id: "ext-1" });
			expect(again.status).toBe(200);
			expect(again.json).toEqual(res.json);
		});

		it("PUT by a JWT user keeps the original author", async () => {
			const original = await create({ title: "by key" });
			const token = await t.mintToken({ orgId: orgA.orgId, userId: "usr_bob", role: "member" });
			const res = await call<Annotation>("PUT", `${BASE}/${original.id}`, {
				auth: { token },
				body: { title: "edited", time: T0, service: "api" },
			});
			expect(res.status, res.text).toBe(200);
			expect(res.json.created_by).toEqual({ type: "api_key", id: orgA.keyId, name: "test key" });
			expect(res.json.service).toBe("api");
		});

		it("the tag filter follows the new tags after PUT (and a PUT to no tags)", async () => {
			const a = await create({ title: "a", tags: ["old", "shared"] });
			const put = await call("PUT", `${BASE}/${a.id}`, {
				auth: keyA,
				body: { title: "a", time: T0, tags: ["new", "shared"] },
			});
			expect(put.status).toBe(200);
			const ids = async (q: string) => (await list(q)).json.data.map((x) => x.id);
			expect(await ids("?tags=old")).toEqual([]);
			expect(await ids("?tags=new")).toEqual([a.id]);
			expect(await ids("?tags=new,shared")).toEqual([a.id]);
			expect(await ids("?tags=old,new&match=any")).toEqual([a.id]);

			const cleared = await call<Annotation>("PUT", `${BASE}/${a.id}`, {
				auth: keyA,
				body: { title: "a", time: T0 },
			});
			expect(cleared.json.tags).toEqual([]);
			expect(await ids("?tags=new,shared&match=any")).toEqual([]);
		});

		it("PUT moves an annotation in time for list order and from/to", async () => {
			const a = await create({ title: "a", time: T0 - 2000 });
			const b = await create({ title: "b", time: T0 - 1000 });
			expect((await list()).json.data.map((x) => x.id)).toEqual([b.id, a.id]);
			await call("PUT", `${BASE}/${a.id}`, { auth: keyA, body: { title: "a", time: T0 } });
			expect((await list()).json.data.map((x) => x.id)).toEqual([a.id, b.id]);
			expect((await list(`?to=${T0 - 1}`)).json.data.map((x) => x.id)).toEqual([b.id]);
		});

		it("DELETE answers 204, then GET is 404, the list drops it, and a second DELETE is 404", async () => {
			const keep = await create({ title: "keep", tags: ["deploy"] });
			const gone = await create({ title: "gone", tags: ["deploy"], external_id: "g" });

			const del = await call("DELETE", `${BASE}/${gone.id}`, { auth: keyA });
			expect(del.status).toBe(204);
			expect(del.text).toBe("");

			expectError(await call("GET", `${BASE}/${gone.id}`, { auth: keyA }), 404, "not_found");
			expect((await list()).json.data.map((x) => x.id)).toEqual([keep.id]);
			expect((await list("?tags=deploy")).json.data.map((x) => x.id)).toEqual([keep.id]);
			expectError(await call("DELETE", `${BASE}/${gone.id}`, { auth: keyA }), 404, "not_found");
			expectError(
				await call("PUT", `${BASE}/${gone.id}`, { auth: keyA, body: { title: "x", time: T0 } }),
				404,
				"not_found",
			);
			const tagRows = await t.database.client.execute({
				sql: "SELECT count(*) AS n FROM annotation_tags WHERE annotation_id = ?",
				args: [gone.id],
			});
			expect(Number(tagRows.rows[0]?.n)).toBe(0);
		});

		it("GET, PUT and DELETE of an unknown id answer 404 not_found", async () => {
			const id = "ann_00000000000000000000";
			expectError(await call("GET", `${BASE}/${id}`, { auth: keyA }), 404, "not_found");
			expectError(
				await call("PUT", `${BASE}/${id}`, { auth: keyA, body: { title: "x", time: T0 } }),
				404,
				"not_found",
			);
			expectError(await call("DELETE", `${BASE}/${id}`, { auth: keyA }), 404, "not_found");
		});
	});
});

describe("annotations: errors", () => {
	const longTag = `a${"b".repeat(64)}`;

	it.each<[string, Record<string, unknown>, string]>([
		["a missing title", {}, "title"],
		["an empty title", { title: "" }, "title"],
		["a blank title", { title: "   \t " }, "title"],
		["a 201-character title", { title: "x".repeat(201) }, "title"],
		["text over 10,000 characters", { title: "t", text: "x".repeat(10_001) }, "text"],
		["21 tags", { title: "t", tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, "tags"],
		["an uppercase tag", { title: "t", tags: ["ok", "Deploy"] }, "tags.1"],
		["a tag with a leading dash", { title: "t", tags: ["-deploy"] }, "tags.0"],
		["a 65-character tag", { title: "t", tags: [longTag] }, "tags.0"],
		["an empty tag", { title: "t", tags: [""] }, "tags.0"],
		["a tag with a space", { title: "t", tags: ["two words"] }, "tags.0"],
		["time_end before time", { title: "t", time: T0, time_end: T0 - 1 }, "time_end"],
		["time_end before the default time (now)", { title: "t", time_end: T0 - 1 }, "time_end"],
		["a time in words", { title: "t", time: "yesterday" }, "time"],
		["a date without a time", { title: "t", time: "2026-11-28" }, "time"],
		["a time without a zone", { title: "t", time: "2026-11-28T12:00:00" }, "time"],
		["an impossible date", { title: "t", time: "2026-02-30T00:00:00Z" }, "time"],
		["month 13", { title: "t", time: "2026-13-01T00:00:00Z" }, "time"],
		["a negative epoch", { title: "t", time: -1 }, "time"],
		["a fractional epoch", { title: "t", time: 1.5 }, "time"],
		["an epoch as a string", { title: "t", time: String(T0) }, "time"],
		["a time past year 9999 (epoch)", { title: "t", time: 253_402_300_800_000 }, "time"],
		["a time past year 9999 (offset)", { title: "t", time: "9999-12-31T23:00:00-05:00" }, "time"],
		["a bad time_end", { title: "t", time_end: "soon" }, "time_end"],
		["a numeric title", { title: 5 }, "title"],
		["tags as a string", { title: "t", tags: "deploy" }, "tags"],
		["a numeric tag", { title: "t", tags: [1] }, "tags.0"],
		["a numeric service", { title: "t", service: 3 }, "service"],
		["an empty service", { title: "t", service: "" }, "service"],
		["text as an array", { title: "t", text: ["a"] }, "text"],
		["a boolean time", { title: "t", time: true }, "time"],
		["an ftp url", { title: "t", url: "ftp://example.com/x" }, "url"],
		["a javascript: url", { title: "t", url: "javascript:alert(1)" }, "url"],
		["a url that is not a url", { title: "t", url: "not a url" }, "url"],
		["a 129-character external_id", { title: "t", external_id: "e".repeat(129) }, "external_id"],
		["an empty external_id", { title: "t", external_id: "" }, "external_id"],
	])("POST with %s → 400 invalid_request with details", async (_, body, path) => {
		expectInvalid(await post(body), path);
		expect((await list()).json.data).toEqual([]);
	});

	it("accepts the boundaries: 200-char title, 10,000-char text, 20 tags, 64-char tag, time_end = time", async () => {
		const res = await post({
			title: "x".repeat(200),
			text: "y".repeat(10_000),
			tags: [...Array.from({ length: 19 }, (_, i) => `t${i}`), `a${"b".repeat(63)}`],
			time: T0,
			time_end: T0,
			external_id: "e".repeat(128),
			url: "http://example.com",
		});
		expect(res.status, res.text).toBe(201);
		expect(res.json.tags).toHaveLength(20);
		expect(res.json.time_end).toBe(res.json.time);
	});

	it("refuses unknown fields, naming them", async () => {
		const body = expectInvalid(await post({ title: "t", colour: "red" }));
		expect(JSON.stringify(body.error.details)).toContain("colour");
	});

	it("refuses a body that is not an object", async () => {
		for (const body of [[], "title", 42, null]) {
			expectError(await post(body), 400, "invalid_request");
		}
	});

	it("refuses malformed JSON with 400 invalid_request", async () => {
		const res = await call("POST", BASE, {
			auth: keyA,
			raw: '{"title": "unterminated',
			headers: { "Content-Type": "application/json" },
		});
		expectError(res, 400, "invalid_request");
		expect((await list()).json.data).toEqual([]);
	});

	it("says where malformed JSON breaks (line and column) and when the body is empty", async () => {
		const json = { "Content-Type": "application/json" };
		const broken = await call("POST", BASE, {
			auth: keyA,
			raw: '{\n  "title": "t",\n  "text": }',
			headers: json,
		});
		expectError(broken, 400, "invalid_request");
		type Failure = { error: { message: string; position?: unknown } };
		expect((broken.json as Failure).error.position).toEqual({ line: 3, column: 11 });
		expect((broken.json as Failure).error.message).toMatch(/not valid JSON: .+ at line 3, column 11\.$/);
		const cut = await call("POST", BASE, { auth: keyA, raw: '{"title": "t"', headers: json });
		expect((cut.json as Failure).error.message).toMatch(
			/the body ends before the JSON does at line 1, column 14\.$/,
		);
		for (const raw of ["", "  \n"]) {
			const empty = await call("POST", BASE, { auth: keyA, raw, headers: json });
			expectError(empty, 400, "invalid_request");
			expect((empty.json as Failure).error.message).toBe("The request body is empty; send a JSON object.");
		}
		expect((await list()).json.data).toEqual([]);
	});

	it("refuses a body that is not JSON with 415 unsupported_media_type", async () => {
		for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
			const res = await call("POST", BASE, {
				auth: keyA,
				raw: JSON.stringify({ title: "t" }),
				headers: { "Content-Type": type },
			});
			expectError(res, 415, "unsupported_media_type");
		}
		const noType = await call("POST", BASE, {
			auth: keyA,
			raw: new TextEncoder().encode(JSON.stringify({ title: "t" })),
		});
		expectError(noType, 415, "unsupported_media_type");
		const put = await call("PUT", `${BASE}/ann_x`, {
			auth: keyA,
			raw: "title=t",
			headers: { "Content-Type": "text/plain" },
		});
		expectError(put, 415, "unsupported_media_type");
		expect((await list()).json.data).toEqual([]);
	});

	it("accepts application/json with a charset parameter", async () => {
		const res = await call("POST", BASE, {
			auth: keyA,
			raw: JSON.stringify({ title: "t" }),
			headers: { "Content-Type": "application/json; charset=utf-8" },
		});
		expect(res.status, res.text).toBe(201);
	});

	it("limits JSON bodies to 1 MiB: exactly 1 MiB passes, one byte more is 413 payload_too_large", async () => {
		const MiB = 1024 * 1024;
		const json = JSON.stringify({ title: "big" });
		const exact = json + " ".repeat(MiB - json.length);
		expect(new TextEncoder().encode(exact).length).toBe(MiB);
		const ok = await call("POST", BASE, {
			auth: keyA,
			raw: exact,
			headers: { "Content-Type": "application/json" },
		});
		expect(ok.status, ok.text).toBe(201);

		const over = await call("POST", BASE, {
			auth: keyA,
			raw: `${exact} `,
			headers: { "Content-Type": "application/json" },
		});
		expectError(over, 413, "payload_too_large");

		const huge = await post({ title: "t", text: "x".repeat(2 * MiB) });
		expectError(huge, 413, "payload_too_large");
		expect((await list()).json.data).toHaveLength(1);
	});

	it("PUT requires `time`, refuses external_id and validates like POST", async () => {
		const a = await create({ title: "a" });
		const path = `${BASE}/${a.id}`;
		expectInvalid(await call("PUT", path, { auth: keyA, body: { title: "no time" } }), "time");
		const ext = expectInvalid(
			await call("PUT", path, { auth: keyA, body: { title: "x", time: T0, external_id: "new" } }),
		);
		expect(JSON.stringify(ext.error.details)).toContain("external_id");
		expectInvalid(await call("PUT", path, { auth: keyA, body: { time: T0 } }), "title");
		expectInvalid(
			await call("PUT", path, { auth: keyA, body: { title: "x", time: T0, time_end: T0 - 1 } }),
			"time_end",
		);
		expectInvalid(
			await call("PUT", path, { auth: keyA, body: { title: "x", time: T0, tags: ["UPPER"] } }),
			"tags.0",
		);
		const got = await call<Annotation>("GET", path, { auth: keyA });
		expect(got.json).toEqual(a);
	});

	it.each([
		["limit=1001", "limit"],
		["limit=0", "limit"],
		["limit=-5", "limit"],
		["limit=ten", "limit"],
		["limit=2.5", "limit"],
		["from=yesterday", "from"],
		["to=2026-11-28", "to"],
		["from=2026-11-28T12:00:00", "from"],
		["match=some", "match"],
		["unknown=1", ""],
	])("GET ?%s → 400 invalid_request with details", async (query, path) => {
		expectInvalid(await list(`?${query}`), path);
	});

	it.each(["tags=Deploy", "tags=deploy,,ci", "tags=-x", `tags=${"a".repeat(65)}`])(
		"GET ?%s (a bad tag filter) → 400 invalid_request",
		async (query) => {
			expectInvalid(await list(`?${query}`), "tags");
		},
	);

	it("a bad tag's message states the rule in words and suggests the lower-cased tag, in a body and in the filter", async () => {
		const rule =
			'a tag must be 1–64 characters: lower-case letters, digits, "-", "_", ".", ":" and "/", starting with a letter or digit';
		const body = expectInvalid(await post({ title: "t", tags: ["ok", "Team Payments"] }), "tags.1");
		expect(body.error.details).toEqual([{ path: "tags.1", message: `${rule}; try "team-payments"` }]);
		const filter = expectInvalid(await list("?tags=Deploy"), "tags");
		expect(filter.error.details).toEqual([
			{ path: "tags", message: `invalid tag "Deploy": ${rule}; try "deploy"` },
		]);
	});

	it("refuses bad cursors with 400 invalid_request", async () => {
		for (let i = 0; i < 3; i++) await create({ title: `r${i}`, time: T0 - i });
		const page = await list("?limit=1");
		const good = page.json.next_cursor as string;
		expect((await list(`?limit=1&cursor=${good}`)).status).toBe(200);

		const b64url = (s: string) =>
			Buffer.from(s).toString("base64").replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
		const tampered = `${good.slice(0, -3)}!!${good.slice(-1)}`;
		const cursors = [
			"garbage",
			"%%%",
			tampered,
			good.slice(0, Math.floor(good.length / 2)),
			b64url("not json"),
			b64url("null"),
			b64url("[1,2]"),
			b64url(JSON.stringify({ time: T0, id: "ann_x" })),
			b64url(JSON.stringify({ t: "1764331200000", i: "ann_x" })),
			b64url(JSON.stringify({ t: 1.5, i: "ann_x" })),
			b64url(JSON.stringify({ t: T0, i: 7 })),
			b64url(JSON.stringify({ t: T0, i: "x".repeat(65) })),
			"x".repeat(201),
		];
		for (const cursor of cursors) {
			const res = await list(`?limit=1&cursor=${encodeURIComponent(cursor)}`);
			const body = expectError(res, 400, "invalid_request");
			expect(body.error.message).not.toMatch(/JSON|Unexpected token|atob/i);
		}
	});

	it("refuses org_id in the body and in the query string", async () => {
		const orgB = await t.createOrgWithKey("Other");
		const inBody = expectInvalid(await post({ title: "t", org_id: orgB.orgId }));
		expect(JSON.stringify(inBody.error.details)).toContain("org_id");
		expectError(
			await call("POST", `${BASE}?org_id=${orgB.orgId}`, { auth: keyA, body: { title: "t" } }),
			400,
			"invalid_request",
		);
		expectError(await list(`?org_id=${orgB.orgId}`), 400, "invalid_request");
		expectError(await list(`?org_id=${orgA.orgId}`), 400, "invalid_request");
		expect((await list()).json.data).toEqual([]);
		expect((await list("", { key: orgB.key })).json.data).toEqual([]);
	});
});

describe("annotations: security", () => {
	describe("tenancy", () => {
		let orgB: { orgId: string; key: string; keyId: string };
		let rowB: Annotation;

		beforeEach(async () => {
			orgB = await t.createOrgWithKey("Other");
			rowB = await create(
				{
					title: "B's secret deploy",
					tags: ["deploy", "shared"],
					service: "checkout",
					environment: "production",
					external_id: "b-1",
				},
				{ key: orgB.key },
			);
		});

		async function expectBUnchanged() {
			const got = await call<Annotation>("GET", `${BASE}/${rowB.id}`, { auth: { key: orgB.key } });
			expect(got.status).toBe(200);
			expect(got.json).toEqual(rowB);
			const listed = await list("", { key: orgB.key });
			expect(listed.json.data).toEqual([rowB]);
			expect((await list("?tags=deploy", { key: orgB.key })).json.data).toEqual([rowB]);
		}

		it.each(["key", "jwt"] as const)(
			"org A's %s never sees, replaces or deletes org B's annotation",
			async (kind) => {
				const ownA = await create({ title: "A's", tags: ["deploy", "shared"], service: "checkout" });
				const authA: Auth =
					kind === "key" ? keyA : { token: await t.mintToken({ orgId: orgA.orgId, role: "owner" }) };

				const listed = await list("", authA);
				expect(listed.json.data.map((a) => a.id)).toEqual([ownA.id]);
				for (const q of [
					"?tags=deploy",
					"?tags=shared,deploy&match=any",
					"?service=checkout",
					"?environment=production",
				]) {
					const res = await list(q, authA);
					expect(res.json.data.every((a) => a.id !== rowB.id)).toBe(true);
				}

				const get = await call("GET", `${BASE}/${rowB.id}`, { auth: authA });
				expectError(get, 404, "not_found");
				expect(get.text).not.toContain(rowB.title);

				const put = await call("PUT", `${BASE}/${rowB.id}`, {
					auth: authA,
					body: { title: "hijacked", time: T0, tags: ["pwned"] },
				});
				expectError(put, 404, "not_found");

				expectError(await call("DELETE", `${BASE}/${rowB.id}`, { auth: authA }), 404, "not_found");

				// B's external_id means nothing in A: A gets its own annotation, not B's.
				const sameExt = await post({ title: "A's own", external_id: "b-1" }, authA);
				expect(sameExt.status).toBe(201);
				expect(sameExt.json.id).not.toBe(rowB.id);
				expect(sameExt.json.title).toBe("A's own");

				// A cursor positioned at B's row only ever pages through A's rows.
				const cursor = Buffer.from(JSON.stringify({ t: Date.parse(rowB.time) + 1, i: "zzzz" })).toString(
					"base64url",
				);
				const paged = await list(`?cursor=${cursor}`, authA);
				expect(paged.status).toBe(200);
				expect(paged.json.data.map((a) => a.id).sort()).toEqual([ownA.id, sameExt.json.id].sort());

				// The tag the PUT tried to add is nowhere.
				expect((await list("?tags=pwned", authA)).json.data).toEqual([]);
				expect((await list("?tags=pwned", { key: orgB.key })).json.data).toEqual([]);
				await expectBUnchanged();
			},
		);

		it("a JWT for org B with a made-up user still cannot reach org A", async () => {
			const ownA = await create({ title: "A's" });
			const tokenB = await t.mintToken({ orgId: orgB.orgId, userId: "usr_mallory", role: "owner" });
			expectError(await call("GET", `${BASE}/${ownA.id}`, { auth: { token: tokenB } }), 404, "not_found");
			expect((await list("", { token: tokenB })).json.data.map((a) => a.id)).toEqual([rowB.id]);
		});
	});

	describe("roles and credentials", () => {
		it("a viewer JWT can read but POST, PUT and DELETE are 403 insufficient_role", async () => {
			const a = await create({ title: "a", tags: ["deploy"] });
			const viewer: Auth = { token: await t.mintToken({ orgId: orgA.orgId, role: "viewer" }) };

			const listed = await list("", viewer);
			expect(listed.status).toBe(200);
			expect(listed.json.data).toEqual([a]);
			const got = await call<Annotation>("GET", `${BASE}/${a.id}`, { auth: viewer });
			expect(got.status).toBe(200);
			expect(got.json).toEqual(a);

			expectError(await post({ title: "nope" }, viewer), 403, "insufficient_role");
			// Role is checked before the body: an invalid body still answers 403.
			expectError(await post({ nonsense: true }, viewer), 403, "insufficient_role");
			expectError(
				await call("PUT", `${BASE}/${a.id}`, { auth: viewer, body: { title: "x", time: T0 } }),
				403,
				"insufficient_role",
			);
			expectError(await call("DELETE", `${BASE}/${a.id}`, { auth: viewer }), 403, "insufficient_role");

			expect((await list()).json.data).toEqual([a]);
		});

		it.each(["member", "admin", "owner"] as const)(
			"a %s JWT can create, replace and delete",
			async (role) => {
				const auth: Auth = { token: await t.mintToken({ orgId: orgA.orgId, role }) };
				const created = await post({ title: "by role" }, auth);
				expect(created.status, created.text).toBe(201);
				const put = await call("PUT", `${BASE}/${created.json.id}`, { auth, body: { title: "r", time: T0 } });
				expect(put.status).toBe(200);
				expect((await call("DELETE", `${BASE}/${created.json.id}`, { auth })).status).toBe(204);
			},
		);

		it("every annotation route answers 401 missing_credentials without a credential", async () => {
			const a = await create({ title: "a" });
			const answers = [
				await call("GET", BASE),
				await call("POST", BASE, { body: { title: "t" } }),
				await call("GET", `${BASE}/${a.id}`),
				await call("PUT", `${BASE}/${a.id}`, { body: { title: "t", time: T0 } }),
				await call("DELETE", `${BASE}/${a.id}`),
			];
			for (const res of answers) {
				expectError(res, 401, "missing_credentials");
				expect(res.headers.get("WWW-Authenticate")).toBe('ApiKey realm="hexcovery", header="X-API-Key"');
			}
			const got = await call<Annotation>("GET", `${BASE}/${a.id}`, { auth: keyA });
			expect(got.json).toEqual(a);
		});

		it("an unknown API key answers 401 invalid_api_key and changes nothing", async () => {
			const a = await create({ title: "a" });
			const orgB = await t.createOrgWithKey("Other");
			const bogus = `${orgB.key.slice(0, 10)}${orgB.key.slice(10, 34).split("").reverse().join("")}${orgB.key.slice(34)}`;
			expectError(await call("DELETE", `${BASE}/${a.id}`, { auth: { key: bogus } }), 401, "invalid_api_key");
			expect((await call("GET", `${BASE}/${a.id}`, { auth: keyA })).status).toBe(200);
		});
	});
});
