import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, lt } from "drizzle-orm";
import type { AppDeps, AppEnv } from "../app-env.js";
import { LruCache } from "../auth/lru.js";
import { roleAtLeast, sessionAccess, sessionActor } from "../auth/session-access.js";
import { encryptSecret } from "../auth/totp.js";
import { DEFAULT_MAX_CHANNELS_PER_ORG } from "../config.js";
import { insertUnderLimit } from "../db/insert-under-limit.js";
import { orgs } from "../db/schema.js";
import {
	alertDeliveries,
	type NotificationChannelRow,
	notificationChannels,
} from "../db/schema-heartbeats.js";
import { ApiError } from "../errors.js";
import { afterAttempt, sendWebhook } from "../heartbeats/alerts.js";
import { isSlackWebhook, MAX_WEBHOOK_URL_LENGTH, webhookUrlProblem } from "../heartbeats/webhook-url.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, idParams, pageQueryShape, validationHook } from "../http/openapi.js";
import { toRfc3339 } from "../http/time.js";
import { newId } from "../ids.js";

/** Org-level notification channels for heartbeat alerts (docs/heartbeats.md): viewers read, members and up write. */

const Name = z.string().trim().min(1).max(200).openapi({ example: "On-call webhook" });
const Url = z.string().max(MAX_WEBHOOK_URL_LENGTH).openapi({
	example: "https://hooks.example.com/hexcovery",
	description: "http(s); a `https://hooks.slack.com/…` URL gets Slack's message format",
});
const Secret = z.string().min(16).max(256).openapi({
	description:
		"Signs each delivery: `X-Hexcovery-Signature: sha256=<hex HMAC-SHA256 of the body>`. Never shown again.",
});

const CreateBody = z
	.strictObject({
		name: Name,
		type: z.literal("webhook").default("webhook"),
		url: Url,
		secret: Secret.nullable().optional(),
		enabled: z.boolean().default(true),
	})
	.openapi("NotificationChannelCreate", {
		example: {
			name: "On-call webhook",
			type: "webhook",
			url: "https://hooks.example.com/hexcovery",
			secret: "a-long-random-shared-secret",
		},
	});

const PatchBody = z
	.strictObject({
		name: Name.optional(),
		url: Url.optional(),
		secret: Secret.nullable()
			.optional()
			.openapi({ description: "A new secret, or null for unsigned deliveries" }),
		enabled: z.boolean().optional(),
	})
	.refine((b) => Object.values(b).some((v) => v !== undefined), { message: "Send at least one field" })
	.openapi("NotificationChannelUpdate", { example: { enabled: false } });

const ChannelSchema = z
	.object({
		id: z.string().openapi({ example: "nch_5RtY8uIo1PlK3jHg6FdS" }),
		name: z.string(),
		type: z.literal("webhook"),
		url: z
			.string()
			.openapi({ description: "In full for members and up; viewers see only the scheme and host" }),
		format: z.enum(["json", "slack"]).openapi({ description: "slack for hooks.slack.com URLs" }),
		has_secret: z.boolean(),
		enabled: z.boolean(),
		created_at: z.string(),
		updated_at: z.string(),
	})
	.openapi("NotificationChannel");

const TestResult = z
	.object({
		delivery_id: z.number().int(),
		status: z.enum(["delivered", "failed"]),
		response_status: z.number().int().nullable(),
		error: z.string().nullable(),
		attempted_at: z.string(),
	})
	.openapi("NotificationTestResult");

const DeliverySchema = z
	.object({
		id: z.number().int(),
		event: z.enum(["monitor.status_changed", "test"]),
		monitor_id: z.string().nullable(),
		status: z.enum(["pending", "delivered", "failed"]),
		attempts: z.number().int(),
		response_status: z
			.number()
			.int()
			.nullable()
			.openapi({ description: "The receiver's HTTP status, if it answered" }),
		error: z.string().nullable(),
		created_at: z.string(),
		last_attempt_at: z.string().nullable(),
		next_attempt_at: z.string().nullable().openapi({ description: "When a pending delivery is tried again" }),
		delivered_at: z.string().nullable(),
	})
	.openapi("NotificationDelivery");

