/**
 * The Worker side of the bench, bundled by esbuild in bench/run.ts and run by Miniflare (workerd).
 * Deps are built as src/runtime/worker.ts builds them — `@libsql/client/web`, `assembleDeps` with a
 * module-scope memory key cache and the KEY_CACHE KV namespace — once per isolate.
 *
 * One deliberate difference, on by default: LIBSQL_CONCURRENCY, when bound, is passed to
 * `createClient` as `concurrency`. With the client's default (20), the 21st statement in flight in
 * the isolate waits in a queue that another request's completion releases; workerd cancels that
 * cross-request continuation ("A promise was resolved or rejected from a different request
 * context…") and the request hangs. See docs/performance.md.
 */
import { createClient } from "@libsql/client/web";
import type { ExecutionContext } from "hono";
import { createKeyMemoryCache, type KeyValueStore } from "../src/auth/key-resolver.js";
import { systemClock } from "../src/clock.js";
import { authSettingsFrom, jwtSettingsFrom, requiredText, type Settings } from "../src/config.js";
import { createDatabase } from "../src/db/client.js";
import { assembleDeps } from "../src/deps.js";
import { createBenchApp } from "./bench-app.js";

interface BenchEnv {
	DATABASE_URL: string;
	JWT_SIGNING_KEYS: string;
	TOTP_ENCRYPTION_KEY: string;
	KEY_CACHE: KeyValueStore;
	LIBSQL_CONCURRENCY?: string;
}

const keyMemory = createKeyMemoryCache(systemClock);
let app: ReturnType<typeof createBenchApp> | undefined;

function buildApp(env: BenchEnv): ReturnType<typeof createBenchApp> {
	const settings = env as unknown as Settings;
	const url = requiredText(settings, "DATABASE_URL");
	const concurrency = env.LIBSQL_CONCURRENCY ? Number(env.LIBSQL_CONCURRENCY) : undefined;
	const client = createClient(concurrency ? { url, concurrency } : { url });
	const config = {
		jwt: jwtSettingsFrom(settings, requiredText(settings, "JWT_SIGNING_KEYS")),
		auth: authSettingsFrom(settings, requiredText(settings, "TOTP_ENCRYPTION_KEY")),
	};
	return createBenchApp(
		assembleDeps({
			db: createDatabase(client),
			clock: systemClock,
			config,
			keyMemory,
			kv: env.KEY_CACHE,
			clientAddress: (c) => c.req.header("CF-Connecting-IP") ?? null,
		}),
	);
}

export default {
	fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Response | Promise<Response> {
		app ??= buildApp(env);
		return app.fetch(request, env, ctx);
	},
};
