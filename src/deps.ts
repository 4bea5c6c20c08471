import type { Client } from "@libsql/client";
import type { Context } from "hono";
import type { AppDeps } from "./app-env.js";
import { createJwtSigner, createJwtVerifier } from "./auth/jwt.js";
import { KeyResolver, type KeyStore, type KeyValueStore } from "./auth/key-resolver.js";
import { createDbKeyStore } from "./auth/key-store.js";
import type { Clock } from "./clock.js";
import type { AppConfig } from "./config.js";
import type { Database } from "./db/client.js";
import { DEFAULT_READ_LIMITS, directReadExecutor, HeavyReads, type ReadExecutor } from "./db/reads.js";
import type { Log } from "./log.js";
import { libsqlTelemetryStore, type TelemetryStore } from "./telemetry/store.js";

/** The one way every runtime (and every test) turns its parts into the app's deps. */
export function assembleDeps(parts: {
	db: Database;
	clock: Clock;
	config: AppConfig;
	/** The per-isolate memory tier, kept at module scope by the runtime. */
	keyMemory: ConstructorParameters<typeof KeyResolver>[0]["memory"];
	kv?: KeyValueStore | undefined;
	/** Where the app's own log lines go (src/log.ts): the runtime's logger, or a test's. */
	log: Log;
	/** Where heavy reads run; by default on the database's own client (src/db/reads.ts). */
	readExecutor?: ReadExecutor;
	keyStore?: KeyStore;
	clientAddress?: (c: Context) => string | null;
	requestBody?: AppDeps["requestBody"];
	telemetryQueue?: AppDeps["telemetryQueue"];
	telemetrySpill?: AppDeps["telemetrySpill"];
	/** Where telemetry lives; the app's libSQL database when absent. */
	telemetry?: TelemetryStore;
}): AppDeps {
	return {
		db: parts.db,
		telemetry: parts.telemetry ?? libsqlTelemetryStore(parts.db),
		reads: new HeavyReads(
			parts.readExecutor ?? directReadExecutor((parts.db as Database & { $client: Client }).$client),
			parts.config.reads ?? DEFAULT_READ_LIMITS,
		),
		clock: parts.clock,
		config: parts.config,
		log: parts.log,
		keyResolver: new KeyResolver({
			store: parts.keyStore ?? createDbKeyStore(parts.db),
			memory: parts.keyMemory,
			kv: parts.kv,
			clock: parts.clock,
			log: parts.log,
		}),
		verifyJwt: createJwtVerifier(parts.config.jwt, parts.clock),
		signAccessToken: createJwtSigner(parts.config.jwt, parts.clock),
		clientAddress: parts.clientAddress ?? (() => null),
		...(parts.requestBody && { requestBody: parts.requestBody }),
		...(parts.telemetryQueue && { telemetryQueue: parts.telemetryQueue }),
		...(parts.telemetrySpill && { telemetrySpill: parts.telemetrySpill }),
	};
}