const IdParams = idParams();

const notFound = () => new ApiError(404, "not_found", "No notification channel with that id.");

function checkedUrl(deps: AppDeps, url: string): string {
	const problem = webhookUrlProblem(url, deps.config.heartbeats?.allowPrivateWebhookTargets ?? false);
	if (problem) {
		throw new ApiError(400, "invalid_request", "The request is invalid.", {
			details: [{ path: "url", message: problem }],
		});
	}
	return url;
}

/** The URL a viewer may see: Slack webhook URLs and many others carry their secret in the path. */
function redacted(url: string): string {
	try {
		return `${new URL(url).origin}/…`;
	} catch {
		return "…";
	}
}

function toChannelJson(row: NotificationChannelRow, fullUrl: boolean): z.infer<typeof ChannelSchema> {
	return {
		id: row.id,
		name: row.name,
		type: row.type,
		url: fullUrl ? row.url : redacted(row.url),
		format: isSlackWebhook(row.url) ? "slack" : "json",
		has_secret: row.secretEncrypted !== null,
		enabled: row.enabled,
		created_at: toRfc3339(row.createdAt),
		updated_at: toRfc3339(row.updatedAt),
	};
}

/** Test sends an org may start per minute, per process or isolate (each an outbound POST of up to 10 s). */
export const CHANNEL_TESTS_PER_MINUTE = 10;

