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
	// JSON routes read the body as sent: a compressed one was parsed as text (400 "unexpected
	// token"), and an unknown coding was taken as if there were none.
	const encoding = c.req.header("Content-Encoding")?.trim().toLowerCase();
	if (hasBody && encoding && encoding !== "identity") {
		throw new ApiError(
			415,
			"unsupported_media_type",
			"JSON bodies are read as sent: leave out Content-Encoding (only OTLP takes gzip or deflate).",
		);
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
 * A body that does not parse gets a 400 that says where (line and column, 1-based, also in
 * `error.position`) and an empty one says it is empty, instead of a bare "malformed JSON". The
 * text read here is cached by Hono, so the route's validator parses the same bytes. Where the body
 * is optional (`required: false` in the route's OpenAPI), an empty or all-blank body is no body:
 * the request goes on without it (and without its Content-Type), as if none had been sent.
 */
function requireParsableJson(optional: boolean): MiddlewareHandler {
	return async (c, next) => {
		if (!JSON_MEDIA_TYPE.test(c.req.header("Content-Type") ?? "")) return next();
		const text = await c.req.text();
		if (text.trim() === "") {
			if (!optional) {
				throw new ApiError(400, "invalid_request", "The request body is empty; send a JSON object.");
			}
			c.req.raw = withoutBody(c.req.raw);
			return next();
		}
		try {
			JSON.parse(text);
		} catch (error) {
			throw malformedJson(text, error instanceof Error ? error.message : "");
		}
		const refusal = bodyRefusal(text);
		if (refusal) throw refusal;
		await next();
	};
}

/** The same request with no body: no Content-Type or Content-Length either. */
function withoutBody(request: Request): Request {
	const headers = new Headers(request.headers);
	headers.delete("Content-Type");
	headers.delete("Content-Length");
	return new Request(request.url, { method: request.method, headers, signal: request.signal });
}

export function malformedJson(text: string, parserMessage: string): ApiError {
	const reason = parserMessage
		.replace(/ in JSON at position \d+.*$/s, "")
		.replace(/, .*is not valid JSON$/s, "");
	const offset = validPrefixLength(text);
	const why = offset >= text.length ? "the body ends before the JSON does" : reason;
	return refusedAt(text, offset, `The request body is not valid JSON: ${why}`);
}

/** A 400 for the body's text at `offset`, its line and column (1-based) said and in `error.position`. */
function refusedAt(text: string, offset: number, message: string): ApiError {
	const before = text.slice(0, offset);
	const line = before.split("\n").length;
	const column = offset - before.lastIndexOf("\n");
	return new ApiError(400, "invalid_request", `${message} at line ${line}, column ${column}.`, {
		position: { line, column },
	});
}

/** How deep a JSON body may nest (objects and arrays). */
export const JSON_MAX_DEPTH = 64;

/**
 * What JSON.parse takes but the API refuses: nesting deeper than JSON_MAX_DEPTH (validating or
 * serialising it again ran out of stack: a 500), a NUL character in a string (SQLite's text
 * ends there: a value stored whole was read back cut, and two idempotency keys that differ after
 * it read back equal) and a lone surrogate escape (stored as U+FFFD: read back changed). One pass
 * over valid JSON: brackets counted outside strings, escapes looked at inside them (a raw NUL is not
 * valid JSON; only the escape can carry one).
 */
export function bodyRefusal(text: string): ApiError | null {
	let depth = 0;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c === 0x22) {
			for (i++; i < text.length; i++) {
				const s = text.charCodeAt(i);
				if (s === 0x22) break;
				if (s !== 0x5c) continue;
				if (text.charCodeAt(i + 1) !== 0x75) {
					i++;
					continue;
				}
				const unit = Number.parseInt(text.slice(i + 2, i + 6), 16);
				if (unit === 0) {
					return refusedAt(text, i, "Text in the request body cannot contain the NUL character (\\u0000)");
				}
				// A surrogate escape must be half of a pair: alone it is stored as U+FFFD, so two values
				// that differ in it read back equal (and collide where they must be unique).
				const low = Number.parseInt(text.slice(i + 8, i + 12), 16);
				const paired =
					unit >= 0xd800 && unit <= 0xdbff && text.startsWith("\\u", i + 6) && low >= 0xdc00 && low <= 0xdfff;
				if (paired) {
					i += 11;
					continue;
				}
				if (unit >= 0xd800 && unit <= 0xdfff) {
					return refusedAt(
						text,
						i,
						"Text in the request body cannot contain half of a UTF-16 surrogate pair (\\ud800–\\udfff) alone",
					);
				}
				i += 5;
			}
		} else if (c === 0x7b || c === 0x5b) {
			if (++depth > JSON_MAX_DEPTH) {
				return refusedAt(text, i, `The request body nests deeper than ${JSON_MAX_DEPTH} levels`);
			}
		} else if (c === 0x7d || c === 0x5d) {
			depth--;
		}
	}
	return null;
}

/**
 * Where the JSON goes wrong: the longest prefix that could still begin a valid document (V8 gives
 * no position for some errors). Found by bisection, on the error path only: ~20 parses of ≤1 MiB.
 */
function validPrefixLength(text: string): number {
	const isValidPrefix = (length: number) => {
		try {
			JSON.parse(text.slice(0, length));
			return true;
		} catch (error) {
			// Ran out of text (V8 says so, or points just past the end) rather than met a wrong character.
			const message = error instanceof Error ? error.message : "";
			const at = /at position (\d+)/.exec(message);
			return /end of JSON input/.test(message) || (at !== null && Number(at[1]) >= length);
		}
	};
	let low = 0;
	let high = text.length;
	while (low < high) {
		const middle = Math.ceil((low + high) / 2);
		if (isValidPrefix(middle)) low = middle;
		else high = middle - 1;
	}
	return low;
}

/**
 * For routes that take a JSON body (contract §2): JSON only (415) and at most 1 MiB (413). Declared on
 * the route, after its credential guard, so unknown paths still answer 404 and wrong methods 405.
 */
export const jsonBody: MiddlewareHandler = every(requireJsonType, jsonBodyLimit, requireParsableJson(false));

/**
 * For routes whose JSON body is optional (`body: { required: false }`): the same checks, and an
 * empty body with a JSON Content-Type is treated as no body rather than a 400.
 */
export const optionalJsonBody: MiddlewareHandler = every(
	requireJsonType,
	jsonBodyLimit,
	requireParsableJson(true),
);
