import { ClickHouseLogLevel, createClient as createClickHouseClient } from "@clickhouse/client-web";
import { createClient } from "@libsql/client/web";
import type { ExecutionContext } from "hono";
import { createApp } from "../app.js";
import type { AppDeps } from "../app-env.js";
import { createKeyMemoryCache, type KeyValueStore } from "../auth/key-resolver.js";
import { systemClock } from "../clock.js";
import {
	authSettingsFrom,
	ConfigError,
	databaseTimeoutFrom,
	heartbeatSettingsFrom,
	integerFrom,
	jwtSettingsFrom,
	optionalText,
	oqlSettingsFrom,
	orgLimitsFrom,
	readLimitsFrom,
	requiredText,
	type Settings,
} from "../config.js";
import { createDatabase } from "../db/client.js";
import { fetchWithDeadline } from "../db/remote.js";
import { assembleDeps } from "../deps.js";
import { DiscoveryMemory } from "../ingest/discovery.js";
import {
	consumeTelemetry,
	isDeadLetterQueue,
	parkDeadLetters,
	type QueueBatch,
	RETRY_BASE_SECONDS,
	type SpillBucket,
	type TelemetryQueue,
	type TelemetryQueues,
} from "../ingest/queue.js";
import { otlpSettingsFrom } from "../ingest/settings.js";
import { libsqlClientOf } from "../ingest/writer.js";
import { consoleLog, errorFields, logLevelFrom } from "../log.js";
import { runSweep } from "../sweep.js";
import { clickHouseTelemetryStore } from "../telemetry/clickhouse.js";
import { clickHouseSettingsFrom } from "../telemetry/config.js";

/** The Worker's bindings (wrangler.toml and secrets). */
export interface WorkerEnv {
	DATABASE_URL?: string;
	DATABASE_AUTH_TOKEN?: string;
	JWT_SIGNING_KEYS?: string;
	JWT_ISSUER?: string;
	JWT_AUDIENCE?: string;
	TOTP_ENCRYPTION_KEY?: string;
	SETUP_TOKEN?: string;
	ALLOWED_ORIGINS?: string;
	WEBHOOK_ALLOW_PRIVATE_TARGETS?: string;
	HEARTBEAT_MAX_MONITORS_PER_ORG?: string;
	HEARTBEAT_MAX_CHANNELS_PER_ORG?: string;
	OTLP_MAX_BODY_BYTES?: string;
	OTLP_MAX_CONCURRENT_PER_ORG?: string;
	OTLP_MAX_ATTRIBUTES_PER_RECORD?: string;
	OTLP_MAX_ATTRIBUTES_PER_RESOURCE?: string;
	OTLP_MAX_ATTRIBUTES_PER_SCOPE?: string;
	OTLP_ORG_BYTES_PER_SECOND?: string;
	OTLP_ORG_BYTE_BURST?: string;
	OQL_MAX_RANGE_DAYS?: string;
	OQL_TIMEOUT_MS?: string;
	DATABASE_TIMEOUT_MS?: string;
	HEAVY_READS_PER_ORG?: string;
	HEAVY_READS_TOTAL?: string;
	OQL_MAX_MATCH_COST?: string;
	ORG_MAX_USERS?: string;
	ORG_MAX_TEAMS?: string;
	ORG_MAX_API_KEYS?: string;
	ORG_MAX_DASHBOARDS?: string;
	ORG_MAX_SAVED_QUERIES?: string;
	/** fatal, error, warn, info (default), debug, trace or silent: the app's JSON log lines on the console. */
	LOG_LEVEL?: string;
	KEY_CACHE?: KeyValueStore;
	/**
	 * A Cloudflare Queue producer binding: when bound, OTLP exports are decoded and validated here and
	 * their rows sent to this queue, whose consumer (`queue()` below) stores them (docs/scale-out.md).
	 */
	TELEMETRY_QUEUE?: TelemetryQueue;
	// Sharded instead (beyond one queue's 5,000 messages/s): producer bindings TELEMETRY_QUEUE_0 …
	// TELEMETRY_QUEUE_<N-1> (telemetryQueuesFrom), each org's exports on one of them by its id's hash.
	/**
	 * An R2 bucket binding (optional, with TELEMETRY_QUEUE): a row too large for a queue message (up
	 * to the export limit, OTLP_MAX_BODY_BYTES) is parked here and a pointer enqueued; the consumer
	 * reads it back and deletes it once stored. Without it such rows are rejected (partial success).
	 */
	TELEMETRY_SPILL?: SpillBucket;
	/**
	 * The dead-letter queues' names, comma-separated (default hexcovery-telemetry-dlq and the shards'
	 * hexcovery-telemetry-<n>-dlq): their batches are parked, not stored.
	 */
	TELEMETRY_DEAD_LETTER_QUEUE?: string;
	/** Seconds before a batch the store could not take is delivered again; doubles per attempt (default 5). */
	TELEMETRY_RETRY_BASE_SECONDS?: string;
	/**
	 * ClickHouse's HTTP interface (`https://host:8443`): telemetry is stored and queried there
	 * (`@clickhouse/client-web`; docs/scale-out.md, "Configuration"); unset, in libSQL.
	 */
	TELEMETRY_URL?: string;
	TELEMETRY_USER?: string;
	/** A secret (`wrangler secret put TELEMETRY_PASSWORD`). */
	TELEMETRY_PASSWORD?: string;
	TELEMETRY_DATABASE?: string;
}

