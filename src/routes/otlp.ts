import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "../app-env.js";
import { apiKeyOnly, authenticate, authorize } from "../auth/credentials.js";
import { isStorageFailure } from "../db/errors.js";
import { ApiError, requestIdOf, storageUnavailable } from "../errors.js";
import { bodySourceOf } from "../http/body-source.js";
import { STORED_SIZE_PER_BODY_BYTE } from "../ingest/batch.js";
import { BodyTooLarge, contentEncodingOf, readOtlpBody } from "../ingest/body.js";
import { ByteBudget, BytesInFlight } from "../ingest/byte-budget.js";
import { DecodeError } from "../ingest/decode-error.js";
import { OtlpIngest, StorageUnavailable } from "../ingest/ingest.js";
import {
	CONTENT_TYPES,
	encodeStatus,
	exportResponse,
	GRPC_CODES,
	type OtlpFormat,
	type RpcStatus,
	SIGNALS,
	type Signal,
	type StatusDetail,
} from "../ingest/messages.js";
import { DEFAULT_OTLP_SETTINGS, maxStoredCharsOf } from "../ingest/settings.js";
import { errorFields, type Log } from "../log.js";

/** Seconds a client should wait after a 429 (too many requests in flight); a 503 waits STORAGE_RETRY_AFTER_SECONDS. */
export const RETRY_AFTER_SECONDS = { rateLimited: 1 };

const MESSAGE_NAMES: Record<Signal, string> = { traces: "Trace", logs: "Logs", metrics: "Metrics" };

/** The format of a Content-Type, or null (415). Parameters such as charset are allowed. */
export function otlpFormatOf(contentType: string | undefined): OtlpFormat | null {
	const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
	if (mediaType === CONTENT_TYPES.protobuf) return "protobuf";
	if (mediaType === CONTENT_TYPES.json) return "json";
	return null;
}

/** The gRPC code an HTTP failure corresponds to (it is also the Status.code of the body). */
export function grpcCodeForHttpStatus(status: number): number {
	switch (status) {
		case 400:
		case 415:
			return GRPC_CODES.INVALID_ARGUMENT;
		case 401:
			return GRPC_CODES.UNAUTHENTICATED;
		case 403:
			return GRPC_CODES.PERMISSION_DENIED;
		case 413:
		case 429:
			return GRPC_CODES.RESOURCE_EXHAUSTED;
		case 503:
			return GRPC_CODES.UNAVAILABLE;
		default:
			return GRPC_CODES.INTERNAL;
	}
}

/** Every failure of the pipeline, as the ApiError the contract names for it. */
function toApiError(error: unknown, c: Context, log: Log): ApiError {
	if (error instanceof ApiError) return error;
	if (error instanceof BodyTooLarge) return new ApiError(413, "payload_too_large", error.message);
	if (error instanceof DecodeError) {
		return new ApiError(
			400,
			"invalid_request",
			error.summary ?? `The body cannot be decoded: ${error.message}`,
			{
				details: { field: error.field, description: error.description },
			},
		);
	}
	const storage = error instanceof StorageUnavailable || isStorageFailure(error);
	log({
		level: "error",
		msg: storage ? "OTLP write failed" : "OTLP export failed",
		request_id: requestIdOf(c),
		...errorFields(error),
	});
	if (storage) return storageUnavailable();
	return new ApiError(500, "internal_error", "An unexpected error occurred.");
}

