/** The app's OpenAPI document, built in-process (no server, no network) for the scripts that check it. */
import { createApp } from "../src/app.js";
import { generateSigningKey } from "../src/auth/jwt.js";
import { buildNodeDeps } from "../src/runtime/node-deps.js";

export async function openApiDocument(): Promise<unknown> {
	const { deps, client } = await buildNodeDeps(
		{
			DATABASE_URL: "file::memory:",
			JWT_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey()] }),
			TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64url"),
		},
		{ log: () => {} },
	);
	try {
		const response = await createApp(deps).request("/api/v1/openapi.json");
		return await response.json();
	} finally {
		client.close();
	}
}
