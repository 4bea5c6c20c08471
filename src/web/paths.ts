/**
 * Which paths belong to the API rather than to the web UI. The Worker lists the same patterns as
 * `run_worker_first` in wrangler.toml (test/node/web-serving.test.ts keeps the two equal); the Node
 * server sends these to the app and everything else to the UI's files, with the SPA fallback.
 */
export const API_PATH_PATTERNS = [
	// The prefixes themselves too: "/api" alone was the UI's index.html (200) instead of a JSON 404.
	"/api",
	"/api/*",
	"/v1",
	"/v1/*",
	"/health",
	"/docs",
	"/docs/*",
	"/.well-known/*",
	// Only `npm run dev:edge` answers it (wrangler dev --test-scheduled fires the sweep); elsewhere 404.
	"/__scheduled",
] as const;

export function isApiPath(pathname: string): boolean {
	return API_PATH_PATTERNS.some((pattern) =>
		pattern.endsWith("/*") ? pathname.startsWith(pattern.slice(0, -1)) : pathname === pattern,
	);
}
