import { createClient } from "@libsql/client/web";
import type { ExecutionContext } from "hono";
import { createApp } from "../app.js";
import type { AppDeps } from "../app-env.js";
import { createJwtVerifier } from "../auth/jwt.js";
import { createKeyMemoryCache, KeyResolver, type KeyValueStore } from "../auth/key-resolver.js";
import { createDbKeyStore } from "../auth/key-store.js";
import { systemClock } from "../clock.js";
import { ConfigError, jwtSettingsFrom, optionalText, requiredText, type Settings } from "../config.js";
import { createDatabase } from "../db/client.js";

/** The Worker's bindings (wrangler.toml and secrets). */
export interface WorkerEnv {
	DATABASE_URL?: string;
	DATABASE_AUTH_TOKEN?: string;
	JWT_SIGNING_KEYS?: string;
	JWT_ISSUER?: string;
	JWT_AUDIENCE?: string;
	KEY_CACHE?: KeyValueStore;
}

/** Module scope lives as long as the isolate: the memory tier of the key cache and the built app. */
const keyMemory = createKeyMemoryCache(systemClock);
let built:
	| { env: WorkerEnv; app: ReturnType<typeof createApp> }
	| { env: WorkerEnv; error: ConfigError }
	| undefined;

/** Validates the configuration once per isolate and builds the app; nothing is rebuilt per request. */
function appFor(env: WorkerEnv): { app: ReturnType<typeof createApp> } | { error: ConfigError } {
	if (built?.env === env) return built;
	try {
		built = { env, app: createApp(buildDeps(env)) };
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		built = { env, error };
	}
	return built;
}

function buildDeps(env: WorkerEnv): AppDeps {
	const settings = env as Settings;
	const kv = env.KEY_CACHE;
	if (!kv) throw new ConfigError("KEY_CACHE", "missing", "bind a KV namespace");
	const url = requiredText(settings, "DATABASE_URL");
	const authToken = optionalText(settings, "DATABASE_AUTH_TOKEN", "");
	const jwt = jwtSettingsFrom(settings, requiredText(settings, "JWT_SIGNING_KEYS"));
	const db = createDatabase(createClient(authToken ? { url, authToken } : { url }));
	return {
		db,
		clock: systemClock,
		config: { jwt },
		keyResolver: new KeyResolver({ store: createDbKeyStore(db), memory: keyMemory, kv, clock: systemClock }),
		verifyJwt: createJwtVerifier(jwt, systemClock),
	};
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

	/** The Cron Trigger. The sweep gains its tasks with heartbeats and retention; today it only checks config. */
	async scheduled(_controller: unknown, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
		const built = appFor(env);
		if ("error" in built) throw built.error;
	},
};
