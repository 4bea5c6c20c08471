/**
 * The heartbeat sweep: overlapping sweeps flip once, a ping that lands between the sweep's read and
 * its write wins, the work follows the overdue monitors only (one indexed read), and retention
 * pruning in bounded batches.
 */
import type { Client, InStatement } from "@libsql/client";
import { eq, sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AppDeps } from "../../src/app-env.js";
import { createDatabase } from "../../src/db/client.js";
import { alertDeliveries, monitorFlips, monitorPings, monitors, orgs } from "../../src/db/schema.js";
import { flipOverdue, MAX_PINGS_PER_MONITOR, SWEEP_BATCH } from "../../src/heartbeats/sweep.js";
import { runSweep } from "../../src/sweep.js";
import { FakeClock } from "../support/clock.js";
import { type DeferredWork, request, startReceiver, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const HOUR = 3_600_000;

let t: TestApp;
let org: { orgId: string; key: string };

beforeEach(async () => {
	t = await createTestApp({ clock: new FakeClock(T0), heartbeats: { allowPrivateWebhookTargets: true } });
	org = await t.createOrgWithKey("Sweeper");
});
afterEach(() => t.close());

const ping = (path: string, deferred?: DeferredWork) =>
	request(t, "POST", `/api/v1/heartbeat/${path}`, { key: org.key, ...(deferred && { deferred }) });

/**
 * The same database through a client that can run a hook before a statement (to put a ping between
 * the sweep's read and its write) and that counts and records what it runs.
 */
function instrumented(client: Client) {
	const log: string[] = [];
	let beforeBatch: (() => Promise<void>) | null = null;
	let gate: Promise<void> | null = null;
	const wrapped = new Proxy(client, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (typeof value !== "function") return value;
			if (prop === "execute") {
				return async (statement: InStatement) => {
					log.push(`execute ${typeof statement === "string" ? statement : statement.sql}`);
					if (gate) await gate;
					return value.call(target, statement);
				};
			}
			if (prop === "batch") {
				return async (statements: InStatement[], mode?: unknown) => {
					log.push(`batch ${statements.length}`);
					if (beforeBatch) {
						const hook = beforeBatch;
						beforeBatch = null;
						await hook();
					}
					return value.call(target, statements, mode);
				};
			}
			return value.bind(target);
		},
	});
	return {
		deps: { ...t.deps, db: createDatabase(wrapped) } satisfies Pick<AppDeps, "db" | "clock" | "config">,
		log,
		onNextBatch(hook: () => Promise<void>) {
			beforeBatch = hook;
		},
		/** Holds every execute until `open()`: lets two sweeps both read before either writes. */
		hold() {
			let open = () => {};
			gate = new Promise<void>((resolve) => {
				open = resolve;
			});
			return () => {
				gate = null;
				open();
			};
		},
	};
}

async function flipsOf(slug: string) {
	const [m] = await t.deps.db.select().from(monitors).where(eq(monitors.slug, slug));
	const rows = await t.deps.db
		.select()
		.from(monitorFlips)
		.where(eq(monitorFlips.monitorId, m?.id as string));
	return rows.map((f) => `${f.oldStatus}→${f.newStatus}:${f.cause}`);
}

