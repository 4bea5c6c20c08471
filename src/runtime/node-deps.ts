import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { dirname, join } from "node:path";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Client } from "@libsql/client";
import type { Context } from "hono";
import type { AppDeps } from "../app-env.js";
import { generateSigningKey } from "../auth/jwt.js";
import { createKeyMemoryCache } from "../auth/key-resolver.js";
import { type Clock, systemClock } from "../clock.js";
import {
	type AppConfig,
	authSettingsFrom,
	ConfigError,
	heartbeatSettingsFrom,
	jwtSettingsFrom,
	optionalText,
	oqlSettingsFrom,
	orgLimitsFrom,
	readLimitsFrom,
	readPoolSizeFrom,
	type Settings,
} from "../config.js";
import type { Database } from "../db/client.js";
import { openMigratedDatabase } from "../db/node.js";
import { openReaderPool } from "../db/reader-pool.js";
import { assembleDeps } from "../deps.js";
import { DEFAULT_ATTRIBUTE_LIMITS } from "../ingest/batch.js";
import {
	embeddedPathOf,
	MAX_WRITES_PER_GROUP,
	openEmbeddedWriter,
	WRITE_SYNC_MODES,
	type WriteSync,
} from "../ingest/embedded-writer.js";
import {
	DEFAULT_OTLP_SETTINGS,
	maxStoredCharsOf,
	otlpSettingsFrom,
	positiveInteger,
} from "../ingest/settings.js";
import { openWriterThread } from "../ingest/writer-thread.js";
import { consoleLog, type Log, logLevelFrom } from "../log.js";
import { clickHouseSettingsFrom } from "../telemetry/config.js";
import { openClickHouseTelemetry } from "../telemetry/node.js";
import { nodeWebhookTransport } from "./webhook-node.js";

export const DEFAULT_DATABASE_URL = "file:./data/hexcovery.db";

/** The per-process memory tier of the key resolver (Node's "isolate" is the process). */
const keyMemory = createKeyMemoryCache(systemClock);

/**
 * A secret from its setting, or else a development value kept in `<data dir>/<file>` and created on
 * first use. Never meant for production: the log says so every start.
 */
async function settingOrDevFile(
	settings: Settings,
	name: string,
	path: string,
	generate: () => Promise<string>,
	log: Log,
): Promise<string> {
	const configured = optionalText(settings, name, "");
	if (configured) return configured;
	if (!existsSync(path)) {
		mkdirSync(dirname(path), { recursive: true });
		writeFileSync(path, await generate(), { mode: 0o600 });
		log({ level: "warn", msg: `${name} is not set: generated a development value`, path });
	} else {
		log({ level: "warn", msg: `${name} is not set: using the development value`, path });
	}
	return readFileSync(path, "utf8").trim();
}

/** JWT_SIGNING_KEYS, or a development key in `<data dir>/jwt-keys.json`. */
export function signingKeysJson(settings: Settings, dataDir: string, log: Log): Promise<string> {
	return settingOrDevFile(
		settings,
		"JWT_SIGNING_KEYS",
		join(dataDir, "jwt-keys.json"),
		async () => `${JSON.stringify({ keys: [await generateSigningKey()] }, null, 2)}\n`,
		log,
	);
}

/** TOTP_ENCRYPTION_KEY, or a development key in `<data dir>/totp-key.txt`. */
export function totpKeyText(settings: Settings, dataDir: string, log: Log): Promise<string> {
	return settingOrDevFile(
		settings,
		"TOTP_ENCRYPTION_KEY",
		join(dataDir, "totp-key.txt"),
		async () => `${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}\n`,
		log,
	);
}

/**
 * The caller's address: the socket's peer, or — behind a reverse proxy — the last address of the
 * header named by CLIENT_ADDRESS_HEADER (e.g. X-Forwarded-For). The last one is what the proxy in
 * front of us added; those before it came from the client, which can write anything there (a
 * first-address rule let it pick a new address for every login guess).
 */
export function nodeClientAddress(settings: Settings): (c: Context) => string | null {
	const header = optionalText(settings, "CLIENT_ADDRESS_HEADER", "");
	return (c) => {
		if (header) {
			const last = c.req.header(header)?.split(",").at(-1)?.trim();
			if (last) return last;
		}
		try {
			return getConnInfo(c).remote.address ?? null;
		} catch {
			return null;
		}
	};
}

/**
 * A request's body straight from Node (AppDeps.requestBody): the IncomingMessage's chunks, left
 * open when a reader stops early (the HTTP adapter drains the rest after the answer), or null for
 * an HTTP/1 request that has none: one without a Content-Length above 0 or a Transfer-Encoding
 * (RFC 9112 §6.3; Node's parser reads no body then). Undefined without a Node request at hand.
 */
export function nodeRequestBody(c: Context): AsyncIterable<Uint8Array> | null | undefined {
	const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
	if (incoming?.httpVersionMajor !== 1) return undefined;
	const length = incoming.headers["content-length"];
	if (incoming.headers["transfer-encoding"] === undefined && (length === undefined || length === "0")) {
		return null;
	}
	return incoming.iterator({ destroyOnReturn: false });
}

