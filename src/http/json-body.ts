import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { every } from "hono/combine";
import { ApiError } from "../errors.js";

export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/** A body of another type is 415, not a confusing validation error. */
const requireJsonType: MiddlewareHandler = async (c, next) => {
	const type = c.req.header("Content-Type");
	const hasBody = c.req.header("Content-Length") !== "0" && (type !== undefined || c.req.raw.body !== null);
	if (hasBody && !JSON_MEDIA_TYPE.test(type ?? "")) {
		throw new ApiError(415, "unsupported_media_type", "Send the body as application/json.");
	}
	await next();
};

const jsonBodyLimit = bodyLimit({
	maxSize: JSON_BODY_LIMIT_BYTES,
	onError: () => {
		throw new ApiError(413, "payload_too_large", "JSON bodies are limited to 1 MiB.");
	},
});

/**
 * For routes that take a JSON body (contract §2): JSON only (415) and at most 1 MiB (413). Declared on
 * the route, after its credential guard, so unknown paths still answer 404 and wrong methods 405.
 */
export const jsonBody: MiddlewareHandler = every(requireJsonType, jsonBodyLimit);
