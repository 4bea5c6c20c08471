import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { UI_SECURITY_HEADERS } from "../web/security-headers.js";

/** Where `npm run build:web` (and `npm start`) put the UI. */
export const WEB_DIST_DIR = fileURLToPath(new URL("../../dist/web", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".ico": "image/x-icon",
	".json": "application/json",
	".txt": "text/plain; charset=utf-8",
	".woff2": "font/woff2",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".txt"]);

interface Asset {
	body: Uint8Array;
	gzip: Uint8Array | null;
	headers: Record<string, string>;
}

/**
 * Serves the built UI from memory (it is small and read once at start, so no request touches the
 * disk and no path can escape the folder): hashed files under /assets/ are cached for a year,
 * everything else revalidates; an unknown path gets index.html (client-side routes, the
 * "single-page application" fallback the Worker's assets use too). Null when the UI is not built.
 */
export function loadWebAssets(dir: string = WEB_DIST_DIR): ((request: Request) => Response) | null {
	if (!existsSync(join(dir, "index.html"))) return null;
	const assets = new Map<string, Asset>();
	for (const file of listFiles(dir)) {
		const path = `/${relative(dir, file).split(sep).join("/")}`;
		// Build metadata, not for browsers (the Worker skips the same files: _headers, .assetsignore).
		if (path === "/_headers" || path === "/.assetsignore" || path.startsWith("/.vite/")) continue;
		const ext = extname(file);
		const body = readFileSync(file);
		const headers: Record<string, string> = {
			...UI_SECURITY_HEADERS,
			"Content-Type": CONTENT_TYPES[ext] ?? "application/octet-stream",
			"Cache-Control": path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
		};
		const gzip = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body, { level: 9 }) : null;
		assets.set(path, { body, gzip, headers });
	}
	const index = assets.get("/index.html") as Asset;
	return function serveWebAsset(request: Request): Response {
		const { pathname } = new URL(request.url);
		const asset = assets.get(pathname) ?? (pathname.startsWith("/assets/") ? undefined : index);
		// Every response carries X-Request-Id (contract §2), the UI's files too; they log no request,
		// so the id is only the client's handle (the API's middleware does not run here).
		const requestId = crypto.randomUUID();
		if (!asset) {
			return new Response("Not found", {
				status: 404,
				headers: { ...UI_SECURITY_HEADERS, "Content-Type": "text/plain", "X-Request-Id": requestId },
			});
		}
		const acceptsGzip = /\bgzip\b/.test(request.headers.get("Accept-Encoding") ?? "");
		const gzip = acceptsGzip ? asset.gzip : null;
		const headers = {
			...asset.headers,
			Vary: "Accept-Encoding",
			"X-Request-Id": requestId,
			...(gzip ? { "Content-Encoding": "gzip" } : {}),
		};
		const body = request.method === "HEAD" ? null : (gzip ?? asset.body);
		return new Response(body as BodyInit | null, { status: 200, headers });
	};
}

function listFiles(dir: string): string[] {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		return statSync(path).isDirectory() ? listFiles(path) : [path];
	});
}
