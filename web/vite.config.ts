import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import { SWAGGER_UI_FILES, SWAGGER_UI_PATH, SWAGGER_UI_VERSION } from "../src/web/api-reference.js";
import { workersHeadersFile } from "../src/web/security-headers.js";

/** Writes `_headers` for Workers Static Assets from the same list the Node server uses, and `.assetsignore`. */
function securityHeadersFile(): Plugin {
	return {
		name: "hexcovery-security-headers",
		apply: "build",
		generateBundle() {
			this.emitFile({ type: "asset", fileName: "_headers", source: workersHeadersFile() });
			// The build manifest is for bench/web.ts, not for browsers.
			this.emitFile({ type: "asset", fileName: ".assetsignore", source: ".vite\n" });
		},
	};
}

/** Copies Swagger UI's files for `/docs` (src/web/api-reference.ts) from the npm package: no CDN. */
function swaggerUiFiles(): Plugin {
	return {
		name: "hexcovery-swagger-ui",
		apply: "build",
		generateBundle() {
			const packageJson = createRequire(import.meta.url).resolve("swagger-ui-dist/package.json");
			const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string };
			if (version !== SWAGGER_UI_VERSION) {
				throw new Error(
					`swagger-ui-dist is ${version} but src/web/api-reference.ts says ${SWAGGER_UI_VERSION}: update SWAGGER_UI_VERSION`,
				);
			}
			for (const file of SWAGGER_UI_FILES) {
				this.emitFile({
					type: "asset",
					fileName: `${SWAGGER_UI_PATH.slice(1)}/${file}`,
					source: readFileSync(join(dirname(packageJson), file)),
				});
			}
		},
	};
}

export default defineConfig({
	root: fileURLToPath(new URL(".", import.meta.url)),
	base: "/",
	oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
	plugins: [securityHeadersFile(), swaggerUiFiles()],
	build: {
		outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
		emptyOutDir: true,
		target: "es2022",
		// No inline script or style: the CSP allows neither.
		assetsInlineLimit: 0,
		modulePreload: { polyfill: false },
		reportCompressedSize: false,
		// bench/web.ts reads which chunks the sign-in page loads from it.
		manifest: true,
	},
	server: {
		// `npm run dev:web`: the UI with hot reload, the API from a running `npm start`.
		proxy: Object.fromEntries(
			["/api", "/v1", "/health", "/docs", "/.well-known"].map((path) => [path, "http://127.0.0.1:8080"]),
		),
	},
});
