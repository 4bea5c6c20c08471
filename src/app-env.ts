import type { Context } from "hono";
import type { AccessTokenSigner, JwtVerifier, Role } from "./auth/jwt.js";
import type { KeyResolver } from "./auth/key-resolver.js";
import type { Clock } from "./clock.js";
import type { AppConfig } from "./config.js";
import type { Database } from "./db/client.js";
import type { HeavyReads } from "./db/reads.js";
import type { WebhookTransport } from "./heartbeats/webhook-transport.js";
import type { AccessLogEntry } from "./http/access-log.js";
import type { BodySource } from "./http/body-source.js";
import type { TelemetryQueues, TelemetrySpill } from "./ingest/queue.js";
import type { GroupCommitWriter } from "./ingest/writer.js";
import type { WriterThread } from "./ingest/writer-thread.js";
import type { Log } from "./log.js";
import type { TelemetryStore } from "./telemetry/store.js";

/** Everything the app needs from its runtime; each runtime (and each test) builds one. */
export interface AppDeps {
	db: Database;
	/**
	 * Where telemetry is written, queried with OQL and expired: libSQL (`db`, the default) or
	 * ClickHouse (TELEMETRY_URL); src/telemetry/store.ts.
	 */
	telemetry: TelemetryStore;
	/** Heavy reads (pages, OQL, dashboards, schema): limited, with a deadline, off the event loop on Node. */
	reads: HeavyReads;
	clock: Clock;
	config: AppConfig;
	/** The app's own log lines (src/log.ts): errors behind a 500/503, warnings, background failures. */
	log: Log;
	keyResolver: KeyResolver;
	verifyJwt: JwtVerifier;
	signAccessToken: AccessTokenSigner;
	/**
	 * Node: the embedded file's group-commit writer (src/ingest/embedded-writer.ts). OTLP rows and
	 * heartbeat pings go through it; without it (Workers, tests over a plain client) they use `db`.
	 */
	writer?: GroupCommitWriter;
	/**
	 * Node (the server's default): the same writer in its own thread (src/ingest/writer-thread.ts);
	 * OTLP exports and pings go there instead of `writer`. WRITER_THREAD=off keeps it on the event loop.
	 */
	writerThread?: WriterThread;
	/**
	 * Workers with a TELEMETRY_QUEUE binding: OTLP rows go to this queue and its consumer stores them
	 * (src/ingest/queue.ts, docs/scale-out.md); without it they are written directly.
	 */
	telemetryQueue?: TelemetryQueues;
	/**
	 * Workers with a TELEMETRY_SPILL (R2) binding next to the queue: a row too large for a queue
	 * message is parked there and a pointer enqueued (docs/scale-out.md); without it, rejected.
	 */
	telemetrySpill?: TelemetrySpill;
	/** How webhook deliveries leave (Node: resolved and checked at connect time); fetch when absent. */
	webhookTransport?: WebhookTransport;
	/** Where the access log goes, one entry per request (the Node server's logger); none when absent. */
	accessLog?: (entry: AccessLogEntry) => void;
	/** The caller's network address (login throttling); null when the runtime cannot tell. */
	clientAddress: (c: Context) => string | null;
	/**
	 * The request body from the runtime itself, where that is cheaper than `Request.body`: Node's
	 * IncomingMessage as chunks (no Request, web stream or abort signal is built), or null when an
	 * HTTP/1 request has none (neither Content-Length above 0 nor Transfer-Encoding). Absent, or
	 * undefined returned: routes read `Request.body` (src/http/body-source.ts).
	 */
	requestBody?: (c: Context) => BodySource | null | undefined;
}

/** Who is calling, once the credential middleware has accepted a credential. */
export type Principal =
	| { kind: "api_key"; orgId: string; keyId: string; name: string }
	| { kind: "user"; orgId: string; userId: string; role: Role; passwordChangeRequired: boolean };

export type AppEnv = {
	Variables: {
		requestId: string;
		principal: Principal;
	};
};
