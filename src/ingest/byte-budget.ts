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

/**
 * Export bytes in flight in this process or isolate, over all orgs: each org's own caps (exports in
 * flight, bytes a second) left orgs × 16 × the body limit held at once. An export takes its declared
 * size before its body is read and its real size once read (a body sent without a length is counted
 * then); when nothing else is in flight one export is always taken, so no body under the limit is
 * refused for good.
 */
export class BytesInFlight {
	#total = 0;

	constructor(readonly max: number) {}

	get total(): number {
		return this.#total;
	}

	/** Holds `bytes`, or null when they would pass the cap. */
	take(bytes: number): { resize(bytes: number): boolean; release(): void } | null {
		if (this.#total > 0 && this.#total + bytes > this.max) return null;
		this.#total += bytes;
		let held = bytes;
		let released = false;
		return {
			/** Holds `next` instead; false (holding what it held) when the growth would pass the cap. */
			resize: (next: number) => {
				if (released) return false;
				const others = this.#total - held;
				if (next > held && others > 0 && others + next > this.max) return false;
				this.#total = others + next;
				held = next;
				return true;
			},
			release: () => {
				if (released) return;
				released = true;
				this.#total -= held;
			},
		};
	}
}
