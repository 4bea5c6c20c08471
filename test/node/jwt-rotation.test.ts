import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { createJwtSigner, generateSigningKey } from "../../src/auth/jwt.js";
import { createKeyMemoryCache } from "../../src/auth/key-resolver.js";
import { type JwtSettings, publicJwkOf } from "../../src/config.js";
import { assembleDeps } from "../../src/deps.js";
import { silentLog } from "../../src/log.js";
import { createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import { openTestDatabase, type TestDatabase, testAuthSettings } from "../support/node-app.js";

let database: TestDatabase;
beforeAll(async () => {
	database = await openTestDatabase();
});
afterAll(() => database.close());

function settings(...keys: Awaited<ReturnType<typeof generateSigningKey>>[]): JwtSettings {
	return {
		issuer: "hexcovery",
		audience: "hexcovery-api",
		signingKeys: keys,
		publicKeys: keys.map(publicJwkOf),
	};
}

function appWith(jwt: JwtSettings, clock: FakeClock) {
	return createApp(
		assembleDeps({
			db: database.db,
			clock,
			config: { jwt, auth: testAuthSettings() },
			keyMemory: createKeyMemoryCache(clock),
			log: silentLog,
		}),
	);
}

describe("JWT signing-key rotation (docs/sessions.md)", () => {
	it("signs with the first key, verifies with every key, publishes all; a removed key stops verifying", async () => {
		const clock = new FakeClock();
		const org = await createOrg(database.db, clock, "Rotation");
		const [oldKey, newKey] = [await generateSigningKey(), await generateSigningKey()];
		const claims = { userId: "usr_rot", orgId: org.id, role: "viewer" as const };
		const get = (app: ReturnType<typeof appWith>, token: string) =>
			app.request("/api/v1/annotations", { headers: { Authorization: `Bearer ${token}` } });

		// Before: only the old key. A token signed with it.
		const before = appWith(settings(oldKey), clock);
		const oldToken = await createJwtSigner(settings(oldKey), clock)(claims);
		expect((await get(before, oldToken)).status).toBe(200);

		// Step 1 and 2: the new key added and moved first. Old tokens still verify; new ones use the new kid.
		const during = settings(newKey, oldKey);
		const app = appWith(during, clock);
		expect((await get(app, oldToken)).status).toBe(200);
		const newToken = await createJwtSigner(during, clock)(claims);
		expect(decodeProtectedHeader(newToken).kid).toBe(newKey.kid);
		expect((await get(app, newToken)).status).toBe(200);
		const jwks = (await (await app.request("/.well-known/jwks.json")).json()) as { keys: { kid: string }[] };
		expect(jwks.keys.map((k) => k.kid)).toEqual([newKey.kid, oldKey.kid]);

		// Step 3: the old key removed. Its tokens no longer verify; the new key's still do.
		const after = appWith(settings(newKey), clock);
		const rejected = await get(after, oldToken);
		expect(rejected.status).toBe(401);
		expect(((await rejected.json()) as { error: { code: string } }).error.code).toBe("invalid_token");
		expect((await get(after, newToken)).status).toBe(200);
	});
});
