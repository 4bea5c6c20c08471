/**
 * The monitor state machine, table-driven, end to end: real pings through the app, the real sweep,
 * a real libSQL database and a fake clock. Each scenario is a list of steps; after each step the
 * monitor must be as the step expects, and at the end its flips must be exactly the listed ones.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runSweep } from "../../src/sweep.js";
import { FakeClock } from "../support/clock.js";
import { request } from "../support/heartbeats.js";
import { seedUser, sessionFor } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

type Status = "new" | "up" | "late" | "down" | "paused";

interface Expect {
	status?: Status;
	started?: boolean;
	next_due_at?: string | null;
	last_ping_at?: string | null;
	last_duration_ms?: number | null;
	/** The HTTP status of the step's ping (default 200, or 201 for the first). */
	http?: number;
}

/** One step: move the clock (`at`: ISO instant, or `+90s`/`+5m`/`+2h`), then act, then check. */
interface Step {
	at?: string;
	/** The ping's path after the slug and its query: "", "/start?rid=a", "/fail", "/3"… */
	ping?: string;
	sweep?: true;
	pause?: true;
	resume?: true;
	expect?: Expect;
}

interface Scenario {
	name: string;
	start: string;
	steps: Step[];
	/** Every flip, oldest first: "old→new:cause". */
	flips: string[];
	/** The durations recorded on the monitor's pings, oldest first (only those not null). */
	durations?: number[];
}

