import type { Hook } from "@hono/zod-openapi";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../errors.js";

export const ErrorSchema = z
	.object({
		error: z.object({
			code: z.string().openapi({ example: "invalid_request" }),
			message: z.string(),
			request_id: z.string(),
			details: z.unknown().optional(),
			position: z
				.object({ line: z.number().int(), column: z.number().int() })
				.optional()
				.openapi({ description: "OQL errors: where in the query (1-based)" }),
		}),
	})
	.openapi("Error");

const errorContent = { "application/json": { schema: ErrorSchema } };

/** Error responses every protected route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
	const descriptions: Record<number, string> = {
		400: "Invalid request (`invalid_request`, `ambiguous_credentials`)",
		401: "No valid credential (`missing_credentials`, `invalid_api_key`, `invalid_token`, `token_expired`, …)",
		403: "Credential not allowed here (`session_required`, `api_key_required`, `insufficient_role`)",
		404: "Not found, or another org's resource (`not_found`)",
		405: "Method not allowed (`method_not_allowed`, with `Allow`)",
		409: "Conflict",
		413: "Body over 1 MiB (`payload_too_large`)",
		415: "Body is not JSON (`unsupported_media_type`)",
		429: "Too many heavy reads in flight for the org or the server (`rate_limited`, with `Retry-After`)",
		503: "Temporarily unavailable (`unavailable`, `storage_unavailable`, `query_timeout`, with `Retry-After`); nothing of the request was kept",
	};
	return Object.fromEntries(
		statuses.map((status) => [
			status,
			{ description: descriptions[status] ?? "Error", content: errorContent },
		]),
	);
}

export const apiKeyOrBearerSecurity: Record<string, string[]>[] = [{ ApiKey: [] }, { Bearer: [] }];

/** Validation failures become 400 `invalid_request` with the problems listed per field. */
// biome-ignore lint/suspicious/noExplicitAny: the hook serves every route, whatever its env and input
export const validationHook: Hook<any, any, any, any> = (result) => {
	if (result.success) return;
	const details = result.error.issues.map((issue) => ({
		path: issue.path.join("."),
		message: issue.message,
	}));
	throw new ApiError(400, "invalid_request", "The request is invalid.", { details });
};

// biome-ignore lint/suspicious/noExplicitAny: registration does not depend on the app's env
export function registerSecuritySchemes(app: OpenAPIHono<any>): void {
	app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
		type: "apiKey",
		in: "header",
		name: "X-API-Key",
		description: "An API key (`hxk_…`) for agents, CI, scripts and OpenTelemetry exporters.",
	});
	app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description: "A 15-minute access token from POST /api/v1/auth/login.",
	});
}

/**
 * `getAnnotationsById` for `GET /api/v1/annotations/{id}`: the method, then each path segment
 * after `/api/v1` in PascalCase, a parameter as `By<Name>`. Derived rather than written on 79
 * routes, so every operation has one, it is unique (method + path are), and a reader can tell it
 * from the route (`postV1Traces`, `postHeartbeatBySlugByExitCode`, `getWellKnownJwksJson`).
 */
export function operationIdFor(method: string, path: string): string {
	const words = path
		.replace(/^\/api\/v1(?=\/|$)/, "")
		.split("/")
		.flatMap((segment) => {
			const param = /^\{(.+)\}$/.exec(segment);
			return param ? ["by", ...(param[1] as string).split(/[^A-Za-z0-9]+/)] : segment.split(/[^A-Za-z0-9]+/);
		})
		.filter((word) => word !== "");
	return method.toLowerCase() + words.map((word) => word[0]?.toUpperCase() + word.slice(1)).join("");
}

/**
 * Gives every route in the app's registry its `operationId` (a route that sets one keeps it).
 * Call it once, after every router is mounted: mounting copies the routers' definitions with
 * their full paths into the app's registry, which the document is generated from.
 */
// biome-ignore lint/suspicious/noExplicitAny: registration does not depend on the app's env
export function assignOperationIds(app: OpenAPIHono<any>): void {
	const owners = new Map<string, string>();
	for (const definition of app.openAPIRegistry.definitions) {
		if (definition.type !== "route") continue;
		const { route } = definition;
		route.operationId ??= operationIdFor(route.method, route.path);
		const where = `${route.method.toUpperCase()} ${route.path}`;
		const owner = owners.get(route.operationId);
		if (owner !== undefined && owner !== where) {
			throw new Error(`operationId ${route.operationId} is used by both ${owner} and ${where}`);
		}
		owners.set(route.operationId, where);
	}
}

/**
 * The errors every route of a kind can answer, declared where a route left them out (a security
 * review found 400 missing on GET /api/v1/me and 413/415 on PATCH /api/v1/me): a route that takes a
 * credential can answer 400 (`ambiguous_credentials`, `org_id` in the query) and 401; one with a
 * JSON body 400, 413 and 415. OTLP's routes (`/v1/…`) answer as OTLP requires and declare their own.
 */
// biome-ignore lint/suspicious/noExplicitAny: registration does not depend on the app's env
export function declareCommonErrors(app: OpenAPIHono<any>): void {
	for (const definition of app.openAPIRegistry.definitions) {
		if (definition.type !== "route" || definition.route.path.startsWith("/v1/")) continue;
		const { route } = definition;
		const missing = (statuses: number[]) => statuses.filter((status) => !(String(status) in route.responses));
		const statuses = [
			...((route.security ?? []).length > 0 ? [400, 401] : []),
			...(route.request?.body &&
			"content" in route.request.body &&
			route.request.body.content["application/json"]
				? [400, 413, 415]
				: []),
		];
		Object.assign(route.responses, errorResponses(...new Set(missing(statuses))));
	}
}

/**
 * A number in a query string, written as one: decimal digits (and with `fraction`, a decimal point)
 * only. `z.coerce` took "0x10", " 10 " and "1e3" as 16, 10 and 1000. Anything else stays text,
 * which the number schema refuses (400).
 */
export function queryNumber(fraction = false) {
	const written = fraction ? /^\d{1,15}(\.\d{1,9})?$/ : /^\d{1,15}$/;
	return (value: unknown) => (typeof value === "string" && written.test(value) ? Number(value) : value);
}

/** `limit` and `cursor`, the same on every keyset-paginated list (default 100, max 1,000). */
export const pageQueryShape = {
	limit: z.preprocess(queryNumber(), z.number().int().min(1).max(1000)).default(100),
	// Empty is the first page, as on the pages' lists (it was a 400 "the cursor is invalid" here).
	cursor: z
		.preprocess((value) => (value === "" ? undefined : value), z.string().max(200).optional())
		.openapi({ description: "`next_cursor` from the previous page; empty or left out: the first page" }),
};

/** One id-like path parameter (1–64 characters; `example` is a typical value). */
export function pathParam(name: string, example?: string) {
	return z
		.string()
		.min(1)
		.max(64)
		.openapi({ param: { name, in: "path" }, ...(example ? { example } : {}) });
}

/** The `:id` path parameter of a resource. */
export function idParams(example?: string) {
	return z.object({ id: pathParam("id", example) });
}
