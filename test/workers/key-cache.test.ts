/**
 * The KV tier of the key resolver, for real: workerd's KV binding, the Worker's own fetch handler,
 * libSQL through the stand-in. KV is isolated per test file; the database is shared, so every test
 * makes its own org and keys.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/auth/api-key.js";
import {
	createKeyMemoryCache,
	type Defer,
	KEY_CACHE_SETTINGS,
	KeyResolver,
	type KeyValueStore,
} from "../../src/auth/key-resolver.js";
import { createDbKeyStore } from "../../src/auth/key-store.js";
import { type Clock, systemClock } from "../../src/clock.js";
import worker, { type WorkerEnv } from "../../src/runtime/worker.js";
import { createApiKey, revokeApiKey } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import {
	API_KEY_CHALLENGE,
	db,
	expectError,
	expectOk,
	newKey,
	ORIGIN,
	orgWithKey,
	workerFetch,
} from "./support.js";

const PATH = "/api/v1/annotations";
const kvName = (hash: string) => `apikey:${hash}`;
const kv = env.KEY_CACHE as unknown as KVNamespace;

/** SHA-256 hex computed here, independently of src/auth/api-key.ts. */
async function sha256Hex(text: string): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
	return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The Worker's deferred KV write happens after the response (waitUntil): wait for it, briefly. */
