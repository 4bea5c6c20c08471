import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { buildWeb } from "./scripts/web-build.js";
import { generateSigningKey } from "./src/auth/jwt.js";
import { createEdgeDatabase, EDGE_DATABASE_URL } from "./test/support/edge-database.js";
import { withWebhookSink } from "./test/support/webhook-sink.js";

// The UI's build is served by both runtimes (and read by wrangler.toml's [assets]): build it first.
await buildWeb({ ifStale: true, quiet: true });

export default defineConfig({
	test: {
		projects: [
			{
				test: {
					name: "node",
					include: ["test/node/**/*.test.ts"],
					environment: "node",
					testTimeout: 30_000,
				},
			},
			{
				plugins: [
					cloudflareTest(async () => {
						const database = await createEdgeDatabase();
						return {
							main: "./src/runtime/worker.ts",
							wrangler: { configPath: "./wrangler.toml" },
							miniflare: {
								bindings: {
									DATABASE_URL: EDGE_DATABASE_URL,
									JWT_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey()] }),
									TOTP_ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString(
										"base64url",
									),
								},
								// Heartbeat webhooks to http://hooks.test are recorded (test/support/webhook-sink.ts).
								outboundService: withWebhookSink(database.outboundService),
							},
						};
					}),
				],
				test: {
					name: "workers",
					include: ["test/workers/**/*.test.ts"],
					testTimeout: 30_000,
				},
			},
			{
				test: {
					name: "browser",
					include: ["test/browser/**/*.test.ts"],
					environment: "node",
					testTimeout: 60_000,
					hookTimeout: 60_000,
					// After the other projects: a browser and a server at once are heavy on two cores.
					sequence: { groupOrder: 1 },
					fileParallelism: false,
				},
			},
		],
	},
});