export function notificationChannelRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	/** Channels with a test in flight, and each org's recent tests (start times), in this process. */
	const testing = new Set<string>();
	const recentTests = new LruCache<number[]>(10_000, deps.clock);
	const tooMany = (message: string, seconds: number) =>
		new ApiError(429, "rate_limited", message, { headers: { "Retry-After": String(Math.max(1, seconds)) } });
	const read = sessionAccess(deps, "viewer");
	const write = sessionAccess(deps, "member");
	const tags = ["Notification channels"];
	const security = [{ Bearer: [] }];

	const find = async (orgId: string, id: string) => {
		const [row] = await deps.db
			.select()
			.from(notificationChannels)
			.where(and(eq(notificationChannels.id, id), eq(notificationChannels.orgId, orgId)));
		return row;
	};

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List the organization's notification channels",
			description:
				"Every channel of the org, oldest first. Secrets are never shown (`has_secret`); viewers see only each URL's origin, members and up the full URL.",
			middleware: [read] as const,
			responses: {
				200: {
					description: "The channels, oldest first",
					content: {
						"application/json": {
							schema: z.object({ data: z.array(ChannelSchema) }).openapi("NotificationChannelList"),
						},
					},
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const rows = await deps.db
				.select()
				.from(notificationChannels)
				.where(eq(notificationChannels.orgId, actor.orgId))
				.orderBy(asc(notificationChannels.createdAt), asc(notificationChannels.id));
			const full = roleAtLeast(actor.role, "member");
			return c.json({ data: rows.map((r) => toChannelJson(r, full)) }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/",
			tags,
			security,
			summary: "Add a webhook channel",
			description: `Every monitor flip to or from \`down\` is POSTed to every enabled channel of the organization, as JSON (or Slack's format for hooks.slack.com). URLs must be http(s) and, unless the deployment allows it, not local or private addresses. At most ${DEFAULT_MAX_CHANNELS_PER_ORG} channels per organization by default (\`HEARTBEAT_MAX_CHANNELS_PER_ORG\`); beyond, 409 \`channel_limit_reached\`.`,
			middleware: [write, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
			responses: {
				201: { description: "Created", content: { "application/json": { schema: ChannelSchema } } },
				...errorResponses(400, 401, 403, 409, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const body = c.req.valid("json");
			const url = checkedUrl(deps, body.url);
			const limit = deps.config.heartbeats?.maxChannelsPerOrg ?? DEFAULT_MAX_CHANNELS_PER_ORG;
			const now = deps.clock.now();
			const row: NotificationChannelRow = {
				id: newId("nch"),
				orgId: actor.orgId,
				name: body.name,
				type: "webhook",
				url,
				secretEncrypted: body.secret ? await encryptSecret(body.secret, deps.config.auth.totpKey) : null,
				enabled: body.enabled,
				createdAt: now,
				updatedAt: now,
			};
			const inOrg = eq(notificationChannels.orgId, row.orgId);
			if ((await insertUnderLimit(deps.db, notificationChannels, row, inOrg, limit)) === "full") {
				throw new ApiError(
					409,
					"channel_limit_reached",
					`An organization has at most ${limit} notification channels (HEARTBEAT_MAX_CHANNELS_PER_ORG); delete one first.`,
				);
			}
			return c.json(toChannelJson(row, true), 201);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/{id}",
			tags,
			security,
			summary: "Change a channel (name, URL, secret, enabled)",
			description:
				"`secret: null` makes deliveries unsigned; a new URL is checked like on create. Deliveries already queued use the channel as it is when they are sent.",
			middleware: [write, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: PatchBody } } },
			},
			responses: {
				200: {
					description: "The updated channel",
					content: { "application/json": { schema: ChannelSchema } },
				},
				...errorResponses(400, 401, 403, 404, 413, 415),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const body = c.req.valid("json");
			const secretEncrypted =
				body.secret === undefined
					? undefined
					: body.secret === null
						? null
						: await encryptSecret(body.secret, deps.config.auth.totpKey);
			const [row] = await deps.db
				.update(notificationChannels)
				.set({
					...(body.name !== undefined && { name: body.name }),
					...(body.url !== undefined && { url: checkedUrl(deps, body.url) }),
					...(secretEncrypted !== undefined && { secretEncrypted }),
					...(body.enabled !== undefined && { enabled: body.enabled }),
					updatedAt: deps.clock.now(),
				})
				.where(
					and(
						eq(notificationChannels.id, c.req.valid("param").id),
						eq(notificationChannels.orgId, actor.orgId),
					),
				)
				.returning();
			if (!row) throw notFound();
			return c.json(toChannelJson(row, true), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}",
			tags,
			security,
			summary: "Delete a channel and its delivery log",
			description: "Pending deliveries to it are dropped. Another org's channel id is 404.",
			middleware: [write] as const,
			request: { params: IdParams },
			responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			const actor = sessionActor(c);
			const id = c.req.valid("param").id;
			const [deleted] = await deps.db.batch([
				deps.db
					.delete(notificationChannels)
					.where(and(eq(notificationChannels.id, id), eq(notificationChannels.orgId, actor.orgId)))
					.returning({ id: notificationChannels.id }),
				deps.db
					.delete(alertDeliveries)
					.where(and(eq(alertDeliveries.channelId, id), eq(alertDeliveries.orgId, actor.orgId))),
			]);
			if (deleted.length !== 1) throw notFound();
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/{id}/test",
			tags,
			security,
			summary: "Send a test notification now",
			description:
				'POSTs `{"event":"test", …}` (signed like every delivery) once, waits for the receiver (up to 10 s) and answers with the outcome; a failed test is not retried. One test per channel at a time and 10 a minute per organization (per process or isolate); more are 429 `rate_limited`. Disabled channels are tested too. A failure is answered generically (`response_status` null, `error` "delivery failed"), whatever the cause — refused target, no connection, timeout or a non-2xx answer — so the test cannot map which addresses answer (docs/security.md).',
			middleware: [write] as const,
			request: { params: IdParams },
			responses: {
				200: {
					description: "The outcome (also when the receiver failed)",
					content: { "application/json": { schema: TestResult } },
				},
				...errorResponses(400, 401, 403, 404),
				429: {
					description:
						"A test of this channel is in flight, or the org started 10 in the last minute (`rate_limited`, with `Retry-After`)",
				},
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const channel = await find(actor.orgId, c.req.valid("param").id);
			if (!channel) throw notFound();
			const now = deps.clock.now();
			// Any member may send tests: one at a time per channel, a few a minute per org, so they
			// cannot be made to send POSTs (or fill the delivery log) without end.
			if (testing.has(channel.id))
				throw tooMany("A test of this channel is in flight; wait for its answer.", 10);
			const recent = (recentTests.get(actor.orgId) ?? []).filter((at) => at > now - 60_000);
			if (recent.length >= CHANNEL_TESTS_PER_MINUTE) {
				throw tooMany(
					`At most ${CHANNEL_TESTS_PER_MINUTE} test notifications a minute per organization.`,
					Math.ceil(((recent[0] ?? now) + 60_000 - now) / 1000),
				);
			}
			recentTests.set(actor.orgId, [...recent, now], 60_000);
			testing.add(channel.id);
			try {
				const [org] = await deps.db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, actor.orgId));
				const payload = JSON.stringify({
					event: "test",
					event_id: `test_${newId("nch").slice(4)}`,
					time: toRfc3339(now),
					org: { id: actor.orgId, name: org?.name ?? null },
					channel: { id: channel.id, name: channel.name },
				});
				const [delivery] = await deps.db
					.insert(alertDeliveries)
					.values({
						orgId: actor.orgId,
						channelId: channel.id,
						event: "test",
						payload,
						status: "pending",
						attempts: 1,
						nextAttemptAt: null,
						lastAttemptAt: now,
						createdAt: now,
					})
					.returning();
				if (!delivery) throw new Error("test delivery not stored");
				const sent = await sendWebhook({ ...channel, enabled: true }, delivery, deps);
				// One outcome for every failure, in the answer and in the delivery log alike: a test must
				// not tell "nothing listens there" from "it answered 400" (docs/security.md).
				const result = sent.ok ? sent : { ok: false, status: null, error: "delivery failed" };
				const change = afterAttempt(delivery, result, deps.clock.now());
				await deps.db.update(alertDeliveries).set(change).where(eq(alertDeliveries.id, delivery.id));
				return c.json(
					{
						delivery_id: delivery.id,
						status: result.ok ? ("delivered" as const) : ("failed" as const),
						response_status: result.status,
						error: result.error,
						attempted_at: toRfc3339(now),
					},
					200,
				);
			} finally {
				testing.delete(channel.id);
			}
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{id}/deliveries",
			tags,
			security,
			summary: "The channel's delivery log, newest first",
			description:
				"Every alert and test sent to the channel with its outcome (`pending` deliveries are still being retried). Payloads are not returned. Pages with `next_cursor`.",
			middleware: [read] as const,
			request: { params: IdParams, query: z.strictObject(pageQueryShape) },
			responses: {
				200: {
					description: "A page of deliveries",
					content: {
						"application/json": {
							schema: z
								.object({ data: z.array(DeliverySchema), next_cursor: z.string().nullable() })
								.openapi("NotificationDeliveryList"),
						},
					},
				},
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const actor = sessionActor(c);
			const channel = await find(actor.orgId, c.req.valid("param").id);
			if (!channel) throw notFound();
			const query = c.req.valid("query");
			const conditions = [eq(alertDeliveries.channelId, channel.id), eq(alertDeliveries.orgId, actor.orgId)];
			if (query.cursor !== undefined)
				conditions.push(lt(alertDeliveries.id, decodeCursor(query.cursor).time));
			const rows = await deps.db
				.select()
				.from(alertDeliveries)
				.where(and(...conditions))
				.orderBy(desc(alertDeliveries.id))
				.limit(query.limit + 1);
			const page = rows.slice(0, query.limit);
			const last = page.at(-1);
			const time = (ms: number | null) => (ms === null ? null : toRfc3339(ms));
			return c.json(
				{
					data: page.map((row) => ({
						id: row.id,
						event: row.event,
						monitor_id: row.monitorId,
						status: row.status,
						attempts: row.attempts,
						response_status: row.responseStatus,
						error: row.error,
						created_at: toRfc3339(row.createdAt),
						last_attempt_at: time(row.lastAttemptAt),
						next_attempt_at: row.status === "pending" ? time(row.nextAttemptAt) : null,
						delivered_at: time(row.deliveredAt),
					})),
					next_cursor: rows.length > query.limit && last ? encodeCursor({ time: last.id, id: "" }) : null,
				},
				200,
			);
		},
	);

	return app;
}
