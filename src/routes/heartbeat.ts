import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "../app-env.js";
import { apiKeyOnly, deferFor, requireAccess } from "../auth/credentials.js";
import { DEFAULT_MAX_MONITORS_PER_ORG } from "../config.js";
import type { MonitorRow } from "../db/schema-heartbeats.js";
import { ApiError } from "../errors.js";
import { deliverInBackground } from "../heartbeats/alerts.js";
import { PingAnswerSchema, toPingAnswer } from "../heartbeats/json.js";
import {
	DEFAULT_GRACE_S,
	DEFAULT_PERIOD_S,
	DEFAULT_TZ,
	formatDuration,
	isValidTimeZone,
	MAX_DURATION_S,
	MIN_DURATION_S,
	normalizeSchedule,
	parseDuration,
	scheduleProblem,
} from "../heartbeats/schedule.js";
import type { MonitorSettings, PingEvent } from "../heartbeats/state.js";
import { recordPing } from "../heartbeats/store.js";
import { type BodySource, bodySourceOf, readChunks } from "../http/body-source.js";
import { nameSchema, SLUG_RULE } from "../http/name-rules.js";
import { errorResponses, validationHook } from "../http/openapi.js";
import { withoutNul } from "../text.js";

/** The ping API (contract §4 "Heartbeats"): `POST /api/v1/heartbeat/:slug[/start|/fail|/log|/:exit_code]`. */

export const PING_BODY_LIMIT_BYTES = 10_000;
const RID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** `Ping-Body-Limit` on every answer under the ping paths, errors and 405s included (mounted in app.ts). */
export const pingBodyLimitHeader: MiddlewareHandler = async (c, next) => {
	await next();
	c.res.headers.set("Ping-Body-Limit", String(PING_BODY_LIMIT_BYTES));
};

export const slugSchema = nameSchema("slug", SLUG_RULE).openapi({
	param: { name: "slug", in: "path" },
	example: "nightly-backup",
});

const durationParam = (what: string, min = MIN_DURATION_S) =>
	z
		.string()
		.refine((v) => {
			const s = parseDuration(v);
			return s !== null && s >= min && s <= MAX_DURATION_S;
		}, `${what} must be seconds or 30s|5m|2h|1d, from ${min} s to 365 d`)
		.transform((v) => parseDuration(v) as number)
		.optional();

const PingQuery = z
	.strictObject({
		rid: z
			.string()
			.regex(RID_PATTERN, "rid must be 1–64 characters of A-Z a-z 0-9 _ . : - (a UUID fits)")
			.optional()
			.openapi({
				description: "Run id: pairs a `/start` with its end, so concurrent runs are measured apart",
			}),
		period: durationParam("period").openapi({
			description: "Creation only: expected time between pings (seconds or `30s|5m|2h|1d`; default 1d)",
			example: "1h",
		}),
		grace: durationParam("grace", 0).openapi({
			description: "Creation only: how late a ping may be before the monitor is down (default 1h)",
			example: "5m",
		}),
		schedule: z.string().max(200).optional().openapi({
			description: "Creation only: a 5-field cron expression instead of `period`",
			example: "0 3 * * *",
		}),
		tz: z.string().max(64).optional().openapi({
			description: "Creation only: IANA time zone of `schedule` (default UTC)",
			example: "Europe/Berlin",
		}),
		max_runtime: durationParam("max_runtime").openapi({
			description: "Creation only: how long a started run may last (default: the grace period)",
			example: "30m",
		}),
	})
	.superRefine((q, ctx) => {
		if (q.schedule !== undefined && q.period !== undefined) {
			ctx.addIssue({
				code: "custom",
				path: ["schedule"],
				message: "send either period or schedule, not both",
			});
		}
		if (q.tz !== undefined && !isValidTimeZone(q.tz)) {
			ctx.addIssue({
				code: "custom",
				path: ["tz"],
				message: "tz must be an IANA time zone, e.g. Europe/Berlin",
			});
		}
		if (q.schedule !== undefined) {
			const problem = scheduleProblem(
				q.schedule,
				q.tz !== undefined && isValidTimeZone(q.tz) ? q.tz : DEFAULT_TZ,
			);
			if (problem) ctx.addIssue({ code: "custom", path: ["schedule"], message: problem });
		}
	});

type PingQueryValue = z.infer<typeof PingQuery>;

/**
 * Settings a later ping sent that differ from the monitor's: ignored (they apply only when a ping
 * creates the monitor), and said so in the answer's `warnings` with how to change them.
 */
