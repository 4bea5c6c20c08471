/**
 * How both runtimes serve the web UI next to the API: the Node server's static serving (security
 * headers, the SPA fallback, caching, gzip) and the Worker's configuration (wrangler.toml [assets],
 * the `_headers` file) kept equal to the one list of API paths. The Worker's own serving is driven
 * through `wrangler dev` in dev-edge.test.ts.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEB_DIST_DIR } from "../../src/runtime/web-assets.js";
import { API_PATH_PATTERNS, isApiPath } from "../../src/web/paths.js";
import {
	CONTENT_SECURITY_POLICY,
	UI_SECURITY_HEADERS,
	workersHeadersFile,
} from "../../src/web/security-headers.js";
import { startWebServer, type WebServer } from "../support/web-server.js";

let server: WebServer;
beforeAll(async () => {
	server = await startWebServer({ SETUP_TOKEN: "a-long-setup-token-for-tests" });
});
afterAll(() => server.stop());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The security headers, and an X-Request-Id as every response carries (the UI's had none). */
function expectUiHeaders(response: Response) {
	for (const [name, value] of Object.entries(UI_SECURITY_HEADERS))
		expect(response.headers.get(name), name).toBe(value);
	expect(response.headers.get("X-Request-Id")).toMatch(UUID);
}

