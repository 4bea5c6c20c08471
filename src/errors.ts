import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isStorageFailure } from "./db/errors.js";
import { errorFields, type Log } from "./log.js";

/** Every error code the API answers with (contract §1–§4). */
export type ErrorCode =
	| "invalid_request"
	| "not_found"
	| "method_not_allowed"
	| "conflict"
	| "monitor_limit_reached"
	| "channel_limit_reached"
	| "user_limit_reached"
	| "team_limit_reached"
	| "api_key_limit_reached"
	| "dashboard_limit_reached"
	| "saved_query_limit_reached"
	| "payload_too_large"
	| "unsupported_media_type"
	| "rate_limited"
	| "internal_error"
	| "unavailable"
	| "storage_unavailable"
	| "misconfigured"
	| "ambiguous_credentials"
	| "unsupported_authorization_scheme"
	| "api_key_in_bearer_slot"
	| "jwt_in_api_key_slot"
	| "invalid_api_key"
	| "invalid_token"
	| "token_expired"
	| "missing_credentials"
	| "session_required"
	| "api_key_required"
	| "insufficient_role"
	| "password_change_required"
	| "already_set_up"
	| "invalid_setup_token"
	| "invalid_credentials"
	| "totp_required"
	| "invalid_totp"
	| "too_many_attempts"
	| "refresh_token_reused"
	| "origin_not_allowed"
	| "totp_already_enabled"
	| "totp_not_enabled"
	| "last_owner"
	| "oql_syntax_error"
	| "oql_invalid_query"
	| "oql_range_too_large"
	| "query_timeout"
	| "version_conflict"
	| "not_owner";

export interface ErrorBody {
	error: {
		code: ErrorCode;
		message: string;
		request_id: string;
		details?: unknown;
		/** Where an OQL query went wrong (1-based line and column). */
		position?: { line: number; column: number };
	};
}

/** An error meant for the client: its status, code and message are sent as they are. */
export class ApiError extends Error {
	constructor(
		readonly status: ContentfulStatusCode,
		readonly code: ErrorCode,
		message: string,
		readonly options: {
			details?: unknown;
			headers?: Record<string, string>;
			position?: { line: number; column: number };
		} = {},
	) {
		super(message);
		this.name = "ApiError";
	}
}

export const WWW_AUTHENTICATE_BEARER = 'Bearer realm="hexcovery", error="invalid_token"';
export const WWW_AUTHENTICATE_API_KEY = 'ApiKey realm="hexcovery", header="X-API-Key"';

export function requestIdOf(c: Context): string {
	return (c.get("requestId") as string | undefined) ?? "unknown";
}

export function errorResponse(c: Context, error: ApiError): Response {
	const body: ErrorBody = {
		error: { code: error.code, message: error.message, request_id: requestIdOf(c) },
	};
	if (error.options.details !== undefined) body.error.details = error.options.details;
	if (error.options.position !== undefined) body.error.position = error.options.position;
	return c.json(body, error.status, error.options.headers);
}

/** Seconds a client should wait after a 503 `storage_unavailable`. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

/** A storage failure as the contract answers it on every route (§2): 503 with Retry-After, never 500. */
export function storageUnavailable(): ApiError {
	return new ApiError(
		503,
		"storage_unavailable",
		"The database is unavailable right now; nothing from this request was kept. Retry later.",
		{ headers: { "Retry-After": String(STORAGE_RETRY_AFTER_SECONDS) } },
	);
}

/**
 * The app's onError: ApiErrors go out as they are; a storage failure (src/db/errors.ts) is 503
 * `storage_unavailable`; anything else is logged with its request id and answered with a generic
 * 500, so no stack trace or SQL text ever reaches a client. The detail goes to `log`.
 */
export function errorHandler(log: Log): (err: Error, c: Context) => Response {
	return (err, c) => {
		if (err instanceof ApiError) return errorResponse(c, err);
		if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
		const storage = isStorageFailure(err);
		log({
			level: "error",
			msg: storage ? "storage unavailable" : "unexpected error",
			request_id: requestIdOf(c),
			// drizzle wraps the driver's error: the cause holds the reason (e.g. SQLITE_BUSY).
			...errorFields(err),
		});
		if (storage) return errorResponse(c, storageUnavailable());
		return errorResponse(c, new ApiError(500, "internal_error", "An unexpected error occurred."));
	};
}

/** Hono's own middleware (validators, body limit) throw HTTPException; give them the contract's shape. */
function fromHttpException(err: HTTPException): ApiError {
	switch (err.status) {
		case 400:
			return new ApiError(400, "invalid_request", err.message || "The request is malformed.");
		case 413:
			return new ApiError(413, "payload_too_large", "The request body is too large.");
		case 415:
			return new ApiError(415, "unsupported_media_type", "Unsupported content type.");
		default:
			return new ApiError(500, "internal_error", "An unexpected error occurred.");
	}
}

export function notFound(c: Context): Response {
	return errorResponse(c, new ApiError(404, "not_found", `No route for ${c.req.method} ${c.req.path}.`));
}
