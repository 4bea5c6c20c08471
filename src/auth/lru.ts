import type { Clock } from "../clock.js";

interface Entry<V> {
	value: V;
	expiresAt: number;
}

/**
 * A size-capped LRU with per-entry expiry. A Map keeps insertion order, so re-inserting on a hit
 * moves the entry to the young end and the first key is always the oldest.
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
		if (entry.expiresAt <= this.clock.now()) {
			this.#entries.delete(key);
			return undefined;
		}
		this.#entries.delete(key);
		this.#entries.set(key, entry);
		return entry.value;
	}

	set(key: string, value: V, ttlMs: number): void {
		this.#entries.delete(key);
		this.#entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
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
