import { swaggerUI } from "@hono/swagger-ui";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import type { AppDeps, AppEnv } from "./app-env.js";
import { ApiError, errorResponse, handleError, notFound } from "./errors.js";
import { registerSecuritySchemes, validationHook } from "./http/openapi.js";
import { annotationRoutes } from "./routes/annotations.js";
import { publicRoutes } from "./routes/public.js";

export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** Contract §1 tenancy: the credential decides the org, so a client-chosen org is refused outright. */
const rejectOrgIdInQuery: MiddlewareHandler<AppEnv> = async (c, next) => {
	if (c.req.query("org_id") !== undefined) {
		throw new ApiError(
			400,
			"invalid_request",
			"org_id cannot be set: the credential decides the organization.",
		);
	}
	await next();
};

/** JSON routes take JSON only: a body of another type is 415, not a confusing validation error. */
const requireJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
	if (BODY_METHODS.has(c.req.method)) {
		const type = c.req.header("Content-Type");
		const hasBody = c.req.header("Content-Length") !== "0" && (type !== undefined || c.req.raw.body !== null);
		if (hasBody && !JSON_MEDIA_TYPE.test(type ?? "")) {
			throw new ApiError(415, "unsupported_media_type", "Send the body as application/json.");
		}
	}
	await next();
};

const jsonBodyLimit = bodyLimit({
	maxSize: JSON_BODY_LIMIT_BYTES,
	onError: () => {
		throw new ApiError(413, "payload_too_large", "JSON bodies are limited to 1 MiB.");
	},
});

/** The one Hono app, for every runtime. It imports nothing runtime-specific: `deps` carries it all. */
export function createApp(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	app.use(requestId({ limitLength: 128 }));
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
	app.use("/api/*", rejectOrgIdInQuery, jsonBodyLimit, requireJsonBody);

	app.route("/", publicRoutes(deps));
	app.route("/api/v1/annotations", annotationRoutes(deps));

	registerSecuritySchemes(app);
	app.doc31("/api/v1/openapi.json", {
		openapi: "3.1.0",
		info: {
			title: "Hexcovery API",
			version: "1",
			description:
				'Observability at the edge. Two credentials in two slots: API keys in `X-API-Key` for the programmatic surface, JWT access tokens in `Authorization: Bearer` for the dashboard and management API. Errors share one shape: `{"error": {"code", "message", "request_id"}}`.',
		},
	});
	app.get("/docs", swaggerUI({ url: "/api/v1/openapi.json", title: "Hexcovery API reference" }));

	app.notFound(notFound);
	app.onError(handleError);
	return app;
}

export type App = ReturnType<typeof createApp>;