/**
 * The producer's queues: TELEMETRY_QUEUE, or the shards TELEMETRY_QUEUE_0 … _N-1 (numbered from 0
 * without gaps; not both). None: direct writes.
 */
export function telemetryQueuesFrom(env: WorkerEnv): TelemetryQueues | undefined {
	// Shards are bindings named by number (wrangler.toml), not fields of WorkerEnv.
	const bindings = env as unknown as Record<string, TelemetryQueue | undefined>;
	const shards: TelemetryQueue[] = [];
	for (let i = 0; bindings[`TELEMETRY_QUEUE_${i}`]; i++)
		shards.push(bindings[`TELEMETRY_QUEUE_${i}`] as TelemetryQueue);
	for (const name of Object.keys(bindings)) {
		const match = /^TELEMETRY_QUEUE_(\d+)$/.exec(name);
		if (match && Number(match[1]) >= shards.length && bindings[name])
			throw new ConfigError(
				name,
				"invalid",
				`queue shards are TELEMETRY_QUEUE_0 … TELEMETRY_QUEUE_<N-1> without gaps; TELEMETRY_QUEUE_${shards.length} is missing`,
			);
	}
	if (shards.length === 0) return env.TELEMETRY_QUEUE;
	if (env.TELEMETRY_QUEUE)
		throw new ConfigError(
			"TELEMETRY_QUEUE",
			"invalid",
			"bind either TELEMETRY_QUEUE or the shards TELEMETRY_QUEUE_0 …, not both",
		);
	return shards.length === 1 ? shards[0] : shards;
}

/** See buildWorkerDeps: effectively no client-side queue. */
const LIBSQL_CONCURRENCY = 10_000;

/** Module scope lives as long as the isolate: the memory tier of the key cache and the built app. */
const keyMemory = createKeyMemoryCache(systemClock);
let built:
	| { env: WorkerEnv; app: ReturnType<typeof createApp>; deps: AppDeps; discovery: DiscoveryMemory }
	| { env: WorkerEnv; error: ConfigError }
	| undefined;

/** Validates the configuration once per isolate and builds the app; nothing is rebuilt per request. */
function appFor(
	env: WorkerEnv,
): { app: ReturnType<typeof createApp>; deps: AppDeps; discovery: DiscoveryMemory } | { error: ConfigError } {
	if (built?.env === env) return built;
	try {
		const deps = buildWorkerDeps(env);
		built = { env, app: createApp(deps), deps, discovery: new DiscoveryMemory(deps.clock) };
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		built = { env, error };
	}
	return built;
}

