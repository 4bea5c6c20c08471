/**
 * Annotations (contract §4) through the Worker's fetch handler in workerd, over libSQL through the
 * HTTP stand-in. The database is shared by every workers test file: each test makes its own orgs.
 */
import { describe, expect, it } from "vitest";
import {
	API_KEY_CHALLENGE,
	type ErrorJson,
	expectError,
	expectOk,
	mintToken,
	orgWithKey,
	workerFetch,
} from "./support.js";

const BASE = "/api/v1/annotations";
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

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

type Auth = { key: string } | { token: string };
const headersOf = (auth: Auth): Record<string, string> =>
	"key" in auth ? { "X-API-Key": auth.key } : { Authorization: `Bearer ${auth.token}` };

function send(method: string, path: string, auth: Auth, body?: unknown): Promise<Response> {
	return workerFetch(path, {
		method,
		headers: { ...headersOf(auth), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
}

async function create(auth: Auth, body: Record<string, unknown>): Promise<Annotation> {
	return expectOk<Annotation>(await send("POST", BASE, auth, body), 201);
}

async function list(auth: Auth, query = ""): Promise<ListBody> {
	return expectOk<ListBody>(await send("GET", `${BASE}${query}`, auth));
}

function expectInvalid(body: ErrorJson, path: string) {
	expect(body.error.details?.map((d) => d.path)).toContain(path);
}

describe("annotations through the Worker", () => {
	it("creates (201) with the annotation object, and GET returns the same object", async () => {
		const { key, keyId } = await orgWithKey("Create");
		const before = Date.now();
		const made = await create(
			{ key },
			{
				title: "Deploy checkout v2.14.1",
				text: "canary → 100%",
				tags: ["deploy", "team:payments", "deploy"],
				time: iso(T0),
				time_end: T0 + 60_000,
				service: "checkout",
				environment: "production",
				version: "v2.14.1",
				url: "https://ci.example.com/runs/1",
			},
		);
		expect(made).toMatchObject({
			title: "Deploy checkout v2.14.1",
			text: "canary → 100%",
			tags: ["deploy", "team:payments"],
			time: "2026-11-28T12:00:00.000Z",
			time_end: "2026-11-28T12:01:00.000Z",
			service: "checkout",
			environment: "production",
			version: "v2.14.1",
			url: "https://ci.example.com/runs/1",
			external_id: null,
			created_by: { type: "api_key", id: keyId, name: "edge key" },
		});
		expect(made.id).toMatch(/^ann_[0-9A-Za-z]{20}$/);
		expect(made.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
		expect(Date.parse(made.created_at)).toBeGreaterThanOrEqual(before - 1);
		expect(made.updated_at).toBe(made.created_at);
		expect(await expectOk<Annotation>(await send("GET", `${BASE}/${made.id}`, { key }))).toEqual(made);
	});

	it("is idempotent by external_id: the same external_id again answers 200 with the same annotation", async () => {
		const { key, orgId } = await orgWithKey("Idempotent");
		const first = await create({ key }, { title: "Deploy 1", external_id: "gh-run-1", tags: ["deploy"] });
		const againRes = await send("POST", BASE, { key }, { title: "Another title", external_id: "gh-run-1" });
		const again = await expectOk<Annotation>(againRes, 200);
		expect(again).toEqual(first);
		// Also through a member's JWT in the same org.
		const token = await mintToken({ orgId, role: "member" });
		expect(
			await expectOk<Annotation>(
				await send("POST", BASE, { token }, { title: "x", external_id: "gh-run-1" }),
				200,
			),
		).toEqual(first);
		expect((await list({ key })).data.map((a) => a.id)).toEqual([first.id]);
		// Another org's same external_id is its own annotation.
		const other = await orgWithKey("Idempotent B");
		const inB = await create({ key: other.key }, { title: "B", external_id: "gh-run-1" });
		expect(inB.id).not.toBe(first.id);
	});

	it("lists newest first, filters by tags (all / any), service, time, and pages with next_cursor", async () => {
		const { key } = await orgWithKey("List");
		const specs = [
			{ title: "a", tags: ["deploy", "api"], service: "api", time: T0 + 1_000 },
			{ title: "b", tags: ["deploy"], service: "web", time: T0 + 2_000 },
			{ title: "c", tags: ["incident", "api"], service: "api", time: T0 + 3_000 },
			{ title: "d", tags: ["deploy", "api"], service: "api", time: T0 + 4_000 },
			{ title: "e", tags: [], service: "web", time: T0 + 5_000 },
		];
		for (const spec of specs) await create({ key }, spec);

		const titles = (body: ListBody) => body.data.map((a) => a.title);
		const all = await list({ key });
		expect(titles(all)).toEqual(["e", "d", "c", "b", "a"]);
		expect(all.next_cursor).toBeNull();
		expect(titles(await list({ key }, "?tags=deploy,api"))).toEqual(["d", "a"]);
		expect(titles(await list({ key }, "?tags=deploy,api&match=all"))).toEqual(["d", "a"]);
		expect(titles(await list({ key }, "?tags=deploy,incident&match=any"))).toEqual(["d", "c", "b", "a"]);
		expect(titles(await list({ key }, "?service=web"))).toEqual(["e", "b"]);
		expect(
			titles(await list({ key }, `?from=${T0 + 2_000}&to=${encodeURIComponent(iso(T0 + 4_000))}`)),
		).toEqual(["d", "c", "b"]);

		// Pages of two: every row exactly once, in order.
		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const page: ListBody = await list(
				{ key },
				`?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
			);
			expect(page.data.length).toBeLessThanOrEqual(2);
			seen.push(...titles(page));
			cursor = page.next_cursor;
			pages++;
			expect(pages).toBeLessThan(10);
		} while (cursor !== null);
		expect(seen).toEqual(["e", "d", "c", "b", "a"]);
		expect(pages).toBe(3);

		const badCursor = await expectError(
			await send("GET", `${BASE}?cursor=nope`, { key }),
			400,
			"invalid_request",
		);
		expect(badCursor.error.message).toMatch(/cursor/);
		await expectError(await send("GET", `${BASE}?limit=1001`, { key }), 400, "invalid_request");
	});

	it("PUT replaces the mutable fields (200); DELETE answers 204 and the annotation is gone", async () => {
		const { key } = await orgWithKey("Replace");
		const made = await create(
			{ key },
			{ title: "v1", tags: ["deploy"], service: "api", external_id: "ext-1" },
		);
		const replaced = await expectOk<Annotation>(
			await send(
				"PUT",
				`${BASE}/${made.id}`,
				{ key },
				{ title: "v2", time: T0, tags: ["rollback"], environment: "staging" },
			),
		);
		expect(replaced).toMatchObject({
			id: made.id,
			title: "v2",
			tags: ["rollback"],
			time: iso(T0),
			service: null,
			environment: "staging",
			external_id: "ext-1",
			created_at: made.created_at,
		});
		expect(Date.parse(replaced.updated_at)).toBeGreaterThanOrEqual(Date.parse(made.updated_at));
		expect(await expectOk<Annotation>(await send("GET", `${BASE}/${made.id}`, { key }))).toEqual(replaced);
		// The tag index follows the replacement.
		expect((await list({ key }, "?tags=deploy")).data).toEqual([]);
		expect((await list({ key }, "?tags=rollback")).data.map((a) => a.id)).toEqual([made.id]);
		// PUT validates like POST: `time` is required.
		expectInvalid(
			await expectError(
				await send("PUT", `${BASE}/${made.id}`, { key }, { title: "no time" }),
				400,
				"invalid_request",
			),
			"time",
		);

		const del = await send("DELETE", `${BASE}/${made.id}`, { key });
		expect(del.status).toBe(204);
		expect(await del.text()).toBe("");
		expect(del.headers.get("X-Request-Id")).toBeTruthy();
		await expectError(await send("GET", `${BASE}/${made.id}`, { key }), 404, "not_found");
		await expectError(await send("DELETE", `${BASE}/${made.id}`, { key }), 404, "not_found");
		expect((await list({ key })).data).toEqual([]);
	});

	it("tenancy: org A's key cannot get, replace or delete org B's annotation (404), and B's row is unchanged", async () => {
		const a = await orgWithKey("Tenant A");
		const b = await orgWithKey("Tenant B");
		const ownA = await create({ key: a.key }, { title: "A's", tags: ["deploy"], service: "checkout" });
		const rowB = await create(
			{ key: b.key },
			{ title: "B's secret deploy", tags: ["deploy"], service: "checkout", external_id: "b-1" },
		);
		const tokenA = await mintToken({ orgId: a.orgId, role: "owner" });

		let viaB1: string | undefined;
		for (const authA of [{ key: a.key }, { token: tokenA }] satisfies Auth[]) {
			const got = await send("GET", `${BASE}/${rowB.id}`, authA);
			const gotText = await got.clone().text();
			await expectError(got, 404, "not_found");
			expect(gotText).not.toContain(rowB.title);
			await expectError(
				await send("PUT", `${BASE}/${rowB.id}`, authA, { title: "hijacked", time: T0, tags: ["pwned"] }),
				404,
				"not_found",
			);
			await expectError(await send("DELETE", `${BASE}/${rowB.id}`, authA), 404, "not_found");
			for (const query of ["?tags=deploy", "?service=checkout"]) {
				expect((await list(authA, query)).data.map((x) => x.id)).toEqual([ownA.id]);
			}
			// B's external_id from A's side is A's own annotation (created once, then found), never B's.
			const viaExternal = await send("POST", BASE, authA, { title: "A's via b-1", external_id: "b-1" });
			expect(viaExternal.status).toBe(viaB1 === undefined ? 201 : 200);
			const body = (await viaExternal.json()) as Annotation;
			expect(body.id).not.toBe(rowB.id);
			expect(body.id).toBe(viaB1 ?? body.id);
			viaB1 = body.id;
			expect(body.title).toBe("A's via b-1");
			expect((await list(authA)).data.map((x) => x.title).sort()).toEqual(["A's", "A's via b-1"]);
		}

		expect(await expectOk<Annotation>(await send("GET", `${BASE}/${rowB.id}`, { key: b.key }))).toEqual(rowB);
		expect((await list({ key: b.key })).data).toEqual([rowB]);
		expect((await list({ key: b.key }, "?tags=deploy")).data).toEqual([rowB]);
	});

	it("refuses org_id in the body or the query string with 400 invalid_request", async () => {
		const a = await orgWithKey("Org id A");
		const b = await orgWithKey("Org id B");
		const inBody = await expectError(
			await send("POST", BASE, { key: a.key }, { title: "t", org_id: b.orgId }),
			400,
			"invalid_request",
		);
		expect(JSON.stringify(inBody.error.details)).toContain("org_id");
		await expectError(
			await send("POST", `${BASE}?org_id=${b.orgId}`, { key: a.key }, { title: "t" }),
			400,
			"invalid_request",
		);
		await expectError(await send("GET", `${BASE}?org_id=${b.orgId}`, { key: a.key }), 400, "invalid_request");
		await expectError(await send("GET", `${BASE}?org_id=${a.orgId}`, { key: a.key }), 400, "invalid_request");
		const made = await create({ key: a.key }, { title: "mine" });
		await expectError(
			await send("PUT", `${BASE}/${made.id}`, { key: a.key }, { title: "t", time: T0, org_id: b.orgId }),
			400,
			"invalid_request",
		);
		expect((await list({ key: a.key })).data.map((x) => x.id)).toEqual([made.id]);
		expect((await list({ key: b.key })).data).toEqual([]);
	});

	it("limits JSON bodies to 1 MiB: exactly 1 MiB is accepted, one byte more is 413 payload_too_large", async () => {
		const { key } = await orgWithKey("Big");
		const MiB = 1024 * 1024;
		const json = JSON.stringify({ title: "big" });
		const exact = json + " ".repeat(MiB - json.length);
		const post = (body: BodyInit) =>
			workerFetch(BASE, {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body,
			});
		await expectOk(await post(exact), 201);
		await expectError(await post(`${exact} `), 413, "payload_too_large");
		await expectError(
			await post(JSON.stringify({ title: "t", text: "x".repeat(2 * MiB) })),
			413,
			"payload_too_large",
		);
		// A streamed body with no Content-Length is counted as it arrives.
		const bytes = new TextEncoder().encode(`${exact}  `);
		const stream = new ReadableStream<Uint8Array>({
			start(controller) {
				for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
				controller.close();
			},
		});
		await expectError(await post(stream), 413, "payload_too_large");
		expect((await list({ key })).data.map((a) => a.title)).toEqual(["big"]);
	});

	it("refuses a body that is not JSON with 415 unsupported_media_type", async () => {
		const { key } = await orgWithKey("Media");
		for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
			const res = await workerFetch(BASE, {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": type },
				body: JSON.stringify({ title: "t" }),
			});
			await expectError(res, 415, "unsupported_media_type");
		}
		const made = await create({ key }, { title: "keep" });
		await expectError(
			await workerFetch(`${BASE}/${made.id}`, {
				method: "PUT",
				headers: { "X-API-Key": key, "Content-Type": "text/plain" },
				body: "title=t",
			}),
			415,
			"unsupported_media_type",
		);
		await expectError(
			await workerFetch(BASE, {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: "{not json",
			}),
			400,
			"invalid_request",
		);
		expect((await list({ key })).data.map((a) => a.title)).toEqual(["keep"]);
		// Credentials are checked before the body: no key, a text body → 401, not 415.
		await expectError(
			await workerFetch(BASE, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" }),
			401,
			"missing_credentials",
			API_KEY_CHALLENGE,
		);
	});
});
