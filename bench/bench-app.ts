import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { AppDeps, AppEnv } from "../src/app-env.js";
import { apiKeyOrSession, requireAccess } from "../src/auth/credentials.js";
import { LruCache } from "../src/auth/lru.js";
import { assembleDeps } from "../src/deps.js";
import { errorHandler, notFound } from "../src/errors.js";
import { authRoutes } from "../src/routes/auth.js";

/**
 * The bench app, for both runtimes: the same requestId and onError (and notFound) as `createApp`,
 * and one no-op JSON handler mounted four times — bare, and behind the real credential guard.
 * - `/noop`     (a) no auth
 * - `/key`      (b) `requireAccess(deps, apiKeyOrSession("viewer"))` with the runtime's real resolver (warm)
 * - `/key-cold` (c) the same guard over a resolver whose memory tier holds 1 entry and has no KV
 * - `/jwt`      (d) the same guard as (b), reached with `Authorization: Bearer <valid token>`
 * - `POST /api/v1/auth/login`: the real login route (timed one login at a time)
 */
export function createBenchApp(deps: AppDeps) {
	const cold = coldKeyDeps(deps);
	const guard = requireAccess(deps, apiKeyOrSession("viewer"));
	const app = new Hono<AppEnv>();
	app.use(requestId({ limitLength: 128 }));
	const noop = (c: { json: (body: unknown) => Response }) => c.json({ ok: true });
	app.get("/noop", noop);
	app.get("/key", guard, noop);
	app.get("/key-cold", requireAccess(cold, apiKeyOrSession("viewer")), noop);
	app.get("/jwt", guard, noop);
	// The real login route, for the login timings.
	app.route("/", authRoutes(deps));
	app.notFound(notFound);
	app.onError(errorHandler(deps.log));
	return app;
}

/** The runtime's deps with a key resolver that misses every time: memory of 1 entry, no KV. */
export function coldKeyDeps(deps: AppDeps): AppDeps {
	return assembleDeps({
		db: deps.db,
		clock: deps.clock,
		config: deps.config,
		keyMemory: new LruCache(1, deps.clock),
		log: deps.log,
		clientAddress: deps.clientAddress,
	});
}
