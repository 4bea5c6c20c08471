import * as nodeCrypto from "node:crypto";
import { createHash } from "node:crypto";

/**
 * API key format (contract §1): `hxk_` + 30 uniform base62 characters + 6 base62 characters of the
 * CRC-32 of those 30. The checksum lets us reject typos and garbage with no cache or database read.
 */
export const API_KEY_PREFIX = "hxk_";
export const API_KEY_RANDOM_LENGTH = 30;
export const API_KEY_CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + API_KEY_RANDOM_LENGTH + API_KEY_CHECKSUM_LENGTH;
export const API_KEY_START_LENGTH = 8;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const API_KEY_PATTERN = /^hxk_[0-9A-Za-z]{36}$/;
/** 62 × 4 = 248: bytes ≥ 248 are rejected so that `byte % 62` is uniform. */
const REJECTION_THRESHOLD = 248;

const CRC32_TABLE = (() => {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
})();

/** CRC-32 (IEEE 802.3, the polynomial zlib's `crc32` uses) of ASCII text. */
export function crc32(text: string): number {
	let crc = 0xffffffff;
	for (let i = 0; i < text.length; i++) {
		crc = (CRC32_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
	}
	return (crc ^ 0xffffffff) >>> 0;
}

/** A non-negative integer in base62, most significant digit first, left-padded with `0`. */
export function toBase62(value: number, width: number): string {
	let out = "";
	let rest = value;
	do {
		out = BASE62[rest % 62] + out;
		rest = Math.floor(rest / 62);
	} while (rest > 0);
	return out.padStart(width, "0");
}

export function checksumOf(randomPart: string): string {
	return toBase62(crc32(randomPart), API_KEY_CHECKSUM_LENGTH);
}

/** Uniform random base62 text from the platform CSPRNG, by rejection sampling. */
export function randomBase62(length: number): string {
	let out = "";
	// getRandomValues fills at most 65,536 bytes per call.
	const buffer = new Uint8Array(Math.min(length * 2, 65_536));
	while (out.length < length) {
		crypto.getRandomValues(buffer);
		for (const byte of buffer) {
			if (byte >= REJECTION_THRESHOLD) continue;
			out += BASE62[byte % 62];
			if (out.length === length) break;
		}
	}
	return out;
}

export function generateApiKey(): string {
	const random = randomBase62(API_KEY_RANDOM_LENGTH);
	return API_KEY_PREFIX + random + checksumOf(random);
}

/** Format and checksum only: pure, no I/O. */
export function isWellFormedApiKey(key: string): boolean {
	if (key.length !== API_KEY_LENGTH || !API_KEY_PATTERN.test(key)) return false;
	const random = key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + API_KEY_RANDOM_LENGTH);
	return checksumOf(random) === key.slice(API_KEY_PREFIX.length + API_KEY_RANDOM_LENGTH);
}

/**
 * SHA-256 hex, the lookup hash of keys and refresh tokens. `node:crypto` (Node, and workerd with
 * nodejs_compat) hashes synchronously, an order of magnitude faster than a WebCrypto round trip on
 * this hot path (see docs/performance.md).
 */
export function sha256Hex(text: string): string {
	return oneShotHash ? oneShotHash("sha256", text, "hex") : createHash("sha256").update(text).digest("hex");
}

/** `crypto.hash` (Node ≥ 20.12) skips the Hash object; workerd may lack it, hence the fallback. */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string })
	.hash;

/** The lookup hash stored in the database and used as the cache key: SHA-256 hex of the whole key. */
export function hashApiKey(key: string): string {
	return sha256Hex(key);
}

export function apiKeyStart(key: string): string {
	return key.slice(0, API_KEY_START_LENGTH);
}

export function toHex(bytes: Uint8Array): string {
	let out = "";
	for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
	return out;
}
