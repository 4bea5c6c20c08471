import { env, exports } from "cloudflare:workers";
import { createClient } from "@libsql/client/web";
import { expect } from "vitest";
import type { AppDeps } from "../../src/app-env.js";
import { hashApiKey } from "../../src/auth/api-key.js";
import { createJwtSigner, type Role } from "../../src/auth/jwt.js";
import { createKeyMemoryCache } from "../../src/auth/key-resolver.js";
import { type Clock, systemClock } from "../../src/clock.js";
import { authSettingsFrom, type JwtSettings, jwtSettingsFrom, type Settings } from "../../src/config.js";
import { createDatabase, type Database } from "../../src/db/client.js";
import { users } from "../../src/db/schema.js";
import { assembleDeps } from "../../src/deps.js";
import { silentLog } from "../../src/log.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";

export const BEARER_CHALLENGE = 'Bearer realm="hexcovery", error="invalid_token"';
export const API_KEY_CHALLENGE = 'ApiKey realm="hexcovery", header="X-API-Key"';
export const ORIGIN = "https://api.hexcovery.test";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ErrorJson {
	error: { code: string; message: string; request_id: string; details?: { path: string; message: string }[] };
}

/** The same libSQL database the Worker uses (through the HTTP stand-in), from inside workerd. */
export const db: Database = createDatabase(createClient({ url: env.DATABASE_URL }));

/** The JWT settings the Worker parses from its own bindings. */
export const jwtSettings: JwtSettings = jwtSettingsFrom(env as unknown as Settings, env.JWT_SIGNING_KEYS);

export function signerAt(clock: Clock, settings: JwtSettings = jwtSettings) {
	return createJwtSigner(settings, clock);
}

export function mintToken(
	claims: { orgId: string; role?: Role; userId?: string },
	options: { clock?: Clock; settings?: JwtSettings } = {},
): Promise<string> {
	return signerAt(
		options.clock ?? systemClock,
		options.settings,
	)({
		orgId: claims.orgId,
		userId: claims.userId ?? "usr_edge",
		role: claims.role ?? "member",
	});
}

/** A user of `role` inserted in `orgId` (the session routes load them), and an access token for them. */
export async function tokenForNewUser(orgId: string, role: Role, name = "Edge user"): Promise<string> {
	const userId = `usr_edge_${crypto.randomUUID().slice(0, 8)}`;
	await db.insert(users).values({
		id: userId,
		orgId,
		email: `${userId}@example.com`,
		name,
		role,
		createdAt: Date.now(),
		updatedAt: Date.now(),
	});
	return mintToken({ orgId, userId, role });
}

/** A fresh org with one key: the database is shared by every workers test file in a run. */
export async function orgWithKey(name = "Edge Co"): Promise<{ orgId: string; key: string; keyId: string }> {
	const org = await createOrg(db, systemClock, `${name} ${crypto.randomUUID()}`);
	const { key, summary } = await createApiKey(db, systemClock, {
		orgId: org.id,
		name: "edge key",
		createdBy: "cli",
	});
	return { orgId: org.id, key, keyId: summary.id };
}

export async function newKey(
	orgId: string,
	name = "another key",
): Promise<{ key: string; keyId: string; hash: string }> {
	const { key, summary } = await createApiKey(db, systemClock, { orgId, name, createdBy: "cli" });
	return { key, keyId: summary.id, hash: hashApiKey(key) };
}

/** Deps built the way src/runtime/worker.ts builds them, over the real bindings. */
export function workerLikeDeps(options: { clock?: Clock } = {}): AppDeps {
	const clock = options.clock ?? systemClock;
	return assembleDeps({
		db,
		clock,
		config: { jwt: jwtSettings, auth: authSettingsFrom(env as unknown as Settings, env.TOTP_ENCRYPTION_KEY) },
		keyMemory: createKeyMemoryCache(clock),
		kv: env.KEY_CACHE,
		log: silentLog,
		clientAddress: (c) => c.req.header("CF-Connecting-IP") ?? null,
	});
}

export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/** The OTLP fixtures with their timestamps moved to now (the org's retention would refuse 2018). */
export function recent<T>(fixture: T): T {
	const base = 1544712660000000000n;
	const shift = nowNs() - 5_000_000_000n - base;
	return JSON.parse(JSON.stringify(fixture), (key, value) =>
		typeof value === "string" && /UnixNano$/.test(key) ? String(BigInt(value) + shift) : value,
	) as T;
}

/** A request to the Worker under test, through its real fetch handler in workerd. */
export function workerFetch(path: string, init: RequestInit = {}): Promise<Response> {
	return exports.default.fetch(new Request(ORIGIN + path, init));
}

/** Status, error.code, request id (header = body) and, on a 401, the exact contract challenge. */
export async function expectError(
	response: Response,
	status: number,
	code: string,
	challenge?: string,
): Promise<ErrorJson> {
	const text = await response.text();
	let body: ErrorJson;
	try {
		body = JSON.parse(text) as ErrorJson;
	} catch {
		throw new Error(`not JSON (${response.status}): ${text.slice(0, 200)}`);
	}
	expect({ status: response.status, code: body.error?.code }, text).toEqual({ status, code });
	expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
	const id = response.headers.get("X-Request-Id");
	expect(id).toMatch(UUID);
	expect(body.error.request_id).toBe(id);
	expect(body.error.message).toEqual(expect.any(String));
	expect(body.error.message.length).toBeGreaterThan(0);
	if (status === 401) {
		expect(challenge, "every 401 needs an expected challenge").toBeDefined();
		expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
	} else {
		expect(response.headers.get("WWW-Authenticate")).toBeNull();
	}
	return body;
}

export async function expectOk<T = unknown>(response: Response, status = 200): Promise<T> {
	const text = await response.text();
	expect(response.status, text).toBe(status);
	expect(response.headers.get("X-Request-Id")).toMatch(UUID);
	return (text === "" ? null : JSON.parse(text)) as T;
}

export { UUID };