export function ignoredSettingsWarning(
	row: MonitorRow,
	q: PingQueryValue,
	raw: (name: string) => string | undefined,
): string | null {
	const ignored: string[] = [];
	const current: string[] = [];
	const differs = (name: string, sent: boolean, same: boolean, now: string) => {
		if (!sent || same) return;
		ignored.push(`${name}=${raw(name)}`);
		current.push(`${name} ${now}`);
	};
	const none = "none";
	differs(
		"period",
		q.period !== undefined,
		q.period === row.periodS,
		row.periodS === null ? `${none} (a cron monitor)` : formatDuration(row.periodS),
	);
	differs(
		"schedule",
		q.schedule !== undefined,
		q.schedule !== undefined && normalizeSchedule(q.schedule) === row.schedule,
		row.schedule === null ? `${none} (an interval monitor)` : `"${row.schedule}"`,
	);
	differs("tz", q.tz !== undefined, q.tz === row.tz, row.tz);
	differs("grace", q.grace !== undefined, q.grace === row.graceS, formatDuration(row.graceS));
	differs(
		"max_runtime",
		q.max_runtime !== undefined,
		q.max_runtime === row.maxRuntimeS,
		row.maxRuntimeS === null ? `${none} (the grace period)` : formatDuration(row.maxRuntimeS),
	);
	if (ignored.length === 0) return null;
	return `Ignored ${ignored.join(", ")}: settings on a ping apply only when it creates the monitor, and "${row.slug}" has ${current.join(", ")}. Change them with PATCH /api/v1/monitors/${row.slug} or on the dashboard's Monitors page.`;
}

function creationSettings(q: PingQueryValue): MonitorSettings {
	const schedule = q.schedule === undefined ? null : normalizeSchedule(q.schedule);
	return {
		periodS: schedule === null ? (q.period ?? DEFAULT_PERIOD_S) : null,
		graceS: q.grace ?? DEFAULT_GRACE_S,
		schedule,
		tz: q.tz ?? DEFAULT_TZ,
		maxRuntimeS: q.max_runtime ?? null,
	};
}

const NO_BODY: { body: string | null; truncated: boolean } = Object.freeze({ body: null, truncated: false });

/** The first PING_BODY_LIMIT_BYTES bytes of the body, read no further; the rest is never buffered. */
export async function readBoundedBody(
	source: BodySource | null,
): Promise<{ body: string | null; truncated: boolean }> {
	if (!source) return NO_BODY;
	const chunks: Uint8Array[] = [];
	let size = 0;
	let truncated = false;
	await readChunks(source, (chunk) => {
		const room = PING_BODY_LIMIT_BYTES - size;
		if (chunk.byteLength > room) {
			chunks.push(chunk.subarray(0, room));
			size += room;
			truncated = true;
			return false;
		}
		chunks.push(chunk);
		size += chunk.byteLength;
		return true;
	});
	if (size === 0) return NO_BODY;
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, offset);
		offset += chunk.byteLength;
	}
	const end = truncated ? utf8Boundary(bytes) : size;
	// NUL as U+FFFD, as OTLP's strings (SQLite's text ends at a NUL: a body starting with one read "").
	return { body: withoutNul(new TextDecoder().decode(bytes.subarray(0, end))), truncated };
}

/** Where to cut so that a multi-byte UTF-8 character is not split at the end. */
function utf8Boundary(bytes: Uint8Array): number {
	let i = bytes.length - 1;
	let continuation = 0;
	while (i >= 0 && continuation < 3 && ((bytes[i] as number) & 0xc0) === 0x80) {
		i--;
		continuation++;
	}
	if (i < 0) return bytes.length;
	const lead = bytes[i] as number;
	const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return needed > continuation + 1 ? i : bytes.length;
}

const SlugParams = z.object({ slug: slugSchema });
const ExitCodeParams = z.object({
	slug: slugSchema,
	exit_code: z.string().openapi({
		param: { name: "exit_code", in: "path" },
		description: "0 = success, 1–255 = failure; above 255 or below 0 answers 400, text that is no number 404",
		example: "0",
	}),
});

const pingBody = {
	required: false,
	description: `Optional: the job's output or any text. The first ${PING_BODY_LIMIT_BYTES} bytes are stored with the ping; the rest is dropped (never a 413).`,
	content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } },
};

const answers = {
	200: {
		description: "The ping was stored; the monitor's state after it",
		headers: { "Ping-Body-Limit": { schema: { type: "integer" as const, example: PING_BODY_LIMIT_BYTES } } },
		content: { "application/json": { schema: PingAnswerSchema } },
	},
	201: {
		description:
			"The first ping of this slug: the monitor was created with the settings in the query, then the ping applied. An org has at most 1,000 monitors by default (HEARTBEAT_MAX_MONITORS_PER_ORG): a first ping beyond is 409 `monitor_limit_reached`.",
		content: { "application/json": { schema: PingAnswerSchema } },
	},
	...errorResponses(400, 401, 403, 405, 409, 503),
};