export interface NodeDeps {
	deps: AppDeps;
	client: Client;
	/** How many migrations the database has applied (after this start's). */
	migrations: number;
}

/** Builds the Node runtime's deps: embedded libSQL (migrated), memory-only key cache, config from env. */
export async function buildNodeDeps(
	settings: Settings,
	options: { clock?: Clock; log?: Log; db?: { client: Client; db: Database } } = {},
): Promise<NodeDeps> {
	const clock = options.clock ?? systemClock;
	const log = options.log ?? consoleLog(logLevelFrom(settings, "info"));
	const databaseUrl = optionalText(settings, "DATABASE_URL", DEFAULT_DATABASE_URL);
	const dataDir = optionalText(settings, "DATA_DIR", "./data");
	// Checked before anything is opened: a bad TELEMETRY_URL stops the start at once.
	const clickhouse = clickHouseSettingsFrom(settings);
	const opened =
		options.db ??
		(await openMigratedDatabase(databaseUrl, optionalText(settings, "DATABASE_AUTH_TOKEN", "") || undefined));
	const config: AppConfig = {
		jwt: jwtSettingsFrom(settings, await signingKeysJson(settings, dataDir, log)),
		auth: authSettingsFrom(settings, await totpKeyText(settings, dataDir, log)),
		otlp: otlpSettingsFrom(settings),
		heartbeats: heartbeatSettingsFrom(settings),
		oql: oqlSettingsFrom(settings),
		reads: readLimitsFrom(settings),
		orgLimits: orgLimitsFrom(settings),
	};
	// Heavy reads run in reader processes over the same file (src/db/reader-pool.ts); an in-memory or
	// injected database, or READ_POOL_SIZE=0, keeps them on the main thread.
	const filePath = options.db ? null : embeddedPathOf(databaseUrl);
	const poolSize = readPoolSizeFrom(settings);
	// Telemetry in ClickHouse when TELEMETRY_URL is set (src/telemetry/store.ts); else in libSQL.
	const telemetry = clickhouse
		? await openClickHouseTelemetry(opened.db, clickhouse, { oqlTimeoutMs: config.oql?.timeoutMs ?? 10_000 })
		: undefined;
	if (clickhouse)
		log({
			level: "info",
			msg: "telemetry in ClickHouse",
			url: clickhouse.url,
			database: clickhouse.database,
		});
	const deps = assembleDeps({
		...(telemetry && { telemetry }),
		db: opened.db,
		clock,
		config,
		keyMemory,
		log,
		clientAddress: nodeClientAddress(settings),
		requestBody: nodeRequestBody,
		...(filePath && poolSize > 0 && { readExecutor: openReaderPool(filePath, { size: poolSize, log }) }),
	});
	// Webhooks resolve their host name and refuse private addresses at connect time.
	deps.webhookTransport = nodeWebhookTransport({
		allowPrivate: config.heartbeats?.allowPrivateWebhookTargets ?? false,
	});
	// OTLP rows and pings go through a group-commit writer on the same file (src/ingest/embedded-writer.ts).
	// By default in a thread of its own (src/ingest/writer-thread.ts), WRITER_THREAD=off: on the event loop.
	if (filePath) {
		const writerOptions = {
			maxWritesPerGroup: positiveInteger(settings, "WRITE_GROUP_MAX", MAX_WRITES_PER_GROUP),
			sync: writeSyncFrom(settings),
		};
		if (writerThreadFrom(settings)) {
			deps.writerThread = openWriterThread(filePath, {
				...writerOptions,
				attributeLimits: config.otlp?.attributeLimits ?? DEFAULT_ATTRIBUTE_LIMITS,
				maxStoredChars: maxStoredCharsOf(config.otlp ?? DEFAULT_OTLP_SETTINGS),
				log,
			});
			await deps.writerThread.ready;
		} else {
			deps.writer = openEmbeddedWriter(filePath, writerOptions);
		}
	}
	const applied = await opened.client
		.execute("SELECT count(*) AS n FROM __drizzle_migrations")
		.then((result) => Number(result.rows[0]?.n ?? 0))
		.catch(() => 0);
	return { deps, client: opened.client, migrations: applied };
}

/** WRITER_THREAD: `on` (default) runs the writer in its own thread, `off` on the event loop. */
export function writerThreadFrom(settings: Settings): boolean {
	const raw = optionalText(settings, "WRITER_THREAD", "on");
	if (raw !== "on" && raw !== "off") throw new ConfigError("WRITER_THREAD", "invalid", "expected on or off");
	return raw === "on";
}

/** WRITE_SYNC: how a group commit is made durable (src/ingest/embedded-writer.ts); "wal-fsync" by default. */
export function writeSyncFrom(settings: Settings): WriteSync {
	const raw = optionalText(settings, "WRITE_SYNC", "wal-fsync");
	if (!(WRITE_SYNC_MODES as readonly string[]).includes(raw))
		throw new ConfigError("WRITE_SYNC", "invalid", `expected one of ${WRITE_SYNC_MODES.join(", ")}`);
	return raw as WriteSync;
}