async function kvEventually(name: string): Promise<string> {
	for (let attempt = 0; attempt < 200; attempt++) {
		const value = await kv.get(name);
		if (value !== null) return value;
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
	throw new Error(`${name} never appeared in KV`);
}

async function allKvNames(): Promise<string[]> {
	const names: string[] = [];
	let cursor: string | undefined;
	do {
		const page: KVNamespaceListResult<unknown> = await kv.list(cursor === undefined ? {} : { cursor });
		names.push(...page.keys.map((k) => k.name));
		cursor = page.list_complete ? undefined : page.cursor;
	} while (cursor !== undefined);
	return names;
}

/** The real KV binding with its calls recorded. */
function countingKv(): KeyValueStore & { gets: string[]; puts: string[]; deletes: string[] } {
	const counted = {
		gets: [] as string[],
		puts: [] as string[],
		deletes: [] as string[],
		get(key: string, options?: { cacheTtl?: number }) {
			counted.gets.push(key);
			return env.KEY_CACHE.get(key, options);
		},
		put(key: string, value: string, options?: { expirationTtl?: number }) {
			counted.puts.push(key);
			return env.KEY_CACHE.put(key, value, options);
		},
		delete(key: string) {
			counted.deletes.push(key);
			return env.KEY_CACHE.delete(key);
		},
	};
	return counted;
}

/**
 * One request through the Worker's fetch handler with an execution context whose waitUntil work is
 * awaited before returning: after this, every deferred KV write of the request has happened.
 */
async function settledWorkerFetch(headers: Record<string, string>, workerEnv: WorkerEnv = env) {
	const ctx = createExecutionContext();
	const res = await worker.fetch(new Request(ORIGIN + PATH, { headers }), workerEnv, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

/** A resolver built like the Worker's (memory → this KV → libSQL), with its own memory tier. */
function resolverOverKv(clock: Clock = systemClock) {
	const pending: Promise<unknown>[] = [];
	const defer: Defer = (work) => {
		pending.push(work);
	};
	const resolver = new KeyResolver({
		store: createDbKeyStore(db),
		memory: createKeyMemoryCache(clock),
		kv: env.KEY_CACHE,
		clock,
	});
	return {
		resolver,
		resolve: async (hash: string) => {
			const result = await resolver.resolve(hash, defer);
			await Promise.all(pending.splice(0));
			return result;
		},
	};
}

describe("the KV tier: what gets written", () => {
	it("after one request with a valid key, KV holds apikey:<sha256> with the org, never the key", async () => {
		const { orgId, key, keyId } = await orgWithKey("KV write");
		const hash = await sha256Hex(key);
		expect(await kv.get(kvName(hash))).toBeNull();

		await expectOk(await workerFetch(PATH, { headers: { "X-API-Key": key } }));
		const raw = await kvEventually(kvName(hash));

		const value = JSON.parse(raw) as Record<string, unknown>;
		expect(value).toEqual({ keyId, orgId, name: "edge key", expiresAt: null });
		expect(raw).not.toContain(key);
		expect(raw).not.toContain(key.slice(4, 34));
		expect(raw).not.toContain(key.slice(8));

		// Nothing in the namespace is named after, or holds, the key itself.
		const names = await allKvNames();
		expect(names).toContain(kvName(hash));
		for (const name of names) {
			expect(name).toMatch(/^apikey:[0-9a-f]{64}$/);
			expect(name).not.toContain(key.slice(4));
			expect(await kv.get(name)).not.toContain(key.slice(4, 34));
		}
	});

	it("the entry carries the key's expiry and lives at most 300 s", async () => {
		const { orgId } = await orgWithKey("KV expiry");
		const expiresAt = Date.now() + 3_600_000;
		const { key } = await createApiKey(db, systemClock, {
			orgId,
			name: "expiring",
			createdBy: "cli",
			expiresAt,
		});
		const hash = await sha256Hex(key);
		const before = Date.now();
		const res = await settledWorkerFetch({ "X-API-Key": key });
		await expectOk(res);
		expect(JSON.parse((await kv.get(kvName(hash))) ?? "null")).toMatchObject({ orgId, expiresAt });
		// list() reports the entry's own expiration (seconds since the epoch): the 300 s backstop.
		const listed = (await kv.list({ prefix: kvName(hash) })).keys[0];
		expect(listed?.expiration).toBeGreaterThanOrEqual(
			Math.floor(before / 1000) + KEY_CACHE_SETTINGS.kvExpirationTtlS - 1,
		);
		expect(listed?.expiration).toBeLessThanOrEqual(
			Math.ceil(Date.now() / 1000) + KEY_CACHE_SETTINGS.kvExpirationTtlS + 1,
		);
	});

	it("a valid key costs one KV read and one KV write; its deferred write is done once waitUntil settles", async () => {
		const { key } = await orgWithKey("KV control");
		const hash = await sha256Hex(key);
		const counted = countingKv();
		await expectOk(await settledWorkerFetch({ "X-API-Key": key }, { ...env, KEY_CACHE: counted }));
		expect(counted.gets).toEqual([kvName(hash)]);
		expect(counted.puts).toEqual([kvName(hash)]);
		expect(await kv.get(kvName(hash))).not.toBeNull();
	});

	it("an unknown well-formed key is looked up in KV but never written to it", async () => {
		const unknown = generateApiKey();
		const hash = await sha256Hex(unknown);
		const namesBefore = await allKvNames();
		const counted = countingKv();
		await expectError(
			await settledWorkerFetch({ "X-API-Key": unknown }, { ...env, KEY_CACHE: counted }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);
		expect(counted.gets).toEqual([kvName(hash)]);
		expect(counted.puts).toEqual([]);
		expect(await kv.get(kvName(hash))).toBeNull();
		expect(await allKvNames()).toEqual(namesBefore);

		// Through the Worker's bound fetch too: asked twice, still nothing in KV.
		for (let i = 0; i < 2; i++) {
			await expectError(
				await workerFetch(PATH, { headers: { "X-API-Key": unknown } }),
				401,
				"invalid_api_key",
				API_KEY_CHALLENGE,
			);
		}
		expect(await kv.get(kvName(hash))).toBeNull();
	});

	it("a malformed key touches KV not at all: no read, no write, no entry", async () => {
		const { key } = await orgWithKey("KV malformed");
		const malformed = [
			key.slice(0, -1) + (key.at(-1) === "0" ? "1" : "0"),
			key.slice(0, 39),
			`${key}x`,
			"hxk_not-a-key",
		];
		const namesBefore = await allKvNames();
		const counted = countingKv();
		for (const value of malformed) {
			await expectError(
				await settledWorkerFetch({ "X-API-Key": value }, { ...env, KEY_CACHE: counted }),
				401,
				"invalid_api_key",
				API_KEY_CHALLENGE,
			);
			expect(await kv.get(kvName(await sha256Hex(value)))).toBeNull();
		}
		expect(counted).toMatchObject({ gets: [], puts: [], deletes: [] });
		expect(await allKvNames()).toEqual(namesBefore);
	});
});

describe("the KV tier: revocation", () => {
	it("revokeApiKey over the same KV removes the entry, and the revoking resolver rejects at once", async () => {
		const { key, keyId, orgId } = await orgWithKey("Revoke");
		const hash = await sha256Hex(key);
		await expectOk(await workerFetch(PATH, { headers: { "X-API-Key": key } }));
		await kvEventually(kvName(hash));

		// The revoking side: warm (its memory now holds the key, read from KV), then revoke.
		const revoking = resolverOverKv();
		expect(await revoking.resolve(hash)).toEqual({ keyId, orgId, name: "edge key" });
		expect(await revokeApiKey(db, systemClock, revoking.resolver, keyId)).toBe(true);

		expect(await kv.get(kvName(hash))).toBeNull();
		expect(await revoking.resolve(hash)).toBeNull();
		// …and it did not put the key back while finding out.
		expect(await kv.get(kvName(hash))).toBeNull();

		// The Worker's isolate may still hold the key in memory for ≤ 30 s (docs/api-keys.md); whatever it
		// answers now, it never writes the revoked key back to KV.
		await settledWorkerFetch({ "X-API-Key": key });
		await workerFetch(PATH, { headers: { "X-API-Key": key } });
		expect(await kv.get(kvName(hash))).toBeNull();
	});

	it("another isolate with warm memory rejects once its memory entry is gone (30 s), reading KV then libSQL", async () => {
		const { key, keyId, orgId } = await orgWithKey("Other isolate");
		const hash = await sha256Hex(key);
		const clock = new FakeClock(Date.now());
		const other = resolverOverKv(clock);
		expect(await other.resolve(hash)).toEqual({ keyId, orgId, name: "edge key" });
		expect(await kv.get(kvName(hash))).not.toBeNull();

		const revoking = resolverOverKv();
		expect(await revokeApiKey(db, systemClock, revoking.resolver, keyId)).toBe(true);
		expect(await kv.get(kvName(hash))).toBeNull();

		// The other isolate's memory entry is still young: it is served from there, as documented.
		clock.advance(KEY_CACHE_SETTINGS.memoryTtlMs - 1);
		expect(await other.resolve(hash)).not.toBeNull();
		// Once it is gone: KV misses, libSQL says revoked → rejected, and nothing is written to KV.
		clock.advance(1);
		expect(await other.resolve(hash)).toBeNull();
		expect(await kv.get(kvName(hash))).toBeNull();
	});

	it("the Worker reads KV before libSQL: a stale KV entry would serve a key revoked without clearing KV", async () => {
		// This is why revocation must delete the KV entry (and why the entry expires by itself after 300 s).
		const { key, keyId } = await orgWithKey("Stale");
		const hash = await sha256Hex(key);
		expect(await resolverOverKv().resolve(hash)).not.toBeNull();
		expect(await kv.get(kvName(hash))).not.toBeNull();
		expect(await revokeApiKey(db, systemClock, null, keyId)).toBe(true); // database only, KV untouched
		await expectOk(await workerFetch(PATH, { headers: { "X-API-Key": key } }));
		await kv.delete(kvName(hash));
	});

	it("a key cached in KV but cold in the Worker is rejected by the Worker at once after revocation", async () => {
		const { key, keyId, orgId } = await orgWithKey("Cold");
		const hash = await sha256Hex(key);
		const revoking = resolverOverKv();
		expect(await revoking.resolve(hash)).toEqual({ keyId, orgId, name: "edge key" });
		expect(await kv.get(kvName(hash))).not.toBeNull();

		expect(await revokeApiKey(db, systemClock, revoking.resolver, keyId)).toBe(true);
		expect(await kv.get(kvName(hash))).toBeNull();
		await expectError(
			await workerFetch(PATH, { headers: { "X-API-Key": key } }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);
		expect(await kv.get(kvName(hash))).toBeNull();
	});

	it("a key never used before revocation is rejected by the Worker at once; the org's other key still works", async () => {
		const { key: liveKey, orgId } = await orgWithKey("Never used");
		const cold = await newKey(orgId, "cold");
		expect(await revokeApiKey(db, systemClock, resolverOverKv().resolver, cold.keyId)).toBe(true);
		await expectError(
			await workerFetch(PATH, { headers: { "X-API-Key": cold.key } }),
			401,
			"invalid_api_key",
			API_KEY_CHALLENGE,
		);
		await expectOk(await workerFetch(PATH, { headers: { "X-API-Key": liveKey } }));
		expect(await kv.get(kvName(cold.hash))).toBeNull();
	});
});
