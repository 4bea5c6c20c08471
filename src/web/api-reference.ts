/**
 * `/docs`, the interactive API reference, with nothing from another origin: the app serves the
 * page and its start-up script (both runtimes, `/docs` is an API path), and the UI build copies
 * Swagger UI's files from the `swagger-ui-dist` package into dist/web under a versioned folder, so
 * they are cached like the UI's hashed assets. The page runs no inline script, so the UI's strict
 * Content-Security-Policy applies to it unchanged.
 */
import { CONTENT_SECURITY_POLICY } from "./security-headers.js";

/** The `swagger-ui-dist` version the build copies; the build fails when the package differs. */
export const SWAGGER_UI_VERSION = "5.35.0";
/** Where its files are served (under /assets/: cached for a year, so the version is in the path). */
export const SWAGGER_UI_PATH = `/assets/swagger-ui-${SWAGGER_UI_VERSION}`;
/** The files of `swagger-ui-dist` the page loads. */
export const SWAGGER_UI_FILES = ["swagger-ui.css", "swagger-ui-bundle.js"] as const;
export const API_REFERENCE_SCRIPT_PATH = "/docs/api-reference.js";
export const API_REFERENCE_CSP = CONTENT_SECURITY_POLICY;

export const API_REFERENCE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hexcovery API reference</title>
<link rel="stylesheet" href="${SWAGGER_UI_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"><noscript>The API reference needs JavaScript. The OpenAPI document itself is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</noscript></div>
<script src="${SWAGGER_UI_PATH}/swagger-ui-bundle.js"></script>
<script src="${API_REFERENCE_SCRIPT_PATH}"></script>
</body>
</html>
`;

/** Starts Swagger UI on the app's document; `validatorUrl: null` keeps it from calling an outside validator. */
export const API_REFERENCE_SCRIPT = `"use strict";
window.ui = SwaggerUIBundle({
	url: "/api/v1/openapi.json",
	dom_id: "#swagger-ui",
	validatorUrl: null,
	deepLinking: true,
});
`;
