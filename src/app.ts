import { OpenAPIHono } from "@hono/zod-openapi";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import type { AppDeps, AppEnv } from "./app-env.js";
import { ApiError, errorHandler, errorResponse, notFound } from "./errors.js";
import { accessLog } from "./http/access-log.js";
import {
	assignOperationIds,
	declareCommonErrors,
	registerSecuritySchemes,
	validationHook,
} from "./http/openapi.js";
import { securityHeaders } from "./http/security-headers.js";
import { clickHousePageBackend, libsqlPageBackend } from "./pages/backend.js";
import { annotationRoutes } from "./routes/annotations.js";
import { apiKeyRoutes } from "./routes/api-keys.js";
import { authRoutes } from "./routes/auth.js";
import { dashboardRoutes } from "./routes/dashboards.js";
import { dslRoutes } from "./routes/dsl.js";
import { heartbeatRoutes, pingBodyLimitHeader } from "./routes/heartbeat.js";
import { meRoutes } from "./routes/me.js";
import { monitorRoutes } from "./routes/monitors.js";
import { notificationChannelRoutes } from "./routes/notification-channels.js";
import { orgRoutes } from "./routes/org.js";
import { otlpRoutes } from "./routes/otlp.js";
import { pageRoutes } from "./routes/pages.js";
import { publicRoutes } from "./routes/public.js";
import { savedQueryRoutes } from "./routes/saved-queries.js";
import { teamRoutes } from "./routes/teams.js";
import { userRoutes } from "./routes/users.js";
import {
	API_REFERENCE_CSP,
	API_REFERENCE_HTML,
	API_REFERENCE_SCRIPT,
	API_REFERENCE_SCRIPT_PATH,
} from "./web/api-reference.js";

/** The one Hono app, for every runtime. It imports nothing runtime-specific: `deps` carries it all. */
export function createApp(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	// First, so it sees every answer: errors, 404s and 405s included.
	if (deps.accessLog) app.use(accessLog(deps.accessLog));
	app.use(securityHeaders);
	// A client's X-Request-Id is kept only when it is 1–128 characters of [A-Za-z0-9_=-] (Hono's
	// check); anything else (spaces, CR/LF, quotes, markup, longer) is replaced by a fresh UUID.
	app.use(requestId({ limitLength: 128 }));
	// Before methodNotAllowed, so the ping paths' 405s carry it too.
	app.use("/api/v1/heartbeat/*", pingBodyLimitHeader);
	app.use(
		methodNotAllowed({
			app,
			onMethodNotAllowed: (c, methods) =>
				errorResponse(
					c,
					new ApiError(
						405,
						"method_not_allowed",
						`${c.req.method} is not allowed here; use ${methods.join(", ")}.`,
						{
							headers: { Allow: methods.join(", ") },
						},
					),
				),
		}),
	);

	app.route("/", publicRoutes(deps));
	app.route("/", authRoutes(deps));
	app.route("/api/v1/me", meRoutes(deps));
	app.route("/api/v1/annotations", annotationRoutes(deps));
	app.route("/api/v1/dsl", dslRoutes(deps));
	app.route("/api/v1/api-keys", apiKeyRoutes(deps));
	app.route("/api/v1/users", userRoutes(deps));
	app.route("/api/v1/teams", teamRoutes(deps));
	app.route("/api/v1/org", orgRoutes(deps));
	app.route("/api/v1/saved-queries", savedQueryRoutes(deps));
	app.route("/api/v1/dashboards", dashboardRoutes(deps));
	// The pages read telemetry where it lives: ClickHouse when TELEMETRY_URL is set (docs/scale-out.md).
	const telemetryClickHouse = deps.telemetry.clickhouse;
	app.route(
		"/api/v1/pages",
		pageRoutes(
			deps,
			telemetryClickHouse ? clickHousePageBackend(telemetryClickHouse.client, deps) : libsqlPageBackend(deps),
		),
	);
	// OTLP at its standard paths (contract §5), answering errors as google.rpc.Status.
	app.route("/", otlpRoutes(deps));
	app.route("/api/v1/heartbeat", heartbeatRoutes(deps));
	app.route("/api/v1/monitors", monitorRoutes(deps));
	app.route("/api/v1/notification-channels", notificationChannelRoutes(deps));

	registerSecuritySchemes(app);
	assignOperationIds(app);
	declareCommonErrors(app);
	app.doc31("/api/v1/openapi.json", {
		openapi: "3.1.0",
		// Relative: the API is at the root of whichever origin serves this document.
		servers: [{ url: "/", description: "The server that serves this document" }],
		info: {
			title: "Hexcovery API",
			version: "1",
			license: { name: "Proprietary" },
			description:
				'Observability at the edge. Two credentials in two slots: API keys in `X-API-Key` for the programmatic surface, JWT access tokens in `Authorization: Bearer` for the dashboard and management API. Errors share one shape: `{"error": {"code", "message", "request_id"}}`. Any route answers 503 `storage_unavailable` with `Retry-After` when the database is unreachable, full or busy, and keeps nothing of that request.',
		},
	});
	// The API reference: Swagger UI from the app's own origin (src/web/api-reference.ts).
	app.get("/docs", (c) => {
		c.header("Content-Security-Policy", API_REFERENCE_CSP);
		c.header("Cache-Control", "no-cache");
		return c.html(API_REFERENCE_HTML);
	});
	app.get(API_REFERENCE_SCRIPT_PATH, (c) => {
		c.header("Cache-Control", "no-cache");
		return c.body(API_REFERENCE_SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8" });
	});

	app.notFound(notFound);
	app.onError(errorHandler(deps.log));
	return app;
}

export type App = ReturnType<typeof createApp>;
