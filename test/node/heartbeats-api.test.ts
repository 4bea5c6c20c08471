/**
 * The ping API (contract §4 "Heartbeats"): credentials, methods, slugs, query settings, bodies,
 * tenancy and concurrent pings, through the app over a real libSQL database with a fake clock.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Client, InStatement } from "@libsql/client";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { createKeyMemoryCache } from "../../src/auth/key-resolver.js";
import { createDatabase } from "../../src/db/client.js";
import { monitorPings, monitors } from "../../src/db/schema.js";
import { assembleDeps } from "../../src/deps.js";
import { FakeClock } from "../support/clock.js";
import { request, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
type WriterStats = { groups: number; writes: number; syncs: number };
const BASE = "/api/v1/heartbeat";
const API_KEY_CHALLENGE = 'ApiKey realm="hexcovery", header="X-API-Key"';

/**
 * Every case runs twice: over the plain client (as on Workers) and through the Node runtime's
 * group-commit writer (src/ingest/embedded-writer.ts), where concurrent pings share a transaction.
 */
describe.each([
	{ name: "client", writer: false, writerThread: false },
	{ name: "group-commit writer", writer: true, writerThread: false },
	{ name: "writer thread", writer: false, writerThread: true },
])("pings through the $name", ({ writer, writerThread }) => {
	let t: TestApp;
	let org: { orgId: string; key: string; keyId: string };

	beforeEach(async () => {
		t = await createTestApp({ clock: new FakeClock(T0), writer, writerThread });
		org = await t.createOrgWithKey("Pinger");
	});
	afterEach(() => t.close());

	const ping = (path: string, options: Parameters<typeof request>[3] = {}) =>
		request(t, "POST", `${BASE}/${path}`, { key: org.key, ...options });

	function expectError(res: Awaited<ReturnType<typeof request>>, status: number, code: string) {
		expect(res.status, res.text).toBe(status);
		expect(res.json.error.code).toBe(code);
		expect(res.json.error.request_id).toBe(res.headers.get("X-Request-Id"));
		expect(res.headers.get("Ping-Body-Limit")).toBe("10000");
	}

	async function storedPings(slug: string, orgId = org.orgId) {
		const [monitor] = await t.deps.db.select().from(monitors).where(eq(monitors.slug, slug));
		if (!monitor || monitor.orgId !== orgId) return [];
		return t.deps.db
			.select()
			.from(monitorPings)
			.where(eq(monitorPings.monitorId, monitor.id))
			.orderBy(monitorPings.seq);
	}

	describe("auto-creation and settings", () => {
		it("the first ping creates the monitor (201) with the defaults; later pings answer 200 with the contract's shape", async () => {
			const first = await ping("nightly-backup");
			expect(first.status, first.text).toBe(201);
			expect(first.headers.get("Ping-Body-Limit")).toBe("10000");
			expect(first.json).toEqual({
				monitor: {
					slug: "nightly-backup",
					status: "up",
					period_s: 86_400,
					grace_s: 3_600,
					schedule: null,
					tz: "UTC",
					started: false,
					last_ping_at: "2026-11-28T12:00:00.000Z",
					next_due_at: "2026-11-29T12:00:00.000Z",
				},
			});
			t.clock.advance(1_000);
			const second = await ping("nightly-backup");
			expect(second.status).toBe(200);
			expect(second.json.monitor.last_ping_at).toBe("2026-11-28T12:00:01.000Z");
			expect(await t.deps.db.select().from(monitors)).toHaveLength(1);
		});

		it.each([
			["period=90&grace=60", { period_s: 90, grace_s: 60 }],
			["period=5m&grace=2h", { period_s: 300, grace_s: 7_200 }],
			["period=1d&grace=120s", { period_s: 86_400, grace_s: 120 }],
			["period=365d", { period_s: 31_536_000, grace_s: 3_600 }],
			["period=30s&grace=0", { period_s: 30, grace_s: 0 }],
			[
				"schedule=15%203%20*%20*%201-5&tz=Asia/Tokyo",
				{ period_s: null, schedule: "15 3 * * 1-5", tz: "Asia/Tokyo" },
			],
			["schedule=%20*/10%20%20*%20*%20*%20*%20", { period_s: null, schedule: "*/10 * * * *", tz: "UTC" }],
			["schedule=0%209%20*%20*%20MON&grace=10m", { period_s: null, schedule: "0 9 * * MON", grace_s: 600 }],
			["tz=Europe/Paris&period=1h", { period_s: 3_600, schedule: null, tz: "Europe/Paris" }],
			[
				"schedule=30+3+*+*+*&tz=Europe/Berlin&grace=30m",
				{ period_s: null, schedule: "30 3 * * *", grace_s: 1_800 },
			],
		])("settings from the query at creation: ?%s", async (query, expected) => {
			const res = await ping(`m?${query}`);
			expect(res.status, res.text).toBe(201);
			expect(res.json.monitor).toMatchObject(expected);
		});

		it("the README's crontab line works as written: curl only, the key from the environment, /start then /$?", async () => {
			const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
			const line = /```crontab\n(.+)\n```/.exec(readme)?.[1] ?? "";
			const commands = line.replace(/^(\S+\s+){5}/, "").split(/;\s*/);
			expect(commands.map((c) => c.split(" ")[0])).toEqual([
				"curl",
				"/usr/local/bin/nightly-backup.sh",
				"curl",
			]);
			expect(line).not.toContain("%");
			expect(line.match(/-H "X-API-Key: \$HEXCOVERY_API_KEY"/g)).toHaveLength(2);
			const urls = [
				...line.matchAll(/"https:\/\/hexcovery\.example\.com(\/api\/v1\/heartbeat\/[^"]+)"/g),
			].map((m) => m[1] as string);
			expect(urls).toHaveLength(2);
			const start = await request(t, "POST", urls[0] as string, { key: org.key });
			expect(start.status, start.text).toBe(201);
			expect(start.json.monitor).toMatchObject({
				slug: "nightly-backup",
				schedule: "30 3 * * *",
				tz: "Europe/Berlin",
				grace_s: 1_800,
				started: true,
			});
			t.clock.advance(60_000);
			const end = await request(t, "POST", (urls[1] as string).replace("$?", "0"), { key: org.key });
			expect(end.json.monitor).toMatchObject({
				status: "up",
				started: false,
				next_due_at: "2026-11-29T02:30:00.000Z",
			});
			const failed = await request(t, "POST", (urls[1] as string).replace("$?", "2"), { key: org.key });
			expect(failed.json.monitor.status).toBe("down");
		});

		it("max_runtime is taken at creation and shown on the dashboard", async () => {
			expect((await ping("job/start?max_runtime=45m")).status).toBe(201);
			const token = await tokenFor(t, org.orgId, "viewer");
			const monitor = await request(t, "GET", "/api/v1/monitors/job", { token });
			expect(monitor.json).toMatchObject({ max_runtime_s: 2_700, status: "new", started: true });
		});

		it("settings on later pings never change a monitor, nor overwrite what the dashboard set", async () => {
			expect((await ping("job?period=1h&grace=5m")).status).toBe(201);
			const token = await tokenFor(t, org.orgId, "member");
			const patched = await request(t, "PATCH", "/api/v1/monitors/job", { token, json: { grace_s: 900 } });
			expect(patched.status, patched.text).toBe(200);
			const later = await ping("job?period=2d&grace=1m&max_runtime=1h");
			expect(later.status).toBe(200);
			expect(later.json.monitor).toMatchObject({ period_s: 3_600, grace_s: 900, schedule: null });
			// … and the answer says what was ignored, what the monitor has, and how to change it.
			expect(later.json.warnings).toEqual([
				'Ignored period=2d, grace=1m, max_runtime=1h: settings on a ping apply only when it creates the monitor, and "job" has period 1h, grace 15m, max_runtime none (the grace period). Change them with PATCH /api/v1/monitors/job or on the dashboard\'s Monitors page.',
			]);
			const cron = await ping("job?schedule=0%200%20*%20*%20*&tz=Europe/Berlin");
			expect(cron.json.monitor).toMatchObject({ period_s: 3_600, schedule: null, tz: "UTC" });
			expect(cron.json.warnings).toEqual([
				'Ignored schedule=0 0 * * *, tz=Europe/Berlin: settings on a ping apply only when it creates the monitor, and "job" has schedule none (an interval monitor), tz UTC. Change them with PATCH /api/v1/monitors/job or on the dashboard\'s Monitors page.',
			]);
			// The same settings as the monitor's, or none: no warnings at all (the answer as the contract gives it).
			for (const same of ["job?period=1h", "job/start?grace=15m&period=3600", "job", "job/log?tz=UTC"]) {
				const answer = await ping(same);
				expect(answer.status, same).toBe(200);
				expect(Object.keys(answer.json), same).toEqual(["monitor"]);
			}
		});

		it.each([
			["period=0", "period"],
			["period=0s", "period"],
			["period=366d", "period"],
			["period=1w", "period"],
			["period=abc", "period"],
			["period=", "period"],
			["max_runtime=0", "max_runtime"],
			["grace=-5m", "grace"],
			["max_runtime=1y", "max_runtime"],
			["schedule=0%203%20*%20*", "schedule"],
			["schedule=0%200%203%20*%20*%20*", "schedule"],
			["schedule=@daily", "schedule"],
			["schedule=61%20*%20*%20*%20*", "schedule"],
			["schedule=0%200%2031%202%20*", "schedule"],
			["schedule=0%203%20*%20*%20*&period=1d", "schedule"],
			["tz=Mars/Olympus_Mons", "tz"],
			["schedule=0%203%20*%20*%20*&tz=UTC+2", "tz"],
			["rid=has%20space", "rid"],
			[`rid=${"r".repeat(65)}`, "rid"],
			["unknown=1", ""],
		])("invalid query ?%s → 400 invalid_request naming %s, and no monitor", async (query, path) => {
			const res = await ping(`bad?${query}`);
			expectError(res, 400, "invalid_request");
			expect((res.json.error.details as { path: string }[]).map((d) => d.path)).toContain(path);
			expect(await t.deps.db.select().from(monitors)).toHaveLength(0);
		});

		it("org_id in the query is refused: the key decides the org", async () => {
			expectError(await ping(`x?org_id=${org.orgId}`), 400, "invalid_request");
			expect(await t.deps.db.select().from(monitors)).toHaveLength(0);
		});
	});

	describe("slugs, routes and methods", () => {
		it.each(["a", "0", "nightly-backup", "db_dump-2", "a".repeat(64)])("slug %s is valid", async (slug) => {
			const res = await ping(slug);
			expect(res.status, res.text).toBe(201);
			expect(res.json.monitor.slug).toBe(slug);
		});

		it.each(["Backup", "-backup", "_backup", "a".repeat(65), "back.up", "b%C3%BCro", "back%20up"])(
			"slug %s → 400 invalid_request",
			async (slug) => {
				for (const suffix of ["", "/start", "/fail", "/log", "/0"]) {
					const res = await ping(`${slug}${suffix}`);
					expectError(res, 400, "invalid_request");
					expect((res.json.error.details as { path: string }[]).map((d) => d.path)).toContain("slug");
				}
				expect(await t.deps.db.select().from(monitors)).toHaveLength(0);
			},
		);

		it("a bad slug's message states the rule in words and suggests the lower-cased slug", async () => {
			const rule =
				'slug must be 1–64 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit';
			for (const [slug, suggestion] of [
				["Nightly%20Backup", "nightly-backup"],
				["Backup", "backup"],
				["-db.dump", "db-dump"],
				["b%C3%BCro", "b-ro"],
				["a".repeat(65), "a".repeat(64)],
				["%2D%2D", null],
			] as const) {
				const res = await ping(slug);
				expectError(res, 400, "invalid_request");
				const message = suggestion ? `${rule}; try "${suggestion}"` : rule;
				expect(res.json.error.details).toEqual([{ path: "slug", message }]);
				expect(res.json.error.details[0].message).not.toContain("^");
			}
		});

		it("exit codes: 0–255 accepted, 256 and more or below 0 → 400, a non-number → 404; all stored with their code", async () => {
			for (const code of ["0", "1", "255", "007"])
				expect((await ping(`job/${code}`)).status).toBeLessThan(300);
			const over = await ping("job/256");
			expectError(over, 400, "invalid_request");
			expect(over.json.error.details).toEqual([{ path: "exit_code", message: "exit_code must be 0–255" }]);
			expectError(await ping("job/99999999999999999999"), 400, "invalid_request");
			expectError(await ping("job/stop"), 404, "not_found");
			// A negative number is an exit code out of range (it was a 404, as if the path were unknown).
			const negative = await ping("job/-1");
			expectError(negative, 400, "invalid_request");
			expect(negative.json.error.details).toEqual([
				{ path: "exit_code", message: "exit_code must be 0–255" },
			]);
			expectError(await ping("job/-0"), 400, "invalid_request");
			expectError(await ping("job/start/now"), 404, "not_found");
			expect((await storedPings("job")).map((p) => [p.kind, p.exitCode])).toEqual([
				["success", 0],
				["fail", 1],
				["fail", 255],
				["fail", 7],
			]);
		});

		it("GET and every other method → 405 method_not_allowed, Allow: POST, before any credential is looked at", async () => {
			for (const path of ["job", "job/start", "job/fail", "job/log", "job/0", "job/42"]) {
				for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
					const res = await request(t, method, `${BASE}/${path}?key=${org.key}`);
					expectError(res, 405, "method_not_allowed");
					expect(res.headers.get("Allow")).toBe("POST");
				}
			}
			const head = await request(t, "HEAD", `${BASE}/job`);
			expect(head.status).toBe(405);
			expect(head.headers.get("Allow")).toBe("POST");
			// Nothing was created or stored by any of them.
			expect(await t.deps.db.select().from(monitors)).toHaveLength(0);
			expect(t.store.reads).toBe(0);
		});

		it("a JWT on any ping route → 403 api_key_required; no credential → 401; a bad key → 401", async () => {
			const token = await tokenFor(t, org.orgId, "owner");
			for (const suffix of ["", "/start", "/fail", "/log", "/0", "/3"]) {
				const res = await request(t, "POST", `${BASE}/job${suffix}`, { token });
				expectError(res, 403, "api_key_required");
				const none = await request(t, "POST", `${BASE}/job${suffix}`);
				expectError(none, 401, "missing_credentials");
				expect(none.headers.get("WWW-Authenticate")).toBe(API_KEY_CHALLENGE);
			}
			expectError(
				await request(t, "POST", `${BASE}/job`, { key: `hxk_${"A".repeat(36)}` }),
				401,
				"invalid_api_key",
			);
			expectError(
				await request(t, "POST", `${BASE}/job`, { key: org.key, token }),
				400,
				"ambiguous_credentials",
			);
			expect(await t.deps.db.select().from(monitors)).toHaveLength(0);
		});
	});

	describe("bodies", () => {
		it("a body up to 10,000 bytes is kept whole; longer ones are cut at 10,000 bytes and answered 200, never 413", async () => {
			const exact = "a".repeat(10_000);
			expect((await ping("job/log", { body: exact, headers: { "Content-Type": "text/plain" } })).status).toBe(
				201,
			);
			const longer = `${"b".repeat(10_000)}TAIL`;
			expect((await ping("job/log", { body: longer })).status).toBe(200);
			const huge = new Uint8Array(3 * 1024 * 1024).fill(0x63);
			const big = await ping("job", { body: huge, headers: { "Content-Type": "application/octet-stream" } });
			expect(big.status, big.text).toBe(200);
			expect(big.headers.get("Ping-Body-Limit")).toBe("10000");
			const json = await ping("job/fail", { json: { error: "disk full", code: 28 } });
			expect(json.status).toBe(200);
			expect((await ping("job")).status).toBe(200);

			const stored = await storedPings("job");
			expect(stored.map((p) => [p.kind, p.body?.length ?? null, p.bodyTruncated])).toEqual([
				["log", 10_000, false],
				["log", 10_000, true],
				["success", 10_000, true],
				["fail", 31, false],
				["success", null, false],
			]);
			expect(stored[0]?.body).toBe(exact);
			expect(stored[1]?.body).toBe("b".repeat(10_000));
			expect(stored[3]?.body).toBe('{"error":"disk full","code":28}');
		});

		it("a NUL byte is kept as U+FFFD (a body starting with one was read back empty)", async () => {
			const body = new Uint8Array([0x00, 0x6f, 0x6b, 0x00, 0x21]);
			expect(
				(await ping("nul/log", { body, headers: { "Content-Type": "application/octet-stream" } })).status,
			).toBe(201);
			const [stored] = await storedPings("nul");
			expect(stored?.body).toBe("\uFFFDok\uFFFD!");
		});

		it("a cut never splits a UTF-8 character", async () => {
			// 9,999 ASCII bytes, then "é" (2 bytes): the 10,000-byte cut falls inside it.
			const body = `${"x".repeat(9_999)}é and more`;
			expect((await ping("utf/log", { body })).status).toBe(201);
			const [stored] = await storedPings("utf");
			expect(stored?.body).toBe("x".repeat(9_999));
			expect(stored?.bodyTruncated).toBe(true);
			// Under the limit, multi-byte text is kept as sent.
			expect((await ping("utf/log", { body: "✓ done — 100 % ✨" })).status).toBe(200);
			expect((await storedPings("utf"))[1]?.body).toBe("✓ done — 100 % ✨");
		});

		it("over a real socket on Node: a 5 MiB body is answered 200 without reading it all, and the server goes on serving", async () => {
			const server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
			await new Promise<void>((resolve) => server.once("listening", () => resolve()));
			const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
			try {
				const res = await fetch(`${base}${BASE}/socket`, {
					method: "POST",
					headers: { "X-API-Key": org.key, "Content-Type": "text/plain" },
					body: "z".repeat(5 * 1024 * 1024),
				});
				expect(res.status).toBe(201);
				expect(res.headers.get("Ping-Body-Limit")).toBe("10000");
				expect((await res.json()).monitor.slug).toBe("socket");
				const again = await fetch(`${base}${BASE}/socket/log`, {
					method: "POST",
					headers: { "X-API-Key": org.key },
					body: "small",
				});
				expect(again.status).toBe(200);
				const stored = await storedPings("socket");
				expect(stored.map((p) => [p.body?.length, p.bodyTruncated])).toEqual([
					[10_000, true],
					[5, false],
				]);
			} finally {
				await new Promise<void>((resolve) => {
					if ("closeAllConnections" in server) server.closeAllConnections();
					server.close(() => resolve());
				});
			}
		});
		it("over a real socket on Node: no body, an empty one and a chunked one are told apart", async () => {
			const server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
			await new Promise<void>((resolve) => server.once("listening", () => resolve()));
			const port = (server.address() as AddressInfo).port;
			/** A raw HTTP/1.1 request, so the framing headers are exactly these. */
			const send = (framing: Record<string, string>, chunks: string[]) =>
				new Promise<number>((resolve, reject) => {
					const req = httpRequest(
						{
							host: "127.0.0.1",
							port,
							method: "POST",
							path: `${BASE}/framing/log`,
							headers: { "X-API-Key": org.key, ...framing },
						},
						(res) => {
							res.resume();
							res.on("end", () => resolve(res.statusCode ?? 0));
						},
					);
					req.on("error", reject);
					for (const chunk of chunks) req.write(chunk);
					req.end();
				});
			try {
				expect(await send({}, [])).toBe(201);
				expect(await send({ "Content-Length": "0" }, [])).toBe(200);
				expect(await send({ "Transfer-Encoding": "chunked" }, ["first ", "second"])).toBe(200);
				expect(await send({ "Content-Length": "5" }, ["fixed"])).toBe(200);
				expect((await storedPings("framing")).map((p) => p.body)).toEqual([
					null,
					null,
					"first second",
					"fixed",
				]);
			} finally {
				await new Promise<void>((resolve) => {
					if ("closeAllConnections" in server) server.closeAllConnections();
					server.close(() => resolve());
				});
			}
		});
	});

	describe("tenancy", () => {
		it("the same slug in two orgs is two monitors; neither org ever sees the other's", async () => {
			const other = await t.createOrgWithKey("Other");
			expect((await ping("shared?period=1h")).status).toBe(201);
			const theirs = await request(t, "POST", `${BASE}/shared/fail?period=2h`, { key: other.key });
			expect(theirs.status).toBe(201);
			expect(theirs.json.monitor).toMatchObject({ status: "down", period_s: 7_200 });
			// Each org's pings land on its own monitor.
			expect((await ping("shared")).json.monitor).toMatchObject({ status: "up", period_s: 3_600 });
			expect(await t.deps.db.select().from(monitors)).toHaveLength(2);

			const mine = await tokenFor(t, org.orgId, "viewer");
			const theirToken = await tokenFor(t, other.orgId, "viewer");
			const myList = await request(t, "GET", "/api/v1/monitors", { token: mine });
			expect(myList.json.data.map((m: { status: string }) => m.status)).toEqual(["up"]);
			const theirList = await request(t, "GET", "/api/v1/monitors", { token: theirToken });
			expect(theirList.json.data.map((m: { status: string }) => m.status)).toEqual(["down"]);
			const myPings = await request(t, "GET", "/api/v1/monitors/shared/pings", { token: mine });
			expect(myPings.json.data.map((p: { kind: string }) => p.kind)).toEqual(["success", "success"]);
			const theirPings = await request(t, "GET", "/api/v1/monitors/shared/pings", { token: theirToken });
			expect(theirPings.json.data.map((p: { kind: string }) => p.kind)).toEqual(["fail"]);

			// A slug only the other org has is not found, for reads and writes alike.
			expect((await request(t, "POST", `${BASE}/only-theirs`, { key: other.key })).status).toBe(201);
			const writer = await tokenFor(t, org.orgId, "owner");
			for (const [method, path] of [
				["GET", "/api/v1/monitors/only-theirs"],
				["GET", "/api/v1/monitors/only-theirs/pings"],
				["GET", "/api/v1/monitors/only-theirs/flips"],
				["PATCH", "/api/v1/monitors/only-theirs"],
				["POST", "/api/v1/monitors/only-theirs/pause"],
				["POST", "/api/v1/monitors/only-theirs/resume"],
				["DELETE", "/api/v1/monitors/only-theirs"],
			] as const) {
				const res = await request(t, method, path, {
					token: writer,
					...(method === "PATCH" && { json: { grace_s: 600 } }),
				});
				expect(res.status, `${method} ${path}`).toBe(404);
				expect(res.json.error.code).toBe("not_found");
			}
			const [untouched] = await t.deps.db.select().from(monitors).where(eq(monitors.slug, "only-theirs"));
			expect(untouched?.status).toBe("up");
		});
	});

	describe("the answer", () => {
		it("is the monitor as stored after each kind of ping, also after a ping older than the stored one", async () => {
			const token = await tokenFor(t, org.orgId, "viewer");
			const check = async (path: string, advanceMs: number) => {
				t.clock.advance(advanceMs);
				const res = await ping(path);
				expect(res.status, res.text).toBeLessThan(300);
				const stored = await request(t, "GET", "/api/v1/monitors/answer", { token });
				const keys = Object.keys(res.json.monitor) as (keyof typeof stored.json)[];
				expect(res.json.monitor, path).toEqual(Object.fromEntries(keys.map((k) => [k, stored.json[k]])));
			};
			await check("answer?period=1h&grace=5m", 0);
			await check("answer", 1_000);
			await check("answer/start?rid=a", 1_000);
			await check("answer/log", 1_000);
			await check("answer?rid=a", 1_000);
			await check("answer/fail", 1_000);
			await check("answer/0", 1_000);
			// The clock moved back: the stored (newer) ping times stay, and the answer says so.
			await check("answer", -60_000);
			await check("answer", 120_000);
			expect((await storedPings("answer")).map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
		});
	});

	describe("concurrent pings", () => {
		it("twenty first pings at once create one monitor: one 201, the rest 200, every ping stored once", async () => {
			const answers = await Promise.all(Array.from({ length: 20 }, () => ping("race")));
			expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
			expect(answers.filter((a) => a.status === 200)).toHaveLength(19);
			expect(await t.deps.db.select().from(monitors)).toHaveLength(1);
			expect((await storedPings("race")).map((p) => p.seq)).toEqual(
				Array.from({ length: 20 }, (_, i) => i + 1),
			);
		});

		it("overlapping starts and ends from many runs at once: no run is lost (compare-and-set, retried)", async () => {
			expect((await ping("batch?period=1h")).status).toBe(201);
			const starts = await Promise.all(
				Array.from({ length: 12 }, (_, i) => ping(`batch/start?rid=run-${i}`)),
			);
			expect(starts.every((a) => a.status === 200)).toBe(true);
			const token = await tokenFor(t, org.orgId, "viewer");
			const open = await request(t, "GET", "/api/v1/monitors/batch", { token });
			expect((open.json.open_runs as { rid: string }[]).map((r) => r.rid).sort()).toEqual(
				Array.from({ length: 12 }, (_, i) => `run-${i}`).sort(),
			);
			t.clock.advance(5_000);
			await Promise.all(Array.from({ length: 12 }, (_, i) => ping(`batch?rid=run-${i}`)));
			const after = await request(t, "GET", "/api/v1/monitors/batch", { token });
			expect(after.json).toMatchObject({ started: false, open_runs: [], status: "up" });
			const durations = (await storedPings("batch"))
				.filter((p) => p.durationMs !== null)
				.map((p) => p.durationMs);
			expect(durations).toEqual(Array.from({ length: 12 }, () => 5_000));
		});
	});

	if (!writer && !writerThread) {
		describe("the cost of a ping", () => {
			/** The app over the same database through a client that records every statement it runs. */
			function recordingApp(): { app: ReturnType<typeof createApp>; log: string[] } {
				const log: string[] = [];
				const client = t.database.client;
				const recorded = new Proxy(client, {
					get(target, prop) {
						const value = Reflect.get(target, prop, target);
						if (typeof value !== "function") return value;
						if (prop === "execute") {
							return (s: InStatement) => {
								log.push(`execute: ${typeof s === "string" ? s : s.sql}`);
								return value.call(target, s);
							};
						}
						if (prop === "batch") {
							return (statements: InStatement[], mode?: unknown) => {
								log.push(
									`batch: ${statements.map((s) => (typeof s === "string" ? s : s.sql).split(" ").slice(0, 3).join(" ")).join(" | ")}`,
								);
								return value.call(target, statements, mode);
							};
						}
						return value.bind(target);
					},
				}) as Client;
				const deps = assembleDeps({
					db: createDatabase(recorded),
					clock: t.clock,
					config: t.deps.config,
					keyMemory: createKeyMemoryCache(t.clock),
					log: t.deps.log,
				});
				return { app: createApp(deps), log };
			}

			it("a success ping of an existing monitor is one read and one write batch, also when twenty arrive at once", async () => {
				expect((await ping("cost?period=1h")).status).toBe(201);
				const { app, log } = recordingApp();
				const send = () =>
					app.request("/api/v1/heartbeat/cost", { method: "POST", headers: { "X-API-Key": org.key } });
				expect((await send()).status).toBe(200); // warms this app's key cache
				log.length = 0;
				const answers = await Promise.all(Array.from({ length: 20 }, send));
				expect(answers.every((a) => a.status === 200)).toBe(true);
				const monitorReads = log.filter((l) => l.startsWith("execute:") && l.includes("FROM monitors"));
				const batches = log.filter((l) => l.startsWith("batch:"));
				expect(monitorReads).toHaveLength(20);
				expect(batches).toHaveLength(20);
				expect(new Set(batches)).toEqual(new Set(["batch: UPDATE monitors SET | INSERT INTO monitor_pings"]));
				expect(log.filter((l) => !l.includes("api_keys"))).toHaveLength(40);
				expect((await storedPings("cost")).map((p) => p.seq)).toEqual(
					Array.from({ length: 22 }, (_, i) => i + 1),
				);
			});
		});
	} else {
		describe("the cost of a ping through the writer", () => {
			it("twenty concurrent success pings share group commits: one read and one write each, no statement on the client", async () => {
				expect((await ping("cost?period=1h")).status).toBe(201);
				expect((await ping("cost")).status).toBe(200); // warms the key cache
				const stats = async () =>
					t.deps.writerThread
						? await t.deps.writerThread.stats()
						: { ...(t.deps.writer?.stats as WriterStats) };
				const before = await stats();
				const answers = await Promise.all(Array.from({ length: 20 }, () => ping("cost")));
				expect(answers.every((a) => a.status === 200)).toBe(true);
				const after = await stats();
				expect(after.writes - before.writes).toBe(20);
				// Requests reach the writer over a few turns of the event loop; far fewer commits than pings.
				expect(after.groups - before.groups).toBeLessThan(10);
				expect((await storedPings("cost")).map((p) => p.seq)).toEqual(
					Array.from({ length: 22 }, (_, i) => i + 1),
				);
			});
		});
	}
});
