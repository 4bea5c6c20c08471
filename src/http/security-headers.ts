import type { MiddlewareHandler } from "hono";

/**
 * Headers every answer carries (contract §2):
 * - `X-Content-Type-Options: nosniff` on every response, so no browser guesses HTML out of JSON or
 *   an uploaded body;
 * - `Cache-Control: no-store` on every `/api/` response that sets no policy of its own: API answers
 *   are per user and several carry secrets (tokens at login and refresh, API keys, initial
 *   passwords, TOTP secrets), so no browser or shared cache may keep them. Routes that may be
 *   cached say so themselves (the JWKS).
 * HSTS is the TLS terminator's job (docs/security.md).
 */
export const securityHeaders: MiddlewareHandler = async function securityHeaders(c, next) {
	await next();
	const apply = (headers: Headers) => {
		headers.set("X-Content-Type-Options", "nosniff");
		if (c.req.path.startsWith("/api/") && !headers.has("Cache-Control"))
			headers.set("Cache-Control", "no-store");
	};
	try {
		apply(c.res.headers);
	} catch {
		// A response with immutable headers (one passed through from fetch): copied, then set.
		c.res = new Response(c.res.body, c.res);
		apply(c.res.headers);
	}
};
