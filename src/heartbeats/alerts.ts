import { and, eq, inArray, lte, sql } from "drizzle-orm";
import type { AppDeps } from "../app-env.js";
import { toHex } from "../auth/api-key.js";
import { decryptSecret } from "../auth/totp.js";
import type { Database } from "../db/client.js";
import {
	type AlertDeliveryRow,
	alertDeliveries,
	type NotificationChannelRow,
	notificationChannels,
} from "../db/schema-heartbeats.js";
import { errorFields } from "../log.js";
import { fetchTransport, RefusedTargetError } from "./webhook-transport.js";
import { isSlackWebhook, webhookUrlProblem } from "./webhook-url.js";

/**
 * Alert delivery (docs/heartbeats.md): the outbox `alert_deliveries`, filled in the same transaction
 * as the flip, is attempted right after the ping's answer (waitUntil on Workers) and by every sweep.
 *
 * - Body: the stored JSON payload, or for Slack incoming webhooks (`https://hooks.slack.com/…`)
 *   Slack's `{"text": …}` made from it.
 * - `X-Hexcovery-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes, keyed with the
 *   channel's secret (UTF-8); absent when the channel has no secret. Also `X-Hexcovery-Event`,
 *   `X-Hexcovery-Delivery` (the delivery id) and the payload's `event_id` (the flip id) to drop duplicates.
 * - Success is a 2xx answer within 10 s; redirects are not followed. Otherwise the delivery is tried
 *   again after 1 min, 5 min, 30 min and 2 h (5 attempts), then marked `failed`.
 * - A claim (moving `next_attempt_at` ahead by the lease, in one guarded UPDATE) keeps two senders —
 *   the deferred one and a sweep — from sending the same attempt; a sender that dies leaves the
 *   delivery to be retried once the lease ends: delivery is at least once.
 */

export const DELIVERY_TIMEOUT_MS = 10_000;
export const RETRY_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
export const CLAIM_LEASE_MS = 2 * 60_000;
/** Deliveries claimed per round of a sweep: one per org first, then a second per org, … */
export const SWEEP_DELIVERIES = 50;
/**
 * A sweep goes on claiming rounds while deliveries are due, for up to this long (the sweep runs
 * every minute), and at most SWEEP_MAX_DELIVERIES in all: the budget grows with the backlog.
 */
export const SWEEP_DELIVERY_TIME_MS = 40_000;
export const SWEEP_MAX_DELIVERIES = 5_000;
const PARALLEL_SENDS = 10;
const USER_AGENT = "Hexcovery-Webhook/1";

export type DeliveryDeps = Pick<AppDeps, "db" | "clock" | "config" | "webhookTransport" | "log">;

