import type { Clock } from "../clock.js";
import { consoleLog, errorFields, type Log } from "../log.js";
import { LruCache } from "./lru.js";

/** What the auth decision needs about a key, as stored in the database. */
export interface KeyRecord {
	keyId: string;
	orgId: string;
	name: string;
	expiresAt: number | null;
	revokedAt: number | null;
}

/** A key that may be used now. */
export interface AuthenticatedKey {
	keyId: string;
	orgId: string;
	name: string;
}

/** The cacheable part of a usable key: revoked keys are never cached as usable. */
export interface CachedKey extends AuthenticatedKey {
	expiresAt: number | null;
}

/** The primary store (tier 3): libSQL. */
export interface KeyStore {
	findByHash(keyHash: string): Promise<KeyRecord | null>;
	/** Sets last_used_at unless it was set less than `minIntervalMs` ago. */
	touchLastUsed(keyId: string, at: number, minIntervalMs: number): Promise<void>;
}

/** The subset of Workers KV the resolver uses (tier 2). */
export interface KeyValueStore {
	get(key: string, options?: { cacheTtl?: number }): Promise<string | null>;
	put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
	delete(key: string): Promise<void>;
}

/** Runs work after the response (Workers: `ctx.waitUntil`); errors are the callee's to handle. */
export type Defer = (work: Promise<unknown>) => void;

export const KEY_CACHE_SETTINGS = {
	/** A usable key stays in the isolate's memory this long before it is checked again. */
	memoryTtlMs: 30_000,
	/** Unknown, revoked or expired: remembered in memory only, briefly (a typo is fixed quickly). */
	negativeTtlMs: 5_000,
	memoryMaxEntries: 10_000,
	/** KV: how long a location may serve its cached read (Cloudflare's minimum is 30 s). */
	kvCacheTtlS: 30,
	/** KV: the entry's own lifetime, a backstop should an invalidation ever be lost. */
	kvExpirationTtlS: 300,
	/** After a revocation, KV is cleared once more this much later (see `invalidate`). */
	revocationRecheckMs: 2_000,
	/** last_used_at is written at most this often per key. */
	lastUsedIntervalMs: 60_000,
} as const;

const KV_PREFIX = "apikey:";

type MemoryEntry = CachedKey | "unknown";

/** The per-isolate memory tier. Runtimes keep one at module scope and hand it to every resolver they build. */
export function createKeyMemoryCache(clock: Clock): LruCache<MemoryEntry> {
	return new LruCache<MemoryEntry>(KEY_CACHE_SETTINGS.memoryMaxEntries, clock);
}

/**
 * Resolves a key's lookup hash through memory → KV → libSQL. Concurrent misses for the same hash
 * share one lookup (single-flight), so a cold key under load costs one database read.
 */
export class KeyResolver {
	readonly #inflight = new Map<string, Promise<MemoryEntry>>();
	readonly #lastTouched: LruCache<true>;
	/** Bumped by every invalidation, so a load that was under way when a key was revoked is not cached. */
	#generation = 0;

	constructor(
		private readonly options: {
			store: KeyStore;
			memory: LruCache<MemoryEntry>;
			kv?: KeyValueStore | undefined;
			clock: Clock;
			/** Background failures (KV writes, last-used stamps); the console when absent. */
			log?: Log;
		},
	) {
		this.#lastTouched = new LruCache<true>(KEY_CACHE_SETTINGS.memoryMaxEntries, options.clock);
	}

	#backgroundFailure(task: string, error: unknown): void {
		(this.options.log ?? consoleLog("info"))({
			level: "warn",
			msg: "API key cache: a background write failed",
			task,
			...errorFields(error),
		});
	}

	async resolve(keyHash: string, defer: Defer): Promise<AuthenticatedKey | null> {
		const entry = this.options.memory.get(keyHash) ?? (await this.#loadOnce(keyHash, defer));
		if (entry === "unknown") return null;
		const now = this.options.clock.now();
		if (entry.expiresAt !== null && entry.expiresAt <= now) return null;
		this.#recordUse(entry.keyId, now, defer);
		return { keyId: entry.keyId, orgId: entry.orgId, name: entry.name };
	}

	/**
	 * Forgets a key here and in KV at once (revocation); throws if KV refused the delete twice.
	 * With `defer`, KV is cleared once more a little later: another isolate's lookup that read the
	 * database just before the revocation may have written the key back to KV meanwhile.
	 */
	async invalidate(keyHash: string, defer?: Defer): Promise<void> {
		this.#generation++;
		this.options.memory.delete(keyHash);
		this.#inflight.delete(keyHash);
		const kv = this.options.kv;
		if (!kv) return;
		const remove = () => kv.delete(KV_PREFIX + keyHash);
		await remove().catch(remove);
		if (defer) {
			defer(
				new Promise((resolve) => setTimeout(resolve, KEY_CACHE_SETTINGS.revocationRecheckMs))
					.then(remove)
					.catch((error: unknown) => this.#backgroundFailure("kv_delete", error)),
			);
		}
	}

	#loadOnce(keyHash: string, defer: Defer): Promise<MemoryEntry> {
		const pending = this.#inflight.get(keyHash);
		if (pending) return pending;
		const load = this.#load(keyHash, defer).finally(() => this.#inflight.delete(keyHash));
		this.#inflight.set(keyHash, load);
		return load;
	}

	async #load(keyHash: string, defer: Defer): Promise<MemoryEntry> {
		const { memory, kv, store, clock } = this.options;
		const generation = this.#generation;
		const fromKv = kv ? await readKv(kv, keyHash) : null;
		if (fromKv) {
			if (generation !== this.#generation) return "unknown";
			memory.set(keyHash, fromKv, KEY_CACHE_SETTINGS.memoryTtlMs);
			return fromKv;
		}
		const record = await store.findByHash(keyHash);
		if (generation !== this.#generation) return "unknown";
		const now = clock.now();
		if (!record || record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= now)) {
			memory.set(keyHash, "unknown", KEY_CACHE_SETTINGS.negativeTtlMs);
			return "unknown";
		}
		const cached: CachedKey = {
			keyId: record.keyId,
			orgId: record.orgId,
			name: record.name,
			expiresAt: record.expiresAt,
		};
		memory.set(keyHash, cached, KEY_CACHE_SETTINGS.memoryTtlMs);
		if (kv) {
			defer(
				kv
					.put(KV_PREFIX + keyHash, JSON.stringify(cached), {
						expirationTtl: KEY_CACHE_SETTINGS.kvExpirationTtlS,
					})
					.catch((error: unknown) => this.#backgroundFailure("kv_put", error)),
			);
		}
		return cached;
	}

	#recordUse(keyId: string, now: number, defer: Defer): void {
		if (this.#lastTouched.get(keyId)) return;
		this.#lastTouched.set(keyId, true, KEY_CACHE_SETTINGS.lastUsedIntervalMs);
		defer(
			this.options.store
				.touchLastUsed(keyId, now, KEY_CACHE_SETTINGS.lastUsedIntervalMs)
				.catch((error: unknown) => this.#backgroundFailure("last_used_at", error)),
		);
	}
}

async function readKv(kv: KeyValueStore, keyHash: string): Promise<CachedKey | null> {
	const raw = await kv.get(KV_PREFIX + keyHash, { cacheTtl: KEY_CACHE_SETTINGS.kvCacheTtlS });
	if (raw === null) return null;
	try {
		const value = JSON.parse(raw) as CachedKey;
		if (typeof value.keyId === "string" && typeof value.orgId === "string") return value;
	} catch {
		// A corrupt entry is ignored: the database answers instead.
	}
	return null;
}
