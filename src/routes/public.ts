import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../app-env.js";

const Health = z.object({ status: z.literal("ok") }).openapi("Health");
const Jwks = z
	.object({
		keys: z.array(
			z.object({
				kty: z.string(),
				crv: z.string(),
				x: z.string(),
				kid: z.string(),
				alg: z.string(),
				use: z.string(),
			}),
		),
	})
	.openapi("Jwks");

/** Routes that need no credential (contract §3). */
export function publicRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>();
	const jwksBody = { keys: deps.config.jwt.publicKeys };

	app.openapi(
		createRoute({
			method: "get",
			path: "/health",
			tags: ["Public"],
			security: [],
			summary: "Liveness",
			responses: {
				200: { description: "The API is up", content: { "application/json": { schema: Health } } },
			},
		}),
		(c) => c.json({ status: "ok" as const }, 200),
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/.well-known/jwks.json",
			tags: ["Public"],
			security: [],
			summary: "Public keys that verify access tokens",
			description: "Ed25519 keys by `kid`. During a rotation more than one key is listed.",
			responses: { 200: { description: "A JWKS", content: { "application/json": { schema: Jwks } } } },
		}),
		(c) => {
			c.header("Cache-Control", "public, max-age=300");
			return c.json(jwksBody, 200);
		},
	);
	return app;
}
