import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checksumOf, generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import {
	type AuthenticatedKey,
	createKeyMemoryCache,
	type Defer,
	KEY_CACHE_SETTINGS,
	KeyResolver,
	type KeyStore,
	type KeyValueStore,
} from "../../src/auth/key-resolver.js";
import { createDbKeyStore } from "../../src/auth/key-store.js";
import { LruCache } from "../../src/auth/lru.js";
import { createApiKey, revokeApiKey } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import { countingStore, createTestApp, type TestApp } from "../support/node-app.js";

const PATH = "/api/v1/annotations";
const KV_PREFIX = "apikey:";

type MiniflareKv = Awaited<ReturnType<Miniflare["getKVNamespace"]>>;

let mf: Miniflare;
let rawKv: MiniflareKv;

beforeAll(async () => {
	mf = new Miniflare({
		modules: true,
		script: "export default { fetch() { return new Response() } }",
		kvNamespaces: ["KV"],
	});
	rawKv = await mf.getKVNamespace("KV");
});
afterAll(async () => {
	await mf.dispose();
});

interface CountingKv extends KeyValueStore {
	gets: number;
	puts: number;
	deletes: number;
	putKeys: string[];
}

/** The real Miniflare KV namespace behind the resolver's KeyValueStore interface, with counters. */
function countingKv(kv: MiniflareKv): CountingKv {
	const counted: CountingKv = {
		gets: 0,
		puts: 0,
		deletes: 0,
		putKeys: [],
		async get(key, options) {
			counted.gets++;
			return (await kv.get(key, options?.cacheTtl ? { cacheTtl: options.cacheTtl } : undefined)) as
				| string
				| null;
		},
		async put(key, value, options) {
			counted.puts++;
			counted.putKeys.push(key);
			await kv.put(key, value, options?.expirationTtl ? { expirationTtl: options.expirationTtl } : undefined);
		},
		async delete(key) {
			counted.deletes++;
			await kv.delete(key);
		},
	};
	return counted;
}

/** Counts both tiers of the primary store: lookups and last_used_at writes. */
function fullyCountingStore(store: KeyStore) {
	const counted = {
		reads: 0,
		touches: 0,
		findByHash(hash: string) {
			counted.reads++;
			return store.findByHash(hash);
		},
		touchLastUsed(keyId: string, at: number, minIntervalMs: number) {
			counted.touches++;
			return store.touchLastUsed(keyId, at, minIntervalMs);
		},
	};
	return counted;
}

/** A Defer that keeps the work so a test can await it (what waitUntil gives Workers). */
function collectingDefer(): Defer & { settle(): Promise<void> } {
	const pending: Promise<unknown>[] = [];
	const defer = ((work: Promise<unknown>) => {
		pending.push(work);
	}) as Defer & { settle(): Promise<void> };
	defer.settle = async () => {
		while (pending.length > 0) await Promise.allSettled(pending.splice(0));
	};
	return defer;
}