describe("the Node server serves the UI at / with the SPA fallback", () => {
	it("answers / and any client-side route with index.html and the security headers", async () => {
		for (const path of ["/", "/sign-in", "/monitors/nightly-backup", "/settings/api-keys?x=1"]) {
			const response = await fetch(`${server.url}${path}`);
			expect(response.status, path).toBe(200);
			expect(response.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
			expect(response.headers.get("Cache-Control")).toBe("no-cache");
			expectUiHeaders(response);
			const html = await response.text();
			expect(html).toContain('<div id="app"></div>');
			// The CSP allows no inline script: the page has none.
			expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
		}
		expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
		expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self'");
		expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
	});

	it("serves hashed assets for a year, gzipped when asked, and 404s a missing asset instead of index.html", async () => {
		const html = await (await fetch(`${server.url}/`)).text();
		const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
		expect(script).toBeDefined();
		const plain = await fetch(`${server.url}${script}`, { headers: { "Accept-Encoding": "identity" } });
		expect(plain.status).toBe(200);
		expect(plain.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
		expect(plain.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
		expect(plain.headers.get("Content-Encoding")).toBeNull();
		const body = await plain.text();
		expect(body).toBe(readFileSync(`${WEB_DIST_DIR}${script}`, "utf8"));
		const gzipped = await fetch(`${server.url}${script}`, { headers: { "Accept-Encoding": "gzip" } });
		expect(gzipped.headers.get("Content-Encoding")).toBe("gzip");
		expect(await gzipped.text()).toBe(body);
		expectUiHeaders(plain);
		expect(gzipped.headers.get("X-Request-Id")).not.toBe(plain.headers.get("X-Request-Id"));
		const missing = await fetch(`${server.url}/assets/nope-123.js`);
		expect(missing.status).toBe(404);
		expectUiHeaders(missing);
		expect(await missing.text()).not.toContain("<div id=");
		for (const internal of ["/_headers", "/.vite/manifest.json", "/.assetsignore"]) {
			expect(await (await fetch(`${server.url}${internal}`)).text(), internal).toContain(
				'<div id="app"></div>',
			);
		}
	});

	it("leaves every API path to the app: JSON errors, not the UI", async () => {
		for (const path of ["/api/v1/no-such-route", "/api", "/v1"]) {
			const unknown = await fetch(`${server.url}${path}`);
			expect(unknown.status, path).toBe(404);
			expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("not_found");
		}
		expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: "ok" });
		expect((await fetch(`${server.url}/.well-known/jwks.json`)).headers.get("Content-Type")).toMatch(/json/);
		const otlpGet = await fetch(`${server.url}/v1/traces`);
		expect(otlpGet.headers.get("Content-Type")).not.toMatch(/^text\/html/);
		// A non-GET outside the API is not the UI's either.
		const posted = await fetch(`${server.url}/monitors`, { method: "POST" });
		expect(posted.status).toBe(404);
		expect(posted.headers.get("Content-Type")).toMatch(/^application\/json/);
	});

	it("tells the UI whether first-run setup is open and whether it needs the setup token", async () => {
		const before = await fetch(`${server.url}/api/v1/setup`);
		expect(await before.json()).toEqual({ setup_required: true, setup_token_required: true });
		const setup = await fetch(`${server.url}/api/v1/setup`, {
			method: "POST",
			headers: { "Content-Type": "application/json", "X-Setup-Token": "a-long-setup-token-for-tests" },
			body: JSON.stringify({
				org_name: "Acme",
				name: "Ada",
				email: "ada@example.com",
				password: "plum-tractor-ocean-41",
			}),
		});
		expect(setup.status).toBe(201);
		const after = await fetch(`${server.url}/api/v1/setup`);
		expect(await after.json()).toEqual({ setup_required: false, setup_token_required: true });
	});
});

describe("the Worker serves the same build as static assets", () => {
	it("lists the same API paths as run_worker_first in wrangler.toml", () => {
		const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
		const listed = /^run_worker_first = (\[.*\])$/m.exec(toml)?.[1];
		expect(JSON.parse(listed as string)).toEqual([...API_PATH_PATTERNS]);
		expect(toml).toMatch(/^directory = "\.\/dist\/web"$/m);
		expect(toml).toMatch(/^not_found_handling = "single-page-application"$/m);
	});

	it("ships a _headers file with the Node server's security headers", () => {
		expect(readFileSync(`${WEB_DIST_DIR}/_headers`, "utf8")).toBe(workersHeadersFile());
		expect(workersHeadersFile()).toContain(`  Content-Security-Policy: ${CONTENT_SECURITY_POLICY}\n`);
	});

	it("classifies paths like the Worker's patterns", () => {
		for (const path of [
			"/api/v1/me",
			"/v1/logs",
			"/api",
			"/v1",
			"/health",
			"/docs",
			"/docs/x",
			"/.well-known/jwks.json",
		]) {
			expect(isApiPath(path), path).toBe(true);
		}
		for (const path of [
			"/",
			"/healthz",
			"/v10",
			"/apiary",
			"/documents",
			"/monitors",
			"/settings/api-keys",
		]) {
			expect(isApiPath(path), path).toBe(false);
		}
	});
});

describe("/docs works with no network: Swagger UI from the app's own origin", () => {
	it("references only same-origin files, all served, and runs no inline script", async () => {
		const page = await fetch(`${server.url}/docs`);
		expect(page.status).toBe(200);
		expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
		expect(page.headers.get("Content-Security-Policy")).toBe(CONTENT_SECURITY_POLICY);
		const html = await page.text();
		expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
		expect(html).not.toMatch(/\bstyle=/);
		const urls = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
		expect(urls.length).toBeGreaterThanOrEqual(4);
		for (const url of urls) expect(url, url).toMatch(/^\/(?!\/)/);
		const expectedTypes: Record<string, RegExp> = {
			".css": /^text\/css/,
			".js": /^text\/javascript/,
			".json": /^application\/json/,
		};
		for (const url of urls) {
			const response = await fetch(`${server.url}${url}`);
			expect(response.status, url).toBe(200);
			const type = expectedTypes[/\.[a-z]+$/.exec(url)?.[0] ?? ""] as RegExp;
			expect(response.headers.get("Content-Type"), url).toMatch(type);
			const body = await response.text();
			expect(body, url).not.toContain('<div id="app"></div>');
			if (url.endsWith("swagger-ui-bundle.js")) expect(body).toContain("SwaggerUIBundle");
		}
		// The start-up script points Swagger UI at the app's document and at no outside validator.
		const script = await (await fetch(`${server.url}/docs/api-reference.js`)).text();
		expect(script).toContain('url: "/api/v1/openapi.json"');
		expect(script).toContain("validatorUrl: null");
		expect(script).not.toMatch(/https?:\/\//);
	});
});
