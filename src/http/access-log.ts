import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.js";

/**
 * One line per request. Built only from what is safe to keep: the method, the path without its
 * query string, the answer's status and request id, and who was served (org id and the kind of
 * credential, never the credential). Headers, cookies, bodies and query strings are not read.
 */
export interface AccessLogEntry {
	method: string;
	path: string;
	status: number;
	duration_ms: number;
	request_id: string | null;
	org_id: string | null;
	/** The credential the request was served with: none when it had none or it was refused. */
	credential: "api_key" | "session" | "none";
}

export function accessLog(write: (entry: AccessLogEntry) => void): MiddlewareHandler<AppEnv> {
	return async function logAccess(c, next) {
		const started = performance.now();
		try {
			await next();
		} finally {
			const principal = c.get("principal");
			write({
				method: c.req.method,
				path: c.req.path,
				status: c.res.status,
				duration_ms: Math.round((performance.now() - started) * 10) / 10,
				request_id: c.res.headers.get("X-Request-Id"),
				org_id: principal?.orgId ?? null,
				credential: principal ? (principal.kind === "api_key" ? "api_key" : "session") : "none",
			});
		}
	};
}