const SLUG = "job";
const UNIT: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const SCENARIOS: Scenario[] = [
	{
		name: "interval: up → late at the due time → down when the grace ends → up on a ping",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{
				ping: "?period=1h&grace=5m",
				expect: { http: 201, status: "up", next_due_at: "2026-11-28T13:00:00.000Z" },
			},
			{ at: "+59m", sweep: true, expect: { status: "up" } },
			{ at: "2026-11-28T13:00:00Z", sweep: true, expect: { status: "late" } },
			{ at: "+4m", sweep: true, expect: { status: "late" } },
			{ at: "2026-11-28T13:05:00Z", sweep: true, expect: { status: "down" } },
			{ at: "+1h", sweep: true, expect: { status: "down" } },
			{
				at: "2026-11-28T14:30:00Z",
				ping: "",
				expect: {
					status: "up",
					next_due_at: "2026-11-28T15:30:00.000Z",
					last_ping_at: "2026-11-28T14:30:00.000Z",
				},
			},
		],
		flips: ["new→up:success_ping", "up→late:due", "late→down:grace_ended", "down→up:success_ping"],
	},
	{
		name: "interval: a ping in the grace period brings a late monitor back up; settings on later pings are ignored",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{
				ping: "?period=10m&grace=10m",
				expect: { http: 201, status: "up", next_due_at: "2026-11-28T12:10:00.000Z" },
			},
			{ at: "+12m", sweep: true, expect: { status: "late" } },
			{
				at: "+3m",
				ping: "?period=1d&grace=1d",
				expect: { status: "up", next_due_at: "2026-11-28T12:25:00.000Z" },
			},
			{ at: "+12m", sweep: true, expect: { status: "late" } },
			// the sweep sees a down monitor only once the grace has ended
			{ at: "2026-11-28T12:34:59Z", sweep: true, expect: { status: "late" } },
			{ at: "2026-11-28T12:35:00Z", sweep: true, expect: { status: "down" } },
		],
		flips: [
			"new→up:success_ping",
			"up→late:due",
			"late→up:success_ping",
			"up→late:due",
			"late→down:grace_ended",
		],
	},
	{
		name: "grace 0: straight from up to down at the due time, never late",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{
				ping: "?period=30s&grace=0",
				expect: { http: 201, status: "up", next_due_at: "2026-11-28T12:00:30.000Z" },
			},
			{ at: "+29s", sweep: true, expect: { status: "up" } },
			{ at: "+1s", sweep: true, expect: { status: "down" } },
		],
		flips: ["new→up:success_ping", "up→down:grace_ended"],
	},
	{
		name: "a ping that arrives after the grace ended but before the sweep wins: no down",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "?period=1h&grace=1m", expect: { http: 201, status: "up" } },
			{ at: "+3h", ping: "", expect: { status: "up", next_due_at: "2026-11-28T16:00:00.000Z" } },
			{ sweep: true, expect: { status: "up" } },
		],
		flips: ["new→up:success_ping"],
	},
	{
		name: "fail and exit codes: /fail and /1–/255 are down at once, /0 is up; the answer says so",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "/0", expect: { http: 201, status: "up" } },
			{ at: "+1m", ping: "/fail", expect: { status: "down" } },
			{ at: "+1m", ping: "/0", expect: { status: "up" } },
			{ at: "+1m", ping: "/3", expect: { status: "down" } },
			{ at: "+1m", ping: "/3", expect: { status: "down" } },
			{ at: "+1m", ping: "", expect: { status: "up" } },
			{ at: "+1m", ping: "/255", expect: { status: "down" } },
			{ at: "+1m", ping: "/log", expect: { status: "down" } },
		],
		flips: [
			"new→up:exit_code",
			"up→down:fail_ping",
			"down→up:exit_code",
			"up→down:exit_code",
			"down→up:success_ping",
			"up→down:exit_code",
		],
	},
	{
		name: "a first ping that fails creates the monitor down",
		start: "2026-11-28T12:00:00Z",
		steps: [{ ping: "/fail?period=5m", expect: { http: 201, status: "down", started: false } }],
		flips: ["new→down:fail_ping"],
	},
	{
		name: "max runtime: a run that outlives it takes the monitor down, a run that ends in time records its duration",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{
				ping: "/start?period=1h&grace=30m&max_runtime=10m",
				expect: { http: 201, status: "new", started: true },
			},
			{ at: "+9m", sweep: true, expect: { status: "new", started: true } },
			{ at: "+59s", ping: "", expect: { status: "up", started: false, last_duration_ms: 599_000 } },
			{ at: "2026-11-28T13:00:00Z", ping: "/start", expect: { status: "up", started: true } },
			{ at: "2026-11-28T13:09:59Z", sweep: true, expect: { status: "up", started: true } },
			{ at: "2026-11-28T13:10:00Z", sweep: true, expect: { status: "down", started: false } },
			// the late end of the timed-out run: nothing to pair with any more
			{ at: "+5m", ping: "", expect: { status: "up", started: false, last_duration_ms: null } },
		],
		flips: ["new→up:success_ping", "up→down:run_timeout", "down→up:success_ping"],
		durations: [599_000],
	},
	{
		name: "without max_runtime a started run may last as long as the grace period",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "?period=1d&grace=5m", expect: { http: 201, status: "up" } },
			{
				at: "+1h",
				ping: "/start",
				expect: { status: "up", started: true, next_due_at: "2026-11-29T13:00:00.000Z" },
			},
			{ at: "+4m", sweep: true, expect: { status: "up" } },
			{ at: "+1m", sweep: true, expect: { status: "down", started: false } },
		],
		flips: ["new→up:success_ping", "up→down:run_timeout"],
	},
	{
		name: "rid pairing: overlapping runs are measured separately, each end closes its own start",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "/start?rid=a&period=1h&max_runtime=10m", expect: { http: 201, status: "new", started: true } },
			{ at: "+1m", ping: "/start?rid=b", expect: { started: true } },
			{ at: "+2m", ping: "/0?rid=a", expect: { status: "up", started: true, last_duration_ms: 180_000 } },
			{ at: "+2m", ping: "/start?rid=c", expect: { started: true } },
			{ at: "+1m", ping: "?rid=b", expect: { status: "up", started: true, last_duration_ms: 300_000 } },
			// an end whose rid never started: stored, paired with nothing
			{ at: "+1m", ping: "?rid=zzz", expect: { status: "up", started: true, last_duration_ms: null } },
			{
				at: "+1m",
				ping: "/fail?rid=c",
				expect: { status: "down", started: false, last_duration_ms: 180_000 },
			},
		],
		flips: ["new→up:exit_code", "up→down:fail_ping"],
		durations: [180_000, 300_000, 180_000],
	},
	{
		name: "rid pairing: the run still open times out on its own deadline, not on the one that ended",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "?period=1h&max_runtime=5m", expect: { http: 201, status: "up" } },
			{ at: "+1m", ping: "/start?rid=a" },
			{ at: "+3m", ping: "/start?rid=b" },
			{ at: "+1m", ping: "?rid=a", expect: { status: "up", started: true, last_duration_ms: 240_000 } },
			// a's deadline (12:06) has passed, but a ended; b's is 12:09
			{ at: "2026-11-28T12:08:59Z", sweep: true, expect: { status: "up", started: true } },
			{ at: "2026-11-28T12:09:00Z", sweep: true, expect: { status: "down", started: false } },
		],
		flips: ["new→up:success_ping", "up→down:run_timeout"],
		durations: [240_000],
	},
	{
		name: "an end of one run does not excuse another that is already past its limit (before any sweep)",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "?period=1h&max_runtime=5m", expect: { http: 201, status: "up" } },
			{ at: "+1m", ping: "/start?rid=a", expect: { started: true } },
			{ at: "+1m", ping: "/start?rid=b", expect: { started: true } },
			{
				at: "2026-11-28T12:06:30Z",
				ping: "?rid=b",
				expect: { status: "down", started: false, last_duration_ms: 270_000 },
			},
			{ at: "+1m", ping: "?rid=a", expect: { status: "up", last_duration_ms: null } },
		],
		flips: ["new→up:success_ping", "up→down:run_timeout", "down→up:success_ping"],
		durations: [270_000],
	},
	{
		name: "without rid: a second start replaces the first; the end pairs with the newest",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "/start", expect: { http: 201, status: "new", started: true } },
			{ at: "+2m", ping: "/start", expect: { started: true } },
			{ at: "+30s", ping: "", expect: { status: "up", started: false, last_duration_ms: 30_000 } },
		],
		flips: ["new→up:success_ping"],
		durations: [30_000],
	},
	{
		name: "a start moves the due time: a late monitor is up again while its job runs",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "?period=1h&grace=30m", expect: { http: 201, status: "up" } },
			{ at: "2026-11-28T13:01:00Z", sweep: true, expect: { status: "late" } },
			{
				at: "2026-11-28T13:10:00Z",
				ping: "/start",
				expect: { status: "up", started: true, next_due_at: "2026-11-28T14:10:00.000Z" },
			},
			{ at: "+20m", ping: "", expect: { status: "up", started: false, last_duration_ms: 1_200_000 } },
		],
		flips: ["new→up:success_ping", "up→late:due", "late→up:start_ping"],
	},
	{
		name: "pause / resume: no late or down while paused, pings stored; resume waits for the next ping",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{ ping: "/start?period=1h&grace=5m", expect: { http: 201, status: "new", started: true } },
			{ at: "+1m", ping: "", expect: { status: "up" } },
			{ at: "+1m", ping: "/start", expect: { started: true } },
			{ pause: true, expect: { status: "paused", started: false } },
			{ at: "+5h", sweep: true, expect: { status: "paused" } },
			{ ping: "/fail", expect: { status: "paused", last_ping_at: "2026-11-28T17:02:00.000Z" } },
			{ ping: "/start", expect: { status: "paused", started: false } },
			{ pause: true, expect: { status: "paused" } },
			{ at: "+1m", resume: true, expect: { status: "new", started: false } },
			{ at: "+1d", sweep: true, expect: { status: "new" } },
			{ resume: true, expect: { status: "new" } },
			{
				at: "2026-11-29T18:00:00Z",
				ping: "",
				expect: { status: "up", next_due_at: "2026-11-29T19:00:00.000Z" },
			},
		],
		flips: ["new→up:success_ping", "up→paused:paused", "paused→new:resumed", "new→up:success_ping"],
	},
	{
		name: "log pings change nothing; a new monitor never goes late without a first ping",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{
				ping: "/log?period=1m&grace=1m",
				expect: { http: 201, status: "new", last_ping_at: null, next_due_at: null },
			},
			{ at: "+1d", sweep: true, expect: { status: "new" } },
			{ ping: "/log", expect: { status: "new", started: false } },
		],
		flips: [],
	},
	{
		name: "cron in UTC: due at the next fire time, late then, down after the grace",
		start: "2026-11-28T12:00:00Z",
		steps: [
			{
				ping: "?schedule=0%203%20*%20*%20*&grace=1h",
				expect: { http: 201, status: "up", next_due_at: "2026-11-29T03:00:00.000Z" },
			},
			{ at: "2026-11-29T02:59:59Z", sweep: true, expect: { status: "up" } },
			{ at: "2026-11-29T03:00:00Z", sweep: true, expect: { status: "late" } },
			{ at: "2026-11-29T04:00:00Z", sweep: true, expect: { status: "down" } },
			{
				at: "2026-11-29T04:10:00Z",
				ping: "",
				expect: { status: "up", next_due_at: "2026-11-30T03:00:00.000Z" },
			},
		],
		flips: ["new→up:success_ping", "up→late:due", "late→down:grace_ended", "down→up:success_ping"],
	},
	{
		name: "cron in Europe/Berlin across spring-forward: 08:30 local is 07:30Z before, 06:30Z after",
		start: "2026-03-27T12:00:00Z",
		steps: [
			{
				ping: "?schedule=30%208%20*%20*%20*&tz=Europe/Berlin&grace=10m",
				expect: { http: 201, status: "up", next_due_at: "2026-03-28T07:30:00.000Z" },
			},
			{ at: "2026-03-28T07:31:00Z", ping: "", expect: { next_due_at: "2026-03-29T06:30:00.000Z" } },
			{ at: "2026-03-29T06:29:59Z", sweep: true, expect: { status: "up" } },
			{ at: "2026-03-29T06:30:00Z", sweep: true, expect: { status: "late" } },
			{ at: "2026-03-29T06:40:00Z", sweep: true, expect: { status: "down" } },
			{
				at: "2026-03-29T06:45:00Z",
				ping: "",
				expect: { status: "up", next_due_at: "2026-03-30T06:30:00.000Z" },
			},
		],
		flips: ["new→up:success_ping", "up→late:due", "late→down:grace_ended", "down→up:success_ping"],
	},
	{
		name: "cron in Europe/Berlin: 02:30 falls in the spring-forward gap (due 03:00 CEST) and occurs twice in autumn (due once)",
		start: "2026-03-28T12:00:00Z",
		steps: [
			{
				ping: "?schedule=30%202%20*%20*%20*&tz=Europe/Berlin&grace=1h",
				expect: { http: 201, status: "up", next_due_at: "2026-03-29T01:00:00.000Z" },
			},
			{ at: "2026-03-29T01:05:00Z", ping: "", expect: { next_due_at: "2026-03-30T00:30:00.000Z" } },
			{ at: "2026-10-24T12:00:00Z", ping: "", expect: { next_due_at: "2026-10-25T00:30:00.000Z" } },
			// after the first 02:30 (CEST), the next is the next day's 02:30 CET — not the repeated hour
			{
				at: "2026-10-25T00:31:00Z",
				ping: "",
				expect: { status: "up", next_due_at: "2026-10-26T01:30:00.000Z" },
			},
			{ at: "2026-10-25T01:30:00Z", sweep: true, expect: { status: "up" } },
		],
		// The only flip (new→up in March) is older than the org's 30-day retention by October: pruned.
		flips: [],
	},
	{
		name: "cron in America/New_York across fall-back: a 30-minute schedule follows real time through the repeated hour",
		start: "2026-11-01T05:10:00Z",
		steps: [
			// 01:10 EDT; the next :30 is 01:30 EDT = 05:30Z, then 01:00 EST = 06:00Z, then 01:30 EST = 06:30Z
			{
				ping: "?schedule=*/30%20*%20*%20*%20*&tz=America/New_York&grace=5m",
				expect: { http: 201, next_due_at: "2026-11-01T05:30:00.000Z" },
			},
			{ at: "2026-11-01T05:31:00Z", ping: "", expect: { next_due_at: "2026-11-01T06:00:00.000Z" } },
			{ at: "2026-11-01T06:01:00Z", ping: "", expect: { next_due_at: "2026-11-01T06:30:00.000Z" } },
			{ at: "2026-11-01T06:35:00Z", sweep: true, expect: { status: "down" } },
		],
		flips: ["new→up:success_ping", "up→down:grace_ended"],
	},
];

