import type { Context } from "hono";
import type { AccessTokenSigner, JwtVerifier, Role } from "./auth/jwt.js";
import type { KeyResolver } from "./auth/key-resolver.js";
import type { Clock } from "./clock.js";
import type { AppConfig } from "./config.js";
import type { Database } from "./db/client.js";
import type { WebhookTransport } from "./heartbeats/webhook-transport.js";
import type { SyncStatementWriter } from "./ingest/writer.js";

/** Everything the app needs from its runtime; each runtime (and each test) builds one. */
export interface AppDeps {
	db: Database;
	clock: Clock;
	config: AppConfig;
	keyResolver: KeyResolver;
	verifyJwt: JwtVerifier;
	signAccessToken: AccessTokenSigner;
	/** Node: OTLP rows written while decoding, over the embedded file (src/ingest/embedded-writer.ts). */
	otlpWriter?: SyncStatementWriter;
	/** How webhook deliveries leave (Node: resolved and checked at connect time); fetch when absent. */
	webhookTransport?: WebhookTransport;
	/** The caller's network address (login throttling); null when the runtime cannot tell. */
	clientAddress: (c: Context) => string | null;
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