export async function signatureOf(secret: string, body: string): Promise<string> {
	const key = await crypto.subtle.importKey(
		"raw",
		new TextEncoder().encode(secret),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
	return `sha256=${toHex(new Uint8Array(mac))}`;
}

interface StatusPayload {
	event: string;
	time: string;
	org?: { name?: string };
	monitor?: { slug?: string; name?: string | null };
	old_status?: string;
	new_status?: string;
	cause?: string;
}

const CAUSE_TEXT: Record<string, string> = {
	success_ping: "a success ping arrived",
	start_ping: "a start ping arrived",
	fail_ping: "a failure ping arrived",
	exit_code: "the job exited with a non-zero code",
	due: "the expected ping is overdue",
	grace_ended: "no ping arrived before the grace period ended",
	run_timeout: "a started run outlived its maximum runtime",
	paused: "it was paused",
	resumed: "it was resumed",
	settings_changed: "its schedule changed",
};

/**
 * Text for Slack's mrkdwn: `&`, `<` and `>` escaped as Slack requires, so a monitor named
 * `<!channel> <https://phish.test|Click>` reads as those characters, not a mention and a link.
 */
export function slackEscape(text: string): string {
	return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Slack's incoming-webhook format, from the generic payload; every value from the payload escaped. */
export function slackBody(payload: string): string {
	const p = JSON.parse(payload) as StatusPayload;
	if (p.event === "test")
		return JSON.stringify({ text: `Hexcovery test notification (${slackEscape(p.time)}).` });
	const name = slackEscape(p.monitor?.name || p.monitor?.slug || "?");
	const icon =
		p.new_status === "down"
			? ":red_circle:"
			: p.new_status === "up"
				? ":large_green_circle:"
				: ":large_yellow_circle:";
	const why = slackEscape(CAUSE_TEXT[p.cause ?? ""] ?? p.cause ?? "");
	const now = slackEscape((p.new_status ?? "").toUpperCase());
	return JSON.stringify({
		text: `${icon} Monitor *${name}* is ${now} (was ${slackEscape(p.old_status ?? "")}): ${why}. ${slackEscape(p.time)}`,
	});
}

export interface SendResult {
	ok: boolean;
	status: number | null;
	error: string | null;
}

/** One HTTP attempt. Never throws. */
export async function sendWebhook(
	channel: Pick<NotificationChannelRow, "url" | "secretEncrypted" | "enabled">,
	delivery: Pick<AlertDeliveryRow, "id" | "event" | "payload">,
	deps: Pick<AppDeps, "config" | "webhookTransport">,
): Promise<SendResult> {
	if (!channel.enabled) return { ok: false, status: null, error: "channel disabled" };
	const problem = webhookUrlProblem(channel.url, deps.config.heartbeats?.allowPrivateWebhookTargets ?? false);
	if (problem) return { ok: false, status: null, error: problem };
	try {
		const body = isSlackWebhook(channel.url) ? slackBody(delivery.payload) : delivery.payload;
		const headers: Record<string, string> = {
			"Content-Type": "application/json",
			"User-Agent": USER_AGENT,
			"X-Hexcovery-Event": delivery.event,
			"X-Hexcovery-Delivery": String(delivery.id),
		};
		if (channel.secretEncrypted !== null) {
			const secret = await decryptSecret(channel.secretEncrypted, deps.config.auth.totpKey);
			headers["X-Hexcovery-Signature"] = await signatureOf(secret, body);
		}
		const transport = deps.webhookTransport ?? fetchTransport;
		const response = await transport(channel.url, {
			method: "POST",
			headers,
			body,
			signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
		});
		if (response.status >= 200 && response.status < 300)
			return { ok: true, status: response.status, error: null };
		return { ok: false, status: response.status, error: `receiver answered ${response.status}` };
	} catch (error) {
		if (error instanceof RefusedTargetError) return { ok: false, status: null, error: error.message };
		const name = error instanceof Error ? error.name : "";
		const message = name === "TimeoutError" || name === "AbortError" ? "timed out" : "could not connect";
		return { ok: false, status: null, error: message };
	}
}

/** The state a delivery is left in after an attempt. */
export function afterAttempt(
	delivery: Pick<AlertDeliveryRow, "attempts" | "event">,
	result: SendResult,
	now: number,
): Partial<AlertDeliveryRow> {
	const common = { responseStatus: result.status, error: result.error, lastAttemptAt: now };
	if (result.ok) return { ...common, status: "delivered", deliveredAt: now, nextAttemptAt: null };
	// A test delivery is tried once: its answer shows the outcome.
	if (delivery.event === "test" || delivery.attempts >= MAX_ATTEMPTS) {
		return { ...common, status: "failed", nextAttemptAt: null };
	}
	const delay = RETRY_DELAYS_MS[delivery.attempts - 1] ?? (RETRY_DELAYS_MS.at(-1) as number);
	return { ...common, status: "pending", nextAttemptAt: now + delay };
}

/**
 * Claims pending deliveries that are due (all due ones up to `limit`, or only `ids`), sends them,
 * and records each outcome. Returns the deliveries as they were left.
 */
export async function attemptDeliveries(
	deps: DeliveryDeps,
	options: { ids?: number[]; limit?: number } = {},
): Promise<AlertDeliveryRow[]> {
	const { db } = deps;
	const now = deps.clock.now();
	if (options.ids && options.ids.length === 0) return [];
	const due = and(eq(alertDeliveries.status, "pending"), lte(alertDeliveries.nextAttemptAt, now));
	// Fair across orgs: each org's oldest due delivery first, then each org's second, and so on, so
	// one org's backlog (thousands of flapping monitors × channels) cannot delay another's alert.
	const chosen = options.ids
		? inArray(alertDeliveries.id, options.ids)
		: sql`${alertDeliveries.id} IN (SELECT id FROM (SELECT id, next_attempt_at, row_number() OVER (PARTITION BY org_id ORDER BY next_attempt_at, id) AS turn FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= ${now}) ORDER BY turn, next_attempt_at, id LIMIT ${options.limit ?? SWEEP_DELIVERIES})`;
	const claimed = await db
		.update(alertDeliveries)
		.set({
			attempts: sql`${alertDeliveries.attempts} + 1`,
			nextAttemptAt: now + CLAIM_LEASE_MS,
			lastAttemptAt: now,
		})
		.where(and(chosen, due))
		.returning();
	if (claimed.length === 0) return [];
	const channels = await channelsById(
		db,
		claimed.map((d) => d.channelId),
	);
	const outcomes: AlertDeliveryRow[] = [];
	for (let i = 0; i < claimed.length; i += PARALLEL_SENDS) {
		const slice = claimed.slice(i, i + PARALLEL_SENDS);
		const results = await Promise.all(
			slice.map((d) => {
				const channel = channels.get(d.channelId);
				return channel
					? sendWebhook(channel, d, deps)
					: Promise.resolve<SendResult>({ ok: false, status: null, error: "channel deleted" });
			}),
		);
		const finished = deps.clock.now();
		const updates = slice.map((d, j) => {
			const change = afterAttempt(d, results[j] as SendResult, finished);
			outcomes.push({ ...d, ...change });
			return (
				db
					.update(alertDeliveries)
					.set(change)
					// Still pending: a delivery superseded by a later flip meanwhile keeps that outcome.
					.where(
						and(
							eq(alertDeliveries.id, d.id),
							eq(alertDeliveries.attempts, d.attempts),
							eq(alertDeliveries.status, "pending"),
						),
					)
			);
		});
		await db.batch(updates as [(typeof updates)[number], ...typeof updates]);
	}
	return outcomes;
}

async function channelsById(db: Database, ids: string[]): Promise<Map<string, NotificationChannelRow>> {
	const rows = await db
		.select()
		.from(notificationChannels)
		.where(inArray(notificationChannels.id, [...new Set(ids)]));
	return new Map(rows.map((r) => [r.id, r]));
}

/**
 * The sweep's deliveries: fair rounds of SWEEP_DELIVERIES while any are due, within
 * SWEEP_DELIVERY_TIME_MS of wall time and SWEEP_MAX_DELIVERIES in all.
 */
export async function sweepDeliveries(deps: DeliveryDeps): Promise<AlertDeliveryRow[]> {
	const started = performance.now();
	const outcomes: AlertDeliveryRow[] = [];
	while (outcomes.length < SWEEP_MAX_DELIVERIES && performance.now() - started < SWEEP_DELIVERY_TIME_MS) {
		const round = await attemptDeliveries(deps, {
			limit: Math.min(SWEEP_DELIVERIES, SWEEP_MAX_DELIVERIES - outcomes.length),
		});
		if (round.length === 0) break;
		outcomes.push(...round);
	}
	return outcomes;
}

/** For the deferred attempt after a ping: never rejects (it runs detached on Node). */
export function deliverInBackground(deps: DeliveryDeps, ids: number[]): Promise<void> {
	return attemptDeliveries(deps, { ids }).then(
		() => undefined,
		(error: unknown) => {
			deps.log({ level: "error", msg: "alert delivery failed", ...errorFields(error) });
		},
	);
}