const COMMON = `Needs an API key (\`X-API-Key\`); a Bearer token answers 403 \`api_key_required\`. Other methods answer 405 (keys never travel in URLs). The first ping of an unknown slug creates its monitor (201) with \`period\`/\`grace\` or \`schedule\`+\`tz\`, and \`max_runtime\`, from the query; later pings answer 200 and never change settings (those they send that differ from the monitor's are listed, ignored, in \`warnings\`). Every answer carries \`Ping-Body-Limit: ${PING_BODY_LIMIT_BYTES}\`.`;

export function heartbeatRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const guard = requireAccess(deps, apiKeyOnly);
	const tags = ["Heartbeats"];
	const security = [{ ApiKey: [] }];

	const handle = async (
		c: Parameters<Parameters<typeof app.openapi>[1]>[0],
		slug: string,
		query: PingQueryValue,
		event: PingEvent,
	) => {
		const principal = c.var.principal;
		const { body, truncated } = await readBoundedBody(bodySourceOf(c.req.raw, deps.requestBody?.(c)));
		const outcome = await recordPing(deps, {
			orgId: principal.orgId,
			slug,
			event,
			creation: creationSettings(query),
			maxMonitorsPerOrg: deps.config.heartbeats?.maxMonitorsPerOrg ?? DEFAULT_MAX_MONITORS_PER_ORG,
			record: {
				kind: event.kind,
				exitCode: event.exitCode,
				rid: event.rid,
				body,
				bodyTruncated: truncated,
				apiKeyId: principal.kind === "api_key" ? principal.keyId : null,
				remoteAddr: deps.clientAddress(c)?.slice(0, 64) ?? null,
				userAgent: c.req.header("User-Agent")?.slice(0, 256) ?? null,
			},
		});
		if (outcome.deliveryIds.length > 0) deferFor(c)(deliverInBackground(deps, outcome.deliveryIds));
		c.header("Cache-Control", "no-store");
		const warning = outcome.created
			? null
			: ignoredSettingsWarning(outcome.monitor, query, (name) => c.req.query(name));
		return c.json(
			{ ...toPingAnswer(outcome.monitor), ...(warning && { warnings: [warning] }) },
			outcome.created ? 201 : 200,
		);
	};

	const kinds = [
		{
			suffix: "",
			kind: "success",
			summary: "Ping: the job succeeded",
			what: "Marks the monitor up and ends the run it pairs with (by `rid`).",
		},
		{
			suffix: "/start",
			kind: "start",
			summary: "Ping: the job started",
			what: "Opens a run; it must end (success or failure) within `max_runtime` (default: the grace period) or the monitor goes down. Concurrent runs are told apart by `rid`.",
		},
		{
			suffix: "/fail",
			kind: "fail",
			summary: "Ping: the job failed",
			what: "Marks the monitor down at once and ends the run it pairs with.",
		},
		{
			suffix: "/log",
			kind: "log",
			summary: "Ping: attach a log line",
			what: "Stores the body with the monitor's pings; changes nothing else.",
		},
	] as const;

	for (const k of kinds) {
		app.openapi(
			createRoute({
				method: "post",
				path: `/{slug}${k.suffix}`,
				tags,
				security,
				summary: k.summary,
				description: `${k.what} ${COMMON}`,
				middleware: [guard] as const,
				request: { params: SlugParams, query: PingQuery, body: pingBody },
				responses: answers,
			}),
			(c) =>
				handle(c, c.req.valid("param").slug, c.req.valid("query"), {
					kind: k.kind,
					rid: c.req.valid("query").rid ?? null,
					exitCode: null,
				}),
		);
	}

	app.openapi(
		createRoute({
			method: "post",
			path: "/{slug}/{exit_code}",
			tags,
			security,
			summary: "Ping: the job exited with this code",
			description: `\`0\` is a success ping, \`1\`–\`255\` a failure ping (the code is stored with it). ${COMMON}`,
			middleware: [guard] as const,
			request: { params: ExitCodeParams, query: PingQuery, body: pingBody },
			responses: { ...answers, ...errorResponses(404) },
		}),
		(c) => {
			const { slug, exit_code } = c.req.valid("param");
			// Text is no suffix (404, as any unknown path); a negative number is an exit code out of range.
			if (!/^-?\d+$/.test(exit_code)) {
				throw new ApiError(404, "not_found", `No route for ${c.req.method} ${c.req.path}.`);
			}
			const code = Number(exit_code);
			if (exit_code.length > 3 || code > 255 || code < 0 || Object.is(code, -0)) {
				throw new ApiError(400, "invalid_request", "The request is invalid.", {
					details: [{ path: "exit_code", message: "exit_code must be 0–255" }],
				});
			}
			return handle(c, slug, c.req.valid("query"), {
				kind: code === 0 ? "success" : "fail",
				rid: c.req.valid("query").rid ?? null,
				exitCode: code,
			});
		},
	);

	return app;
}