describe("the heartbeat sweep", () => {
	it("two overlapping sweeps that both read the overdue monitors flip each once and alert once", async () => {
		const receiver = await startReceiver();
		try {
			const token = await tokenFor(t, org.orgId, "member");
			const channel = await request(t, "POST", "/api/v1/notification-channels", {
				token,
				json: { name: "r", url: `${receiver.url}/hook` },
			});
			expect(channel.status).toBe(201);
			for (const slug of ["a", "b", "c"]) expect((await ping(`${slug}?period=1h&grace=1m`)).status).toBe(201);
			t.clock.advance(2 * HOUR);

			const one = instrumented(t.database.client);
			const two = instrumented(t.database.client);
			const releaseOne = one.hold();
			const releaseTwo = two.hold();
			const sweeps = Promise.all([
				flipOverdue(one.deps.db, t.clock.now()),
				flipOverdue(two.deps.db, t.clock.now()),
			]);
			// Both sweeps are now waiting on their overdue read; let both reads go before either writes.
			await new Promise((resolve) => setImmediate(resolve));
			releaseOne();
			releaseTwo();
			const [first, second] = await sweeps;
			expect(first.examined).toBe(3);
			expect(second.examined).toBe(3);
			expect(first.flipped + second.flipped).toBe(3);
			expect(one.log.filter((l) => l.startsWith("batch"))).toHaveLength(1);
			expect(two.log.filter((l) => l.startsWith("batch"))).toHaveLength(1);

			for (const slug of ["a", "b", "c"])
				expect(await flipsOf(slug)).toEqual(["new→up:success_ping", "up→down:grace_ended"]);
			expect(await t.deps.db.select().from(alertDeliveries)).toHaveLength(3);
			// And two full sweeps at once deliver each alert once.
			await Promise.all([runSweep(t.deps), runSweep(t.deps)]);
			expect(receiver.received).toHaveLength(3);
			expect(new Set(receiver.received.map((r) => JSON.parse(r.body).monitor.slug))).toEqual(
				new Set(["a", "b", "c"]),
			);
			await runSweep(t.deps);
			expect(receiver.received).toHaveLength(3);
		} finally {
			await receiver.close();
		}
	});

	it("a ping that lands between the sweep's read and its write wins: no late, no down, no alert", async () => {
		expect((await ping("racy?period=1h&grace=5m")).status).toBe(201);
		t.clock.advance(HOUR + 10 * 60_000); // past due and past grace: the sweep would say down
		const probe = instrumented(t.database.client);
		probe.onNextBatch(async () => {
			const res = await ping("racy");
			expect(res.json.monitor.status).toBe("up");
		});
		const result = await flipOverdue(probe.deps.db, t.clock.now());
		expect(result).toEqual({ examined: 1, flipped: 0 });
		const [row] = await t.deps.db.select().from(monitors).where(eq(monitors.slug, "racy"));
		expect(row?.status).toBe("up");
		expect(row?.nextDueAt).toBe(t.clock.now() + HOUR);
		expect(await flipsOf("racy")).toEqual(["new→up:success_ping"]);
		expect(await t.deps.db.select().from(alertDeliveries)).toHaveLength(0);
		// The next sweep finds nothing overdue.
		expect(await flipOverdue(t.deps.db, t.clock.now())).toEqual({ examined: 0, flipped: 0 });
	});

	it("reads only the overdue monitors, through the alert_after index, in batches", async () => {
		// 2,000 monitors that are not due, 600 that are: inserted directly, as the bench does.
		const now = t.clock.now();
		await t.database.client.execute({
			sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2600)
				INSERT INTO monitors (id, org_id, slug, period_s, grace_s, tz, status, open_runs, last_ping_at, next_due_at, alert_after, rev, created_at, updated_at)
				SELECT 'mon_' || i, ?, 'm' || i, 3600, 300, 'UTC', 'up', '[]', ?, CASE WHEN i <= 600 THEN ? ELSE ? END, CASE WHEN i <= 600 THEN ? ELSE ? END, 1, ?, ?
				FROM n`,
			args: [org.orgId, now - HOUR, now - 1_000, now + HOUR, now - 1_000, now + HOUR, now, now],
		});
		const plan = await t.database.client.execute({
			sql: "EXPLAIN QUERY PLAN SELECT * FROM monitors WHERE alert_after IS NOT NULL AND alert_after <= ? ORDER BY alert_after LIMIT 250",
			args: [now],
		});
		expect(plan.rows.map((r) => String(r.detail)).join("\n")).toMatch(/USING INDEX monitors_alert_after_idx/);

		const probe = instrumented(t.database.client);
		const result = await flipOverdue(probe.deps.db, now);
		expect(result).toEqual({ examined: 600, flipped: 600 });
		const batches = Math.ceil(600 / SWEEP_BATCH);
		expect(probe.log.filter((l) => l.startsWith("batch"))).toHaveLength(batches);
		// A short batch is the last: no read after it.
		expect(probe.log.filter((l) => l.startsWith("execute"))).toHaveLength(batches);
		const statuses = await t.database.client.execute(
			"SELECT status, count(*) AS n FROM monitors GROUP BY status ORDER BY status",
		);
		expect(statuses.rows.map((r) => [r.status, Number(r.n)])).toEqual([
			["late", 600],
			["up", 2000],
		]);

		// With nothing overdue, a sweep is one read.
		const idle = instrumented(t.database.client);
		expect(await flipOverdue(idle.deps.db, now)).toEqual({ examined: 0, flipped: 0 });
		expect(idle.log).toHaveLength(1);
	});

	it("logs one line per sweep: debug when it changed nothing, info with the counts when it flipped a monitor", async () => {
		expect((await ping("nightly?period=1h&grace=0")).status).toBe(201);
		const sweeps = () => t.logged.filter((line) => line.msg === "sweep");
		await runSweep(t.deps);
		expect(sweeps()).toEqual([
			{
				level: "debug",
				msg: "sweep",
				monitors_examined: 0,
				monitors_flipped: 0,
				alerts_delivered: 0,
				pings_pruned: 0,
				telemetry_rows_deleted: 0,
				queue_receipts_pruned: 0,
			},
		]);
		t.clock.advance(60 * 60 * 1000 + 1);
		await runSweep(t.deps);
		expect(sweeps()[1]).toMatchObject({ level: "info", monitors_examined: 1, monitors_flipped: 1 });
	});

	it("keeps the newest 1,000 pings per monitor, pruning a large backlog in bounded batches", async () => {
		expect((await ping("chatty?period=1h")).status).toBe(201);
		const [m] = await t.deps.db.select().from(monitors).where(eq(monitors.slug, "chatty"));
		// 4,999 more pings, straight into the table (seq 2…5000).
		await t.database.client.execute({
			sql: `WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
				INSERT INTO monitor_pings (monitor_id, seq, org_id, at, kind) SELECT ?, i, ?, ?, 'log' FROM n`,
			args: [m?.id as string, org.orgId, t.clock.now()],
		});
		await t.deps.db
			.update(monitors)
			.set({ pingSeq: 5_000 })
			.where(eq(monitors.id, m?.id as string));
		const count = async () =>
			Number((await t.database.client.execute("SELECT count(*) AS n FROM monitor_pings")).rows[0]?.n);
		const oldest = async () =>
			Number((await t.database.client.execute("SELECT min(seq) AS s FROM monitor_pings")).rows[0]?.s);

		await runSweep(t.deps);
		expect(await count()).toBe(3_000); // at most 2,000 per monitor per sweep
		await runSweep(t.deps);
		expect(await count()).toBe(MAX_PINGS_PER_MONITOR);
		expect(await oldest()).toBe(4_001);
		await runSweep(t.deps);
		expect(await count()).toBe(MAX_PINGS_PER_MONITOR);

		// One more ping: the oldest goes at the next sweep; the numbering goes on.
		expect((await ping("chatty/log")).status).toBe(200);
		expect(await count()).toBe(1_001);
		await runSweep(t.deps);
		expect(await count()).toBe(MAX_PINGS_PER_MONITOR);
		expect(await oldest()).toBe(4_002);
		const token = await tokenFor(t, org.orgId, "viewer");
		const page = await request(t, "GET", "/api/v1/monitors/chatty/pings?limit=1", { token });
		expect(page.json.data[0].seq).toBe(5_001);
	});

	it("prunes pings and flips older than the org's retention_days (bounded per sweep), not younger ones", async () => {
		await t.deps.db.update(orgs).set({ retentionDays: 2 }).where(eq(orgs.id, org.orgId));
		const other = await t.createOrgWithKey("Keeps 30 days");
		expect((await ping("old?period=1h")).status).toBe(201);
		expect((await request(t, "POST", "/api/v1/heartbeat/old?period=1h", { key: other.key })).status).toBe(
			201,
		);
		const [mine] = await t.deps.db.select().from(monitors).where(eq(monitors.orgId, org.orgId));
		// 11,999 old pings for the 2-day org, straight into the table.
		await t.database.client.execute({
			sql: `WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
				INSERT INTO monitor_pings (monitor_id, seq, org_id, at, kind) SELECT ?, i, ?, ?, 'log' FROM n`,
			args: [mine?.id as string, org.orgId, T0],
		});
		// (pruned_seq kept up with it, so the count rule does not act here)
		await t.deps.db
			.update(monitors)
			.set({ pingSeq: 12_000, prunedSeq: 11_001 })
			.where(eq(monitors.id, mine?.id as string));
		t.clock.advance(2 * 86_400_000 + 1);
		expect((await ping("old/log")).status).toBe(200); // a fresh one, kept
		const countFor = async (orgId: string) =>
			Number(
				(
					await t.deps.db.all<{ n: number }>(
						sql`SELECT count(*) AS n FROM monitor_pings WHERE org_id = ${orgId}`,
					)
				)[0]?.n,
			);
		expect(await countFor(org.orgId)).toBe(12_001);
		await runSweep(t.deps);
		expect(await countFor(org.orgId)).toBe(7_001);
		await runSweep(t.deps);
		await runSweep(t.deps);
		expect(await countFor(org.orgId)).toBe(1);
		expect(await countFor(other.orgId)).toBe(1); // 30-day org: untouched
		// Flips too: the 2-day org's first flip (new→up at T0) is gone, the one the sweep just made stays.
		const flips = await t.deps.db.select().from(monitorFlips).orderBy(monitorFlips.at);
		const summary = (orgId: string) =>
			flips.filter((f) => f.orgId === orgId).map((f) => `${f.oldStatus}→${f.newStatus}@${f.at - T0}`);
		expect(summary(org.orgId)).toEqual([`up→down@${2 * 86_400_000 + 1}`]);
		expect(summary(other.orgId)).toEqual(["new→up@0", `up→down@${2 * 86_400_000 + 1}`]);
		expect(
			await t.deps.db.select().from(monitorPings).where(eq(monitorPings.orgId, org.orgId)),
		).toMatchObject([{ kind: "log", at: t.clock.now() }]);
	});
});