/** The Worker's deps from its bindings (exported for the bench, which composes its own app). */
export function buildWorkerDeps(env: WorkerEnv): AppDeps {
	const settings = env as Settings;
	const kv = env.KEY_CACHE;
	if (!kv) throw new ConfigError("KEY_CACHE", "missing", "bind a KV namespace");
	const url = requiredText(settings, "DATABASE_URL");
	const authToken = optionalText(settings, "DATABASE_AUTH_TOKEN", "");
	const jwt = jwtSettingsFrom(settings, requiredText(settings, "JWT_SIGNING_KEYS"));
	// Every remote call gets a deadline: a frozen database answers 503, never holds a request forever.
	const fetch = fetchWithDeadline(databaseTimeoutFrom(settings));
	let client: ReturnType<typeof createClient>;
	try {
		// One client serves every request of the isolate. Its default limit of 20 statements in flight
		// queues the rest, and a queued statement is then released from another request's context,
		// which workerd refuses: under load requests hang. So the limit is set above any real load.
		client = createClient({
			url,
			...(authToken ? { authToken } : {}),
			concurrency: LIBSQL_CONCURRENCY,
			fetch,
		});
	} catch {
		// The driver's message quotes the URL, which may carry a token: name the setting only.
		throw new ConfigError("DATABASE_URL", "invalid", "expected a libsql:, https: or wss: URL");
	}
	const config = {
		jwt,
		auth: authSettingsFrom(settings, requiredText(settings, "TOTP_ENCRYPTION_KEY")),
		otlp: otlpSettingsFrom(settings),
		heartbeats: heartbeatSettingsFrom(settings),
		oql: oqlSettingsFrom(settings),
		reads: readLimitsFrom(settings),
		orgLimits: orgLimitsFrom(settings),
	};
	const db = createDatabase(client);
	const telemetryQueue = telemetryQueuesFrom(env);
	// Telemetry in ClickHouse when TELEMETRY_URL is set. Workers do not migrate it: apply
	// clickhouse/migrations first (`npm run hexcovery -- clickhouse migrate`, or one Node start).
	const clickhouse = clickHouseSettingsFrom(settings);
	const telemetry =
		clickhouse &&
		clickHouseTelemetryStore({
			db,
			settings: clickhouse,
			client: createClickHouseClient({
				url: clickhouse.url,
				username: clickhouse.username,
				password: clickhouse.password,
				database: clickhouse.database,
				request_timeout: Math.max(30_000, config.oql.timeoutMs + 5_000),
				log: { level: ClickHouseLogLevel.OFF },
			}),
		});
	return assembleDeps({
		db,
		...(telemetry && { telemetry }),
		clock: systemClock,
		config,
		keyMemory,
		kv,
		// Workers Logs collects the console; a line per request is Cloudflare's own (no access log here).
		log: consoleLog(logLevelFrom(settings, "info")),
		clientAddress: (c) => c.req.header("CF-Connecting-IP") ?? null,
		...(telemetryQueue && { telemetryQueue }),
		...(telemetryQueue &&
			env.TELEMETRY_SPILL && {
				telemetrySpill: { bucket: env.TELEMETRY_SPILL, maxRowBytes: config.otlp.maxBodyBytes },
			}),
	});
}

function misconfigured(error: ConfigError): Response {
	const requestId = crypto.randomUUID();
	return Response.json(
		{ error: { code: "misconfigured", message: error.message, request_id: requestId } },
		{ status: 500, headers: { "X-Request-Id": requestId } },
	);
}

export default {
	async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
		const built = appFor(env);
		if ("error" in built) return misconfigured(built.error);
		return built.app.fetch(request, env, ctx);
	},

	/** The Cron Trigger (every minute, wrangler.toml): the shared sweep. */
	async scheduled(_controller: unknown, env: WorkerEnv, ctx: ExecutionContext): Promise<void> {
		const built = appFor(env);
		if ("error" in built) throw built.error;
		// A failed sweep is logged (with its cause) and still fails the event, so Cron Trigger history shows it.
		ctx.waitUntil(
			runSweep(built.deps).catch((error: unknown) => {
				built.deps.log({ level: "error", msg: "sweep failed", ...errorFields(error) });
				throw error;
			}),
		);
	},

	/**
	 * Queue consumers (wrangler.toml): the telemetry queue's batches are stored, the dead-letter
	 * queue's parked for `hexcovery queue dead-letters` / `queue replay` (src/ingest/queue.ts).
	 */
	async queue(batch: QueueBatch, env: WorkerEnv): Promise<void> {
		const built = appFor(env);
		if ("error" in built) throw built.error;
		const deps = {
			client: libsqlClientOf(built.deps.db),
			store: built.deps.telemetry,
			clock: built.deps.clock,
			discovery: built.discovery,
			log: built.deps.log,
			spill: env.TELEMETRY_SPILL,
			retryBaseSeconds: integerFrom(
				env as Settings,
				"TELEMETRY_RETRY_BASE_SECONDS",
				RETRY_BASE_SECONDS,
				0,
				300,
			),
		};
		if (isDeadLetterQueue(batch.queue, env.TELEMETRY_DEAD_LETTER_QUEUE)) {
			await parkDeadLetters(batch, deps);
		} else {
			await consumeTelemetry(batch, deps);
		}
	},
};
