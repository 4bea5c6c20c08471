import type { Clock } from "../clock.js";

/** Orgs remembered at once; past it, buckets that have refilled (forgetting them changes nothing) go. */
const MAX_BUCKETS = 10_000;

/**
 * Per-org ingest volume: a token bucket of bytes per org, in this process or isolate. An export
 * reserves its declared size before its body is read and pays for the rest (what decompression
 * added, or a body without Content-Length) once read, so a burst of large exports from one org is
 * refused up front (429 with Retry-After) instead of all being decoded at once, and an org that
 * overdraws waits until it is paid back. Other orgs have their own buckets.
 */
export class ByteBudget {
	readonly #buckets = new Map<string, { tokens: number; at: number }>();

	constructor(
		readonly clock: Clock,
		readonly bytesPerSecond: number,
		readonly burstBytes: number,
	) {}

	#bucket(orgId: string): { tokens: number; at: number } {
		const now = this.clock.now();
		let bucket = this.#buckets.get(orgId);
		if (!bucket) {
			if (this.#buckets.size >= MAX_BUCKETS) this.#forgetFull(now);
			bucket = { tokens: this.burstBytes, at: now };
			this.#buckets.set(orgId, bucket);
		} else {
			bucket.tokens = Math.min(
				this.burstBytes,
				bucket.tokens + ((now - bucket.at) / 1000) * this.bytesPerSecond,
			);
			bucket.at = now;
		}
		return bucket;
	}

	#forgetFull(now: number): void {
		for (const [orgId, bucket] of this.#buckets) {
			if (bucket.tokens + ((now - bucket.at) / 1000) * this.bytesPerSecond >= this.burstBytes)
				this.#buckets.delete(orgId);
		}
	}

	/** Takes `bytes` for an export about to be read: null when granted, else the seconds to wait. */
	reserve(orgId: string, bytes: number): number | null {
		const bucket = this.#bucket(orgId);
		if (bucket.tokens < bytes || bucket.tokens < 0) {
			return Math.max(1, Math.ceil((Math.max(bytes, 0) - bucket.tokens) / this.bytesPerSecond));
		}
		bucket.tokens -= bytes;
		return null;
	}

	/** Pays for bytes beyond the reservation; the bucket may go into debt, which later exports wait out. */
	charge(orgId: string, bytes: number): void {
		if (bytes > 0) this.#bucket(orgId).tokens -= bytes;
	}
}
