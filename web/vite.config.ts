import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
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

export default defineConfig({
	root: fileURLToPath(new URL(".", import.meta.url)),
	base: "/",
	oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
	plugins: [securityHeadersFile()],
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
