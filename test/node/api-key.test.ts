import { createHash } from "node:crypto";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
	API_KEY_CHECKSUM_LENGTH,
	API_KEY_LENGTH,
	API_KEY_PREFIX,
	API_KEY_RANDOM_LENGTH,
	apiKeyStart,
	checksumOf,
	crc32,
	generateApiKey,
	hashApiKey,
	isWellFormedApiKey,
	randomBase62,
	toBase62,
} from "../../src/auth/api-key.js";
import { apiKeys } from "../../src/db/schema.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";

/** The contract's alphabet, in its order: 0-9A-Za-z. Written out independently of the source. */
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** zlib's crc32 (Node ≥ 20.15); absent on older Nodes, where known vectors stand in. */
const zlibCrc32 = (zlib as unknown as { crc32?: (data: string | Uint8Array) => number }).crc32;

/** An independent base62 encoder (BigInt arithmetic) to compare the source against. */
function referenceBase62(value: number, width: number): string {
	let n = BigInt(value);
	let out = "";
	while (n > 0n) {
		out = ALPHABET[Number(n % 62n)] + out;
		n /= 62n;
	}
	return out.padStart(width, "0");
}

/** Pearson's chi-square statistic of symbol counts against a uniform distribution. */
function chiSquare(counts: number[], total: number): number {
	const expected = total / counts.length;
	return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

function countSymbols(text: string): number[] {
	const counts = new Array<number>(62).fill(0);
	for (const ch of text) {
		const index = ALPHABET.indexOf(ch);
		expect(index).toBeGreaterThanOrEqual(0);
		counts[index] = (counts[index] ?? 0) + 1;
	}
	return counts;
}

/**
 * 61 degrees of freedom: mean 61, sd ≈ 11. P(χ² > 200) ≈ 1e-16 for a uniform source, so this never
 * flakes; a modulo-biased source (byte % 62 with no rejection) scores ≈ 470 over 62,000 samples.
 */
const CHI_SQUARE_BOUND = 200;

describe("API key format (contract §1)", () => {
	it("has the documented constants: hxk_ + 30 + 6 = 40", () => {
		expect(API_KEY_PREFIX).toBe("hxk_");
		expect(API_KEY_RANDOM_LENGTH).toBe(30);
		expect(API_KEY_CHECKSUM_LENGTH).toBe(6);
		expect(API_KEY_LENGTH).toBe(40);
	});

	it("generates 40-character keys: hxk_ prefix, base62 body, valid checksum", () => {
		const seen = new Set<string>();
		for (let i = 0; i < 2000; i++) {
			const key = generateApiKey();
			expect(key).toHaveLength(40);
			expect(key.startsWith("hxk_")).toBe(true);
			expect(key).toMatch(/^hxk_[0-9A-Za-z]{36}$/);
			const random = key.slice(4, 34);
			expect(key.slice(34)).toBe(referenceBase62(crc32(random), 6));
			expect(isWellFormedApiKey(key)).toBe(true);
			seen.add(key);
		}
		expect(seen.size).toBe(2000);
	});

	it("randomBase62 returns exactly the requested length from the alphabet", () => {
		for (const length of [1, 2, 30, 61, 200]) {
			const text = randomBase62(length);
			expect(text).toHaveLength(length);
			for (const ch of text) expect(ALPHABET).toContain(ch);
		}
	});
});

describe("CRC-32 (IEEE 802.3, as zlib)", () => {
	it("matches known vectors", () => {
		expect(crc32("")).toBe(0);
		expect(crc32("123456789")).toBe(0xcbf43926);
		expect(crc32("The quick brown fox jumps over the lazy dog")).toBe(0x414fa339);
		expect(crc32("0".repeat(30))).toBe(2011552642);
	});

	it("equals node:zlib crc32 on random base62 strings", () => {
		if (!zlibCrc32) {
			// Node < 20.15: the known vectors above are the comparison.
			expect(crc32("123456789")).toBe(0xcbf43926);
			return;
		}
		for (let i = 0; i < 2000; i++) {
			const text = randomBase62(1 + (i % 64));
			expect(crc32(text)).toBe(zlibCrc32(text));
		}
	});

	it("returns an unsigned 32-bit integer", () => {
		for (let i = 0; i < 500; i++) {
			const value = crc32(randomBase62(30));
			expect(Number.isInteger(value)).toBe(true);
			expect(value).toBeGreaterThanOrEqual(0);
			expect(value).toBeLessThanOrEqual(0xffffffff);
		}
	});
});

describe("base62 checksum encoding", () => {
	it("writes most significant digit first, left-padded with 0", () => {
		expect(toBase62(0, 6)).toBe("000000");
		expect(toBase62(1, 6)).toBe("000001");
		expect(toBase62(9, 6)).toBe("000009");
		expect(toBase62(10, 6)).toBe("00000A");
		expect(toBase62(36, 6)).toBe("00000a");
		expect(toBase62(61, 6)).toBe("00000z");
		expect(toBase62(62, 6)).toBe("000010");
		expect(toBase62(62 * 62, 6)).toBe("000100");
		expect(toBase62(63, 6)).toBe("000011");
		expect(toBase62(0xffffffff, 6)).toBe("4gfFC3");
		expect(toBase62(0xcbf43926, 6)).toBe("3jZRME");
	});

	it("agrees with an independent encoder on random 32-bit values", () => {
		for (let i = 0; i < 5000; i++) {
			const value = Math.floor(Math.random() * 2 ** 32);
			expect(toBase62(value, 6)).toBe(referenceBase62(value, 6));
		}
	});

	it("six digits hold every CRC-32 value (62^6 > 2^32)", () => {
		expect(62 ** 6).toBeGreaterThan(2 ** 32);
		expect(toBase62(0xffffffff, 6)).toHaveLength(6);
	});

	it("checksumOf = base62(crc32(random part)), 6 characters", () => {
		expect(checksumOf("0".repeat(30))).toBe("2C8GjS");
		expect(checksumOf("123456789")).toBe("3jZRME");
	});
});

describe("checksum check (security: garbage and typos are rejected before any lookup)", () => {
	const keys = Array.from({ length: 10 }, () => generateApiKey());
	const substitutes = `${ALPHABET}_-+/=. \u00e9`;

	it("rejects every single-character change of a valid key", () => {
		let checked = 0;
		for (const key of keys) {
			for (let position = 0; position < key.length; position++) {
				for (const replacement of substitutes) {
					if (replacement === key[position]) continue;
					const mutated = key.slice(0, position) + replacement + key.slice(position + 1);
					expect(isWellFormedApiKey(mutated), `${mutated} (position ${position})`).toBe(false);
					checked++;
				}
			}
		}
		expect(checked).toBeGreaterThan(10 * 40 * 62);
	});

	it("rejects every adjacent transposition that changes the key", () => {
		for (const key of keys) {
			for (let i = 4; i < key.length - 1; i++) {
				if (key[i] === key[i + 1]) continue;
				const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
				expect(isWellFormedApiKey(swapped), swapped).toBe(false);
			}
		}
	});

	it("rejects wrong lengths, wrong prefix and case changes of the prefix", () => {
		const key = keys[0] as string;
		expect(isWellFormedApiKey(key.slice(0, 39))).toBe(false);
		expect(isWellFormedApiKey(`${key}0`)).toBe(false);
		expect(isWellFormedApiKey(`${key} `)).toBe(false);
		expect(isWellFormedApiKey(` ${key}`)).toBe(false);
		expect(isWellFormedApiKey("")).toBe(false);
		expect(isWellFormedApiKey(`HXK_${key.slice(4)}`)).toBe(false);
		expect(isWellFormedApiKey(`hxk-${key.slice(4)}`)).toBe(false);
		expect(isWellFormedApiKey(`xyz_${key.slice(4)}`)).toBe(false);
		// The checksum covers only the random part, so the prefix is checked by the pattern.
		const random = key.slice(4, 34);
		expect(isWellFormedApiKey(`hxk_${random}${checksumOf(random)}`)).toBe(true);
		expect(isWellFormedApiKey(`hxK_${random}${checksumOf(random)}`)).toBe(false);
	});

	it("rejects a well-formed body whose checksum belongs to other text", () => {
		const a = keys[0] as string;
		const b = keys[1] as string;
		expect(isWellFormedApiKey(a.slice(0, 34) + b.slice(34))).toBe(false);
	});
});

describe("randomness", () => {
	it("each of the 62 symbols is within ±25% of expected over 62,000 samples, and χ² is small", () => {
		const samples = randomBase62(62_000);
		const counts = countSymbols(samples);
		for (const count of counts) {
			expect(count).toBeGreaterThan(750);
			expect(count).toBeLessThan(1250);
		}
		expect(counts.reduce((a, b) => a + b, 0)).toBe(62_000);
		expect(chiSquare(counts, 62_000)).toBeLessThan(CHI_SQUARE_BOUND);
	});

	it("the random part of generated keys is uniform too", () => {
		let text = "";
		for (let i = 0; i < 2100; i++) text += generateApiKey().slice(4, 34);
		const counts = countSymbols(text);
		expect(chiSquare(counts, text.length)).toBeLessThan(CHI_SQUARE_BOUND);
	});

	it("the χ² bound does detect modulo bias (so the check above can fail)", () => {
		const bytes = new Uint8Array(62_000);
		crypto.getRandomValues(bytes.subarray(0, 62_000 / 2));
		crypto.getRandomValues(bytes.subarray(62_000 / 2));
		let biased = "";
		for (const byte of bytes) biased += ALPHABET[byte % 62];
		expect(chiSquare(countSymbols(biased), 62_000)).toBeGreaterThan(CHI_SQUARE_BOUND);
	});

	it("rejection sampling skips bytes ≥ 248 and maps the rest by byte % 62", () => {
		const feed = [255, 248, 0, 61, 62, 247, 249, 123, 186, 187];
		const spy = vi.spyOn(crypto, "getRandomValues").mockImplementation((array: ArrayBufferView) => {
			const view = array as Uint8Array;
			view.fill(250);
			view.set(feed.slice(0, view.length));
			return array;
		});
		try {
			// 0→0, 61→z, 62→0, 247→z, 123→z (123 = 61 + 62), 186→0, 187→1; 248, 249, 255 skipped.
			expect(randomBase62(7)).toBe("0z0zz01");
		} finally {
			spy.mockRestore();
		}
		expect(crypto.getRandomValues).not.toBe(spy);
	});
});

describe("hashApiKey and storage", () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await openTestDatabase();
	});
	afterAll(() => database.close());

	it("hashApiKey is the SHA-256 hex of the whole key", async () => {
		expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		for (let i = 0; i < 50; i++) {
			const key = generateApiKey();
			const hash = hashApiKey(key);
			expect(hash).toMatch(/^[0-9a-f]{64}$/);
			expect(hash).toBe(createHash("sha256").update(key, "utf8").digest("hex"));
		}
	});

	it("apiKeyStart is the first 8 characters", () => {
		const key = generateApiKey();
		expect(apiKeyStart(key)).toBe(key.slice(0, 8));
		expect(apiKeyStart(key)).toHaveLength(8);
	});

	it("security: the database stores the hash and the start, never the key or its random part", async () => {
		const clock = new FakeClock();
		const org = await createOrg(database.db, clock, "Storage Co");
		const { key, summary } = await createApiKey(database.db, clock, {
			orgId: org.id,
			name: "stored",
			createdBy: "cli",
		});
		expect(isWellFormedApiKey(key)).toBe(true);
		expect(summary.start).toBe(key.slice(0, 8));
		const rows = await database.db.select().from(apiKeys);
		const row = rows.find((r) => r.id === summary.id);
		expect(row?.keyHash).toBe(createHash("sha256").update(key).digest("hex"));
		expect(row?.start).toBe(key.slice(0, 8));
		const raw = await database.client.execute("SELECT * FROM api_keys");
		const dump = JSON.stringify(raw.rows);
		expect(dump).not.toContain(key);
		expect(dump).not.toContain(key.slice(8));
		expect(dump).not.toContain(key.slice(4, 34));
	});
});