let t: TestApp | undefined;
afterEach(() => {
	t?.close();
	t = undefined;
});

function moveClock(clock: FakeClock, at: string): void {
	const relative = /^\+(\d+)([smhd])$/.exec(at);
	if (relative) clock.advance(Number(relative[1]) * (UNIT[relative[2] as string] as number));
	else clock.set(Date.parse(at));
}

describe("the monitor state machine (table)", () => {
	it.each(SCENARIOS.map((s) => [s.name, s] as const))("%s", async (_name, scenario) => {
		const clock = new FakeClock(Date.parse(scenario.start));
		t = await createTestApp({ clock });
		const app = t;
		const { key, orgId } = await app.createOrgWithKey("State");
		const member = await seedUser(app, { orgId, role: "member" });
		// Access tokens live 15 minutes of the fake clock: a fresh one for every dashboard call.
		const session = async () => (await sessionFor(app, member)).token;
		let pinged = false;
		for (const [index, step] of scenario.steps.entries()) {
			const where = `step ${index + 1} ${JSON.stringify(step)}`;
			if (step.at) moveClock(clock, step.at);
			let observed: Record<string, unknown> | undefined;
			if (step.ping !== undefined) {
				const res = await request(app, "POST", `/api/v1/heartbeat/${SLUG}${step.ping}`, { key });
				expect(res.status, `${where}: ${res.text}`).toBe(step.expect?.http ?? (pinged ? 200 : 201));
				pinged = true;
				expect(Object.keys(res.json.monitor).sort(), where).toEqual([
					"grace_s",
					"last_ping_at",
					"next_due_at",
					"period_s",
					"schedule",
					"slug",
					"started",
					"status",
					"tz",
				]);
				observed = res.json.monitor;
			}
			if (step.sweep) await runSweep(app.deps);
			if (step.pause || step.resume) {
				const res = await request(
					app,
					"POST",
					`/api/v1/monitors/${SLUG}/${step.pause ? "pause" : "resume"}`,
					{
						token: await session(),
					},
				);
				expect(res.status, `${where}: ${res.text}`).toBe(200);
			}
			const current = await request(app, "GET", `/api/v1/monitors/${SLUG}`, { token: await session() });
			expect(current.status, where).toBe(200);
			const expected = { ...step.expect };
			delete expected.http;
			expect(current.json, where).toMatchObject(expected);
			if (observed) {
				// The ping's answer is the monitor's state right after it.
				for (const field of Object.keys(observed))
					expect(observed[field], `${where} ${field}`).toEqual(current.json[field]);
			}
		}
		const flips = await request(app, "GET", `/api/v1/monitors/${SLUG}/flips?limit=1000`, {
			token: await session(),
		});
		expect(flips.status).toBe(200);
		const history = (flips.json.data as { old_status: string; new_status: string; cause: string }[])
			.map((f) => `${f.old_status}→${f.new_status}:${f.cause}`)
			.reverse();
		expect(history).toEqual(scenario.flips);
		if (scenario.durations) {
			const pings = await request(app, "GET", `/api/v1/monitors/${SLUG}/pings?limit=1000`, {
				token: await session(),
			});
			const durations = (pings.json.data as { duration_ms: number | null }[])
				.map((p) => p.duration_ms)
				.filter((d): d is number => d !== null)
				.reverse();
			expect(durations).toEqual(scenario.durations);
		}
	});
});
