/**
 * Headers on every file of the web UI, from both runtimes: Node sets them itself; the Worker's
 * static assets get them from the `_headers` file that the UI build writes from this list.
 * The UI runs no inline script and talks only to its own origin; nothing may frame it.
 */
export const CONTENT_SECURITY_POLICY = [
	"default-src 'self'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"font-src 'self'",
	"connect-src 'self'",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	"frame-ancestors 'none'",
].join("; ");

export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
	"Content-Security-Policy": CONTENT_SECURITY_POLICY,
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy": "no-referrer",
	"X-Frame-Options": "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
	"Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

/** The `_headers` file for Workers Static Assets: the security headers on every path. */
export function workersHeadersFile(): string {
	const lines = Object.entries(UI_SECURITY_HEADERS).map(([name, value]) => `  ${name}: ${value}`);
	return `/*\n${lines.join("\n")}\n`;
}