/** Polls (up to ~5 s of real time) for deferred work that the Node runtime runs detached. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
	let last: T | undefined;
	for (let i = 0; i < 500; i++) {
		last = await probe();
		if (done(last)) return last;
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
	throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last)}`);
}

function request(t: TestApp, key: string): Promise<Response> {
	return Promise.resolve(t.app.request(PATH, { headers: { "X-API-Key": key } }));
}

async function expectStatus(response: Response, status: number, code?: string) {
	const text = await response.text();
	expect(response.status, text).toBe(status);
	if (code) expect(JSON.parse(text).error.code).toBe(code);
}

async function lastUsedAt(t: TestApp, keyId: string): Promise<number | null> {
	const result = await t.database.client.execute({
		sql: "SELECT last_used_at FROM api_keys WHERE id = ?",
		args: [keyId],
	});
	const value = result.rows[0]?.last_used_at;
	return value === null || value === undefined ? null : Number(value);
}

describe("(a) malformed keys cost no read of any tier", () => {
	it("security: bad checksum or wrong length → zero database reads and zero KV reads", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { key } = await t.createOrgWithKey();
			const random = key.slice(4, 34);
			const lastChecksumChar = key.at(-1) === "0" ? "1" : "0";
			const malformed = [
				key.slice(0, -1) + lastChecksumChar,
				`hxk_${random}${checksumOf(`${random.slice(0, -1)}${random.at(-1) === "a" ? "b" : "a"}`)}`,
				key.slice(0, 39),
				`${key}A`,
				`${key}${key}`,
				`hxk_${"0".repeat(36)}`,
				`HXK_${key.slice(4)}`,
				"hxk_",
			];
			for (const value of malformed) await expectStatus(await request(t, value), 401, "invalid_api_key");
			expect(t.store.reads).toBe(0);
			expect(kv.gets).toBe(0);
			expect(kv.puts).toBe(0);

			// The counters do move for a well-formed key, so the zeros above are meaningful.
			await expectStatus(await request(t, key), 200);
			expect(kv.gets).toBe(1);
			expect(t.store.reads).toBe(1);
		} finally {
			t.close();
		}
	});
});

describe("(b)(c) single-flight and warm cache", () => {
	for (const withKv of [true, false]) {
		it(`100 concurrent requests with one cold key → exactly 1 database read, all 200 (${withKv ? "with" : "without"} KV)`, async () => {
			const kv = countingKv(rawKv);
			const t = await createTestApp(withKv ? { kv } : {});
			try {
				const { key } = await t.createOrgWithKey();
				const responses = await Promise.all(Array.from({ length: 100 }, () => request(t, key)));
				expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
				expect(t.store.reads).toBe(1);
				if (withKv) expect(kv.gets).toBe(1);

				// (c) Warm: memory answers; no further database (or KV) read.
				const kvGets = kv.gets;
				const again = await Promise.all(Array.from({ length: 50 }, () => request(t, key)));
				expect(again.every((r) => r.status === 200)).toBe(true);
				t.clock.advance(KEY_CACHE_SETTINGS.memoryTtlMs - 1);
				await expectStatus(await request(t, key), 200);
				expect(t.store.reads).toBe(1);
				expect(kv.gets).toBe(kvGets);
			} finally {
				t.close();
			}
		});
	}

	it("after memory expiry, KV answers (tier 2) and the database is not read again", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { key } = await t.createOrgWithKey();
			const hash = hashApiKey(key);
			await expectStatus(await request(t, key), 200);
			expect(t.store.reads).toBe(1);
			const stored = await until(
				() => rawKv.get(KV_PREFIX + hash),
				(v) => v !== null,
				"the KV put",
			);
			const entry = JSON.parse(stored as string);
			expect(Object.keys(entry).sort()).toEqual(["expiresAt", "keyId", "name", "orgId"]);
			expect(stored).not.toContain(key);

			t.clock.advance(KEY_CACHE_SETTINGS.memoryTtlMs);
			await expectStatus(await request(t, key), 200);
			expect(t.store.reads).toBe(1);
			expect(kv.gets).toBe(2);
		} finally {
			t.close();
		}
	});

	it("a corrupt KV entry is ignored: the database answers", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { key } = await t.createOrgWithKey();
			const hash = hashApiKey(key);
			await rawKv.put(KV_PREFIX + hash, "{not json");
			await expectStatus(await request(t, key), 200);
			expect(t.store.reads).toBe(1);
			await rawKv.delete(KV_PREFIX + hash);
			// A KV entry of the wrong shape, claiming another org, is ignored as well.
			const other = await t.createOrgWithKey("Other");
			const otherHash = hashApiKey(other.key);
			await rawKv.put(KV_PREFIX + otherHash, JSON.stringify({ keyId: 42, orgId: null }));
			await expectStatus(await request(t, other.key), 200);
			expect(t.store.reads).toBe(2);
		} finally {
			t.close();
		}
	});

	it("a failed database read is not cached: every waiter fails, the next request retries", async () => {
		const clock = new FakeClock();
		const t = await createTestApp({ clock });
		try {
			const { key, keyId, orgId } = await t.createOrgWithKey();
			const real = createDbKeyStore(t.database.db);
			let failNext = true;
			let reads = 0;
			const flaky: KeyStore = {
				async findByHash(hash) {
					reads++;
					if (failNext) {
						failNext = false;
						await new Promise((resolve) => setTimeout(resolve, 5));
						throw new Error("database unavailable");
					}
					return real.findByHash(hash);
				},
				touchLastUsed: real.touchLastUsed,
			};
			const resolver = new KeyResolver({ store: flaky, memory: createKeyMemoryCache(clock), clock });
			const defer = collectingDefer();
			const hash = hashApiKey(key);
			const results = await Promise.allSettled(
				Array.from({ length: 10 }, () => resolver.resolve(hash, defer)),
			);
			expect(results.every((r) => r.status === "rejected")).toBe(true);
			expect(reads).toBe(1);
			expect(await resolver.resolve(hash, defer)).toEqual({ keyId, orgId, name: "test key" });
			expect(reads).toBe(2);
			await defer.settle();
		} finally {
			t.close();
		}
	});
});

describe("(d) negative caching", () => {
	it("an unknown key is remembered in memory only, never in KV, and only for 5 s", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			await t.createOrgWithKey();
			const unknown = generateApiKey();
			const hash = hashApiKey(unknown);
			await expectStatus(await request(t, unknown), 401, "invalid_api_key");
			expect(t.store.reads).toBe(1);
			expect(kv.gets).toBe(1);

			t.clock.advance(KEY_CACHE_SETTINGS.negativeTtlMs - 1);
			for (let i = 0; i < 5; i++) await expectStatus(await request(t, unknown), 401, "invalid_api_key");
			expect(t.store.reads).toBe(1);
			expect(kv.gets).toBe(1);

			t.clock.advance(1);
			await expectStatus(await request(t, unknown), 401, "invalid_api_key");
			expect(t.store.reads).toBe(2);

			expect(KEY_CACHE_SETTINGS.negativeTtlMs).toBe(5_000);
			expect(kv.puts).toBe(0);
			expect(kv.putKeys).not.toContain(KV_PREFIX + hash);
			expect(await rawKv.get(KV_PREFIX + hash)).toBeNull();
		} finally {
			t.close();
		}
	});

	it("revoked and expired keys are never written to KV either", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { orgId } = await t.createOrgWithKey();
			const revoked = await createApiKey(t.database.db, t.clock, { orgId, name: "r", createdBy: "cli" });
			await revokeApiKey(t.database.db, t.clock, null, revoked.summary.id);
			const expired = await createApiKey(t.database.db, t.clock, {
				orgId,
				name: "e",
				createdBy: "cli",
				expiresAt: t.clock.now() - 1,
			});
			await expectStatus(await request(t, revoked.key), 401, "invalid_api_key");
			await expectStatus(await request(t, expired.key), 401, "invalid_api_key");
			expect(t.store.reads).toBe(2);
			// Give any stray deferred write the chance to land before looking.
			await new Promise((resolve) => setTimeout(resolve, 50));
			expect(kv.puts).toBe(0);
			expect(await rawKv.get(KV_PREFIX + hashApiKey(revoked.key))).toBeNull();
			expect(await rawKv.get(KV_PREFIX + hashApiKey(expired.key))).toBeNull();
		} finally {
			t.close();
		}
	});

	it("a cached key past its expires_at is refused from cache, at once, with no read", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { orgId } = await t.createOrgWithKey();
			const expiring = await createApiKey(t.database.db, t.clock, {
				orgId,
				name: "soon",
				createdBy: "cli",
				expiresAt: t.clock.now() + 10_000,
			});
			await expectStatus(await request(t, expiring.key), 200);
			t.clock.advance(9_999);
			await expectStatus(await request(t, expiring.key), 200);
			t.clock.advance(1);
			await expectStatus(await request(t, expiring.key), 401, "invalid_api_key");
			expect(t.store.reads).toBe(1);
		} finally {
			t.close();
		}
	});
});

describe("(e) revocation", () => {
	it("security: the revoking resolver refuses at once; another isolate within memoryTtlMs; KV entry deleted", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { key, keyId, orgId } = await t.createOrgWithKey();
			const hash = hashApiKey(key);
			await expectStatus(await request(t, key), 200);
			await until(
				() => rawKv.get(KV_PREFIX + hash),
				(v) => v !== null,
				"the KV put",
			);

			// A second isolate: its own memory, the same KV namespace and database.
			const otherStore = countingStore(createDbKeyStore(t.database.db));
			const other = new KeyResolver({
				store: otherStore,
				memory: createKeyMemoryCache(t.clock),
				kv,
				clock: t.clock,
			});
			const defer = collectingDefer();
			const warmedAt = t.clock.now();
			const expected: AuthenticatedKey = { keyId, orgId, name: "test key" };
			expect(await other.resolve(hash, defer)).toEqual(expected);
			expect(otherStore.reads).toBe(0); // warmed from KV

			t.clock.advance(1_000);
			const deletesBefore = kv.deletes;
			expect(await revokeApiKey(t.database.db, t.clock, t.deps.keyResolver, keyId)).toBe(true);

			// The revoking isolate: refused at once, though its memory had the key 1 s ago.
			await expectStatus(await request(t, key), 401, "invalid_api_key");
			// The KV entry is gone.
			expect(kv.deletes).toBe(deletesBefore + 1);
			expect(await rawKv.get(KV_PREFIX + hash)).toBeNull();

			// The other isolate: the documented bound. Still accepted just before memoryTtlMs …
			t.clock.set(warmedAt + KEY_CACHE_SETTINGS.memoryTtlMs - 1);
			expect(await other.resolve(hash, defer)).toEqual(expected);
			// … refused once it has passed (KV is empty, the database says revoked).
			t.clock.set(warmedAt + KEY_CACHE_SETTINGS.memoryTtlMs);
			expect(await other.resolve(hash, defer)).toBeNull();
			expect(otherStore.reads).toBe(1);
			expect(KEY_CACHE_SETTINGS.memoryTtlMs).toBe(30_000);

			// And it stays refused everywhere; nothing re-populated KV.
			t.clock.advance(KEY_CACHE_SETTINGS.negativeTtlMs);
			expect(await other.resolve(hash, defer)).toBeNull();
			await expectStatus(await request(t, key), 401, "invalid_api_key");
			await defer.settle();
			expect(await rawKv.get(KV_PREFIX + hash)).toBeNull();
		} finally {
			t.close();
		}
	});

	it("revoking one key leaves the org's other keys working", async () => {
		const kv = countingKv(rawKv);
		const t = await createTestApp({ kv });
		try {
			const { key, keyId, orgId } = await t.createOrgWithKey();
			const second = await createApiKey(t.database.db, t.clock, { orgId, name: "second", createdBy: "cli" });
			await expectStatus(await request(t, key), 200);
			await expectStatus(await request(t, second.key), 200);
			await revokeApiKey(t.database.db, t.clock, t.deps.keyResolver, keyId);
			await expectStatus(await request(t, key), 401, "invalid_api_key");
			await expectStatus(await request(t, second.key), 200);
		} finally {
			t.close();
		}
	});
});

describe("(f) last_used_at", () => {
	it("is written through HTTP (deferred) and at most once per minute per key", async () => {
		const t = await createTestApp();
		try {
			const { key, keyId } = await t.createOrgWithKey();
			const t0 = t.clock.now();
			expect(await lastUsedAt(t, keyId)).toBeNull();
			await expectStatus(await request(t, key), 200);
			await until(
				() => lastUsedAt(t, keyId),
				(v) => v === t0,
				"the first last_used_at write",
			);

			// Inside the minute: no write. Had one landed (t0 + 30 s), the throttle would then block the
			// write at t0 + 60 s and the wait below would time out.
			t.clock.advance(30_000);
			await expectStatus(await request(t, key), 200);
			t.clock.advance(29_999);
			await expectStatus(await request(t, key), 200);
			// Exactly one minute after the last write: the next write is due.
			t.clock.advance(1);
			await expectStatus(await request(t, key), 200);
			await until(
				() => lastUsedAt(t, keyId),
				(v) => v === t0 + 60_000,
				"the second write",
			);
		} finally {
			t.close();
		}
	});

	it("the resolver calls touchLastUsed at most once per interval, and the database guards across isolates", async () => {
		const clock = new FakeClock();
		const t = await createTestApp({ clock });
		try {
			const { key, keyId } = await t.createOrgWithKey();
			const store = fullyCountingStore(createDbKeyStore(t.database.db));
			const resolver = new KeyResolver({ store, memory: createKeyMemoryCache(clock), clock });
			const defer = collectingDefer();
			const hash = hashApiKey(key);
			const t0 = clock.now();

			for (let i = 0; i < 20; i++) expect(await resolver.resolve(hash, defer)).not.toBeNull();
			await defer.settle();
			expect(store.touches).toBe(1);
			expect(await lastUsedAt(t, keyId)).toBe(t0);

			clock.advance(KEY_CACHE_SETTINGS.lastUsedIntervalMs - 1);
			for (let i = 0; i < 20; i++) await resolver.resolve(hash, defer);
			await defer.settle();
			expect(store.touches).toBe(1);
			expect(await lastUsedAt(t, keyId)).toBe(t0);

			// Exactly one interval later: the throttle and the database guard agree that a write is due.
			clock.advance(1);
			await resolver.resolve(hash, defer);
			await defer.settle();
			expect(store.touches).toBe(2);
			const t1 = t0 + KEY_CACHE_SETTINGS.lastUsedIntervalMs;
			expect(await lastUsedAt(t, keyId)).toBe(t1);

			// Another isolate (no memory of the touch) writing 30 s later: the UPDATE's guard refuses it.
			await store.touchLastUsed(keyId, t1 + 30_000, KEY_CACHE_SETTINGS.lastUsedIntervalMs);
			expect(await lastUsedAt(t, keyId)).toBe(t1);
			await store.touchLastUsed(keyId, t1 + 59_999, KEY_CACHE_SETTINGS.lastUsedIntervalMs);
			expect(await lastUsedAt(t, keyId)).toBe(t1);
			await store.touchLastUsed(keyId, t1 + 60_000, KEY_CACHE_SETTINGS.lastUsedIntervalMs);
			expect(await lastUsedAt(t, keyId)).toBe(t1 + 60_000);
			expect(KEY_CACHE_SETTINGS.lastUsedIntervalMs).toBe(60_000);
		} finally {
			t.close();
		}
	});
});

describe("(g) LruCache", () => {
	it("evicts the least recently used entry beyond its cap", () => {
		const clock = new FakeClock();
		const lru = new LruCache<number>(3, clock);
		lru.set("a", 1, 10_000);
		lru.set("b", 2, 10_000);
		lru.set("c", 3, 10_000);
		lru.set("d", 4, 10_000);
		expect(lru.size).toBe(3);
		expect(lru.get("a")).toBeUndefined();
		expect([lru.get("b"), lru.get("c"), lru.get("d")]).toEqual([2, 3, 4]);

		// A read refreshes recency (at most once a second per entry): b is now the youngest, so c goes next.
		clock.advance(1_000);
		lru.get("b");
		lru.set("e", 5, 10_000);
		expect(lru.get("c")).toBeUndefined();
		expect(lru.get("b")).toBe(2);
		expect(lru.get("d")).toBe(4);
		expect(lru.get("e")).toBe(5);
	});

	it("overwriting a key refreshes it without growing the cache", () => {
		const clock = new FakeClock();
		const lru = new LruCache<string>(2, clock);
		lru.set("a", "1", 10_000);
		lru.set("b", "2", 10_000);
		lru.set("a", "1b", 10_000);
		expect(lru.size).toBe(2);
		lru.set("c", "3", 10_000);
		expect(lru.get("b")).toBeUndefined();
		expect(lru.get("a")).toBe("1b");
		expect(lru.get("c")).toBe("3");
	});

	it("expires entries by TTL on the clock (at expiry, not after)", () => {
		const clock = new FakeClock();
		const lru = new LruCache<string>(10, clock);
		lru.set("short", "s", 100);
		lru.set("long", "l", 1_000);
		clock.advance(99);
		expect(lru.get("short")).toBe("s");
		clock.advance(1);
		expect(lru.get("short")).toBeUndefined();
		expect(lru.size).toBe(1);
		expect(lru.get("long")).toBe("l");
		clock.advance(900);
		expect(lru.get("long")).toBeUndefined();
		expect(lru.size).toBe(0);
	});

	it("a read does not extend an entry's TTL", () => {
		const clock = new FakeClock();
		const lru = new LruCache<string>(10, clock);
		lru.set("k", "v", 100);
		clock.advance(60);
		expect(lru.get("k")).toBe("v");
		clock.advance(40);
		expect(lru.get("k")).toBeUndefined();
	});

	it("delete and clear remove entries; the cap must be a positive integer", () => {
		const clock = new FakeClock();
		const lru = new LruCache<number>(5, clock);
		lru.set("a", 1, 100);
		lru.set("b", 2, 100);
		lru.delete("a");
		expect(lru.get("a")).toBeUndefined();
		expect(lru.size).toBe(1);
		lru.clear();
		expect(lru.size).toBe(0);
		expect(() => new LruCache(0, clock)).toThrow(RangeError);
		expect(() => new LruCache(1.5, clock)).toThrow(RangeError);
		expect(() => new LruCache(-1, clock)).toThrow(RangeError);
	});

	it("the key resolver's memory tier is capped at memoryMaxEntries", () => {
		const clock = new FakeClock();
		const memory = createKeyMemoryCache(clock);
		expect(memory.maxEntries).toBe(KEY_CACHE_SETTINGS.memoryMaxEntries);
		for (let i = 0; i <= KEY_CACHE_SETTINGS.memoryMaxEntries; i++) memory.set(`h${i}`, "unknown", 1_000);
		expect(memory.size).toBe(KEY_CACHE_SETTINGS.memoryMaxEntries);
		expect(memory.get("h0")).toBeUndefined();
		expect(memory.get(`h${KEY_CACHE_SETTINGS.memoryMaxEntries}`)).toBe("unknown");
	});
});