/** The contract's error, as the google.rpc.Status OTLP requires, in the request's format. */
function statusResponse(c: Context, error: ApiError, format: OtlpFormat): Response {
	const details: StatusDetail[] = [
		{
			type: "ErrorInfo",
			reason: error.code.toUpperCase(),
			domain: "hexcovery",
			metadata: { request_id: requestIdOf(c) },
		},
	];
	const violation = error.options.details as { field?: unknown; description?: unknown } | undefined;
	if (typeof violation?.field === "string" && typeof violation.description === "string") {
		details.push({
			type: "BadRequest",
			violations: [{ field: violation.field, description: violation.description }],
		});
	}
	const retryAfter = error.options.headers?.["Retry-After"];
	if (retryAfter !== undefined) details.push({ type: "RetryInfo", seconds: Number(retryAfter) });
	const status: RpcStatus = { code: grpcCodeForHttpStatus(error.status), message: error.message, details };
	return c.body(encodeStatus(status, format) as string, error.status, {
		...error.options.headers,
		"Content-Type": CONTENT_TYPES[format],
	});
}

const tooManyBytesInFlight = () =>
	new ApiError(
		429,
		"rate_limited",
		"The server holds as many export bytes as it may at once; retry shortly.",
		{
			headers: { "Retry-After": String(RETRY_AFTER_SECONDS.rateLimited) },
		},
	);

async function handleExport(
	c: Context<AppEnv>,
	deps: AppDeps,
	ingest: OtlpIngest,
	budget: ByteBudget,
	inFlight: BytesInFlight,
	signal: Signal,
	maxBodyBytes: number,
) {
	const format = otlpFormatOf(c.req.header("Content-Type"));
	// An unsupported type has no format of its own to answer in: JSON is the readable one.
	const answerAs = format ?? "json";
	let release: (() => void) | null = null;
	let held: ReturnType<BytesInFlight["take"]> = null;
	try {
		const principal = await authenticate(c, deps);
		authorize(principal, apiKeyOnly);
		if (c.req.query("org_id") !== undefined) {
			throw new ApiError(
				400,
				"invalid_request",
				"org_id cannot be set: the API key decides the organization.",
			);
		}
		// As requireAccess does: the access log names the org and the kind of credential.
		c.set("principal", principal);
		if (!format) {
			throw new ApiError(415, "unsupported_media_type", "Send application/x-protobuf or application/json.");
		}
		const encoding = contentEncodingOf(c.req.header("Content-Encoding"));
		if (!encoding) {
			throw new ApiError(415, "unsupported_media_type", "Content-Encoding must be gzip, deflate or none.");
		}
		// A declared size over the limit is refused before the slots and the budget: a 429 would have
		// the client retry what can never be taken.
		const declared = Number(c.req.header("Content-Length") ?? 0);
		if (declared > maxBodyBytes) throw new BodyTooLarge(maxBodyBytes);
		release = ingest.acquire(principal.orgId);
		if (!release) {
			throw new ApiError(
				429,
				"rate_limited",
				"Too many export requests of this organization in flight; retry shortly.",
				{
					headers: { "Retry-After": String(RETRY_AFTER_SECONDS.rateLimited) },
				},
			);
		}
		// All orgs' bytes in flight: the declared size before the body is read, its real size after.
		held = inFlight.take(Number.isSafeInteger(declared) && declared > 0 ? declared : 0);
		if (!held) throw tooManyBytesInFlight();
		// The org's byte budget: the declared size up front, the rest (decompression) once read.
		const reserved = Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
		const wait = budget.reserve(principal.orgId, reserved);
		if (wait !== null) {
			throw new ApiError(
				429,
				"rate_limited",
				"This organization is sending more export bytes than its budget allows; retry after the delay.",
				{ headers: { "Retry-After": String(wait) } },
			);
		}
		const body = await readOtlpBody(
			c.req.raw,
			encoding,
			maxBodyBytes,
			bodySourceOf(c.req.raw, deps.requestBody?.(c)),
		);
		budget.charge(principal.orgId, body.byteLength - reserved);
		if (!held.resize(body.byteLength)) throw tooManyBytesInFlight();
		const { partial, storedChars } = await ingest.export(principal.orgId, signal, format, body);
		// An export counts as the larger of its body and its rows' stored size over the usual expansion
		// (resource attributes repeated on every record): the budget bounds what an org stores per
		// second too, not only what it sends.
		budget.charge(principal.orgId, Math.ceil(storedChars / STORED_SIZE_PER_BODY_BYTE) - body.byteLength);
		if (partial?.misrouted) {
			deps.log({
				level: "warn",
				msg: "OTLP export stored nothing: it belongs to another endpoint",
				request_id: requestIdOf(c),
				org_id: principal.orgId,
				path: `/v1/${signal}`,
				looks_like: partial.misrouted.signal ?? `${signal} with snake_case field names`,
			});
		}
		return c.body(exportResponse(signal, format, partial) as string, 200, {
			"Content-Type": CONTENT_TYPES[format],
		});
	} catch (error) {
		return statusResponse(c, toApiError(error, c, deps.log), answerAs);
	} finally {
		held?.release();
		release?.();
	}
}

