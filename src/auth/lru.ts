import type { Clock } from "../clock.js";

interface Entry<V> {
	value: V;
	expiresAt: number;
	/** When the entry last moved to the young end. */
	touchedAt: number;
}

/** A hit moves its entry at most this often: hot keys stay young without re-inserting on every hit. */
const TOUCH_INTERVAL_MS = 1_000;

/**
 * A size-capped LRU with per-entry expiry. A Map keeps insertion order, so re-inserting on a hit
 * moves the entry to the young end and the first key is always the oldest. (Approximately: a hit
 * re-inserts at most once a second, which keeps the hot path free of Map churn.)
 */
export class LruCache<V> {
	readonly #entries = new Map<string, Entry<V>>();

	constructor(
		readonly maxEntries: number,
		readonly clock: Clock,
	) {
		if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be ≥ 1");
	}

	get(key: string): V | undefined {
		const entry = this.#entries.get(key);
		if (!entry) return undefined;
		const now = this.clock.now();
		if (entry.expiresAt <= now) {
			this.#entries.delete(key);
			return undefined;
		}
		if (now - entry.touchedAt >= TOUCH_INTERVAL_MS) {
			entry.touchedAt = now;
			this.#entries.delete(key);
			this.#entries.set(key, entry);
		}
		return entry.value;
	}

	set(key: string, value: V, ttlMs: number): void {
		this.#entries.delete(key);
		const now = this.clock.now();
		this.#entries.set(key, { value, expiresAt: now + ttlMs, touchedAt: now });
		while (this.#entries.size > this.maxEntries) {
			const oldest = this.#entries.keys().next().value as string;
			this.#entries.delete(oldest);
		}
	}

	delete(key: string): void {
		this.#entries.delete(key);
	}

	clear(): void {
		this.#entries.clear();
	}

	get size(): number {
		return this.#entries.size;
	}
}