const ExportBody = z.string().openapi({ format: "binary" });

/**
 * OTLP/HTTP (contract §5): `POST /v1/traces`, `/v1/logs`, `/v1/metrics` at the standard paths, so an
 * OpenTelemetry SDK or Collector needs only the base URL and the `X-API-Key` header. API keys only.
 */
export function otlpRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>();
	const settings = deps.config.otlp ?? DEFAULT_OTLP_SETTINGS;
	const ingest = new OtlpIngest(
		deps,
		settings.maxConcurrentPerOrg,
		settings.attributeLimits,
		maxStoredCharsOf(settings),
	);
	const budget = new ByteBudget(
		deps.clock,
		settings.orgBytesPerSecond,
		Math.max(settings.orgByteBurst, settings.maxBodyBytes),
	);
	const inFlight = new BytesInFlight(Math.max(settings.maxBytesInFlight, settings.maxBodyBytes));
	for (const signal of SIGNALS) {
		const name = MESSAGE_NAMES[signal];
		app.openAPIRegistry.registerPath({
			method: "post",
			path: `/v1/${signal}`,
			tags: ["OTLP"],
			summary: `OTLP/HTTP ${signal} export`,
			description:
				`An \`Export${name}ServiceRequest\` as protobuf or OTLP JSON, optionally with \`Content-Encoding: gzip\` ` +
				"(or deflate). The answer has the request's content type: `Export" +
				`${name}ServiceResponse\` (with \`partial_success\` when items were rejected), or a \`google.rpc.Status\` on failure. ` +
				"A JSON body that carries another signal's export and nothing of its own stores nothing and answers 200 with a warning in `partial_success` (0 rejected); a protobuf body that decodes as another signal's export, or JSON sent as protobuf, answers 400 saying so. " +
				"Limits and rules: docs/otlp.md.",
			security: [{ ApiKey: [] }],
			request: {
				body: {
					required: true,
					content: {
						"application/x-protobuf": { schema: ExportBody },
						"application/json": { schema: z.object({}) },
					},
				},
			},
			responses: {
				200: { description: `Stored (all, or all but the rejected items): \`Export${name}ServiceResponse\`` },
				400: {
					description:
						"Undecodable body (`google.rpc.Status` with BadRequest), including another signal's protobuf export or JSON sent as protobuf (the message says which)",
				},
				401: { description: "No valid API key" },
				403: { description: "A JWT instead of an API key (`API_KEY_REQUIRED`)" },
				413: {
					description:
						"Body over the limit, before or after decompression; or its records, as stored (resource attributes repeated on every record), over 4× that limit",
				},
				415: { description: "Content-Type or Content-Encoding not supported" },
				429: {
					description:
						"Too many requests of the org in flight, over its byte budget, or the server holding OTLP_MAX_BYTES_IN_FLIGHT of all orgs' exports (`Retry-After`)",
				},
				503: { description: "Storage unavailable, nothing stored (`Retry-After`)" },
			},
		});
		app.post(`/v1/${signal}`, (c) =>
			handleExport(c, deps, ingest, budget, inFlight, signal, settings.maxBodyBytes),
		);
	}
	return app;
}
