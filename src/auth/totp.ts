/**
 * TOTP (RFC 6238) second factor, secret encryption at rest, and recovery codes. Runtime-neutral:
 * otplib's default plugins are pure JS (noble hashes, scure base32); everything else is WebCrypto.
 */
import { generate, generateSecret, generateURI, verify } from "otplib";

export const TOTP_SETTINGS = Object.freeze({
	period: 30,
	digits: 6,
	/** Steps accepted either side of the current one. */
	window: 1,
	algorithm: "sha1",
} as const);

const TOTP_SECRET_BYTES = 20;
const TOTP_CODE_PATTERN = /^[0-9]{6}$/;

/** A fresh 160-bit secret, base32 without padding (32 characters), as authenticator apps expect. */
export function newTotpSecret(): string {
	return generateSecret({ length: TOTP_SECRET_BYTES });
}

/** `otpauth://totp/…` URI for a QR code. */
export function totpUri({
	secret,
	accountName,
	issuer = "Hexcovery",
}: {
	secret: string;
	accountName: string;
	issuer?: string;
}): string {
	return generateURI({
		issuer,
		label: accountName,
		secret,
		algorithm: TOTP_SETTINGS.algorithm,
		digits: TOTP_SETTINGS.digits,
		period: TOTP_SETTINGS.period,
	});
}

function epochSeconds(nowMs: number): number {
	if (!Number.isFinite(nowMs) || nowMs < 0)
		throw new RangeError("nowMs must be a non-negative finite number");
	return Math.floor(nowMs / 1000);
}

/**
 * Checks a 6-digit code against the base32 `secret` at `nowMs`, accepting the current step and one
 * step either side. Returns the matched time step (floor(unix seconds / 30) + delta), or null.
 *
 * Replay protection is the caller's job: store the step of the last accepted code per user and accept
 * a code only if its step is strictly greater than the stored one (then store the new step), in the
 * same write that consumes it. Without that, a code can be replayed for up to ~90 s.
 */
export async function verifyTotp(secret: string, code: string, nowMs: number): Promise<number | null> {
	if (typeof code !== "string" || !TOTP_CODE_PATTERN.test(code)) return null;
	const epoch = epochSeconds(nowMs);
	const result = await verify({
		secret,
		token: code,
		epoch,
		// otplib's tolerance is in seconds; period × window spans exactly steps current-1 .. current+1.
		epochTolerance: TOTP_SETTINGS.period * TOTP_SETTINGS.window,
		period: TOTP_SETTINGS.period,
		digits: TOTP_SETTINGS.digits,
		algorithm: TOTP_SETTINGS.algorithm,
	});
	if (!result.valid) return null;
	return Math.floor(epoch / TOTP_SETTINGS.period) + result.delta;
}

/** The code an authenticator shows at `nowMs` (tests and tooling). */
export function totpCodeAt(secret: string, nowMs: number): Promise<string> {
	return generate({
		secret,
		epoch: epochSeconds(nowMs),
		period: TOTP_SETTINGS.period,
		digits: TOTP_SETTINGS.digits,
		algorithm: TOTP_SETTINGS.algorithm,
	});
}

// --- base64url / base64 / hex ---

function bytesToBinary(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return binary;
}

function encodeB64Url(bytes: Uint8Array): string {
	return btoa(bytesToBinary(bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Strict base64url (no padding) decode; non-canonical input → null. */
function decodeB64Url(text: string): Uint8Array<ArrayBuffer> | null {
	if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
	const standard = text.replaceAll("-", "+").replaceAll("_", "/");
	let binary: string;
	try {
		binary = atob(standard + "=".repeat((4 - (standard.length % 4)) % 4));
	} catch {
		return null;
	}
	const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
	return encodeB64Url(bytes) === text ? bytes : null;
}

// --- secret encryption at rest (AES-256-GCM) ---

const BLOB_VERSION = "v1";
const IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const KEY_BYTES = 32;

function importAesKey(keyBytes: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
	if (!(keyBytes instanceof Uint8Array) || keyBytes.length !== KEY_BYTES) {
		throw new Error("TOTP encryption key must be 32 bytes");
	}
	return crypto.subtle.importKey("raw", new Uint8Array(keyBytes), { name: "AES-GCM" }, false, [usage]);
}

/** Encrypts a TOTP secret: `v1.<iv b64url>.<ciphertext+tag b64url>`, fresh random 12-byte IV each time. */
export async function encryptSecret(plain: string, keyBytes: Uint8Array): Promise<string> {
	const key = await importAesKey(keyBytes, "encrypt");
	const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
	const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(plain));
	return `${BLOB_VERSION}.${encodeB64Url(iv)}.${encodeB64Url(new Uint8Array(sealed))}`;
}

/** Decrypts `encryptSecret` output; throws on a malformed blob, a wrong key or any tampering. */
export async function decryptSecret(blob: string, keyBytes: Uint8Array): Promise<string> {
	const key = await importAesKey(keyBytes, "decrypt");
	const parts = typeof blob === "string" ? blob.split(".") : [];
	const iv = parts.length === 3 && parts[0] === BLOB_VERSION ? decodeB64Url(parts[1] as string) : null;
	const sealed = iv ? decodeB64Url(parts[2] as string) : null;
	if (!iv || iv.length !== IV_BYTES || !sealed || sealed.length < GCM_TAG_BYTES) {
		throw new Error("Malformed encrypted TOTP secret");
	}
	let plain: ArrayBuffer;
	try {
		plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed);
	} catch {
		throw new Error("TOTP secret decryption failed (wrong key or tampered data)");
	}
	return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(plain);
}

/**
 * Parses the TOTP_ENCRYPTION_KEY setting: 32 bytes as base64 (44 chars, padded), base64url
 * (43 chars) or hex (64 chars). Unpadded standard base64 and padded base64url are accepted too.
 */
export function parseEncryptionKey(text: string): Uint8Array {
	const value = typeof text === "string" ? text.trim() : "";
	if (/^[0-9a-fA-F]{64}$/.test(value)) {
		return Uint8Array.from({ length: KEY_BYTES }, (_, i) =>
			Number.parseInt(value.slice(2 * i, 2 * i + 2), 16),
		);
	}
	const body = value.length === 44 && value.endsWith("=") ? value.slice(0, 43) : value;
	if (body.length === 43 && !(/[+/]/.test(body) && /[-_]/.test(body))) {
		const bytes = decodeB64Url(body.replaceAll("+", "-").replaceAll("/", "_"));
		if (bytes && bytes.length === KEY_BYTES) return bytes;
	}
	throw new Error(
		"TOTP_ENCRYPTION_KEY must be 32 bytes encoded as base64 (44 characters), base64url (43) or hex (64)",
	);
}

// --- recovery codes ---

/** Lower-case letters and digits without 0/o, 1/l/i (31 symbols, ≈ 49.5 bits per code). */
export const RECOVERY_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
export const RECOVERY_CODE_COUNT = 10;
const RECOVERY_CODE_LENGTH = 10;
/** Largest multiple of the alphabet size ≤ 256; bytes at or above it are rejected (uniformity). */
const RECOVERY_REJECTION_THRESHOLD = 256 - (256 % RECOVERY_CODE_ALPHABET.length);

function randomRecoveryCode(): string {
	let out = "";
	while (out.length < RECOVERY_CODE_LENGTH) {
		for (const byte of crypto.getRandomValues(new Uint8Array(16))) {
			if (byte >= RECOVERY_REJECTION_THRESHOLD) continue;
			out += RECOVERY_CODE_ALPHABET[byte % RECOVERY_CODE_ALPHABET.length];
			if (out.length === RECOVERY_CODE_LENGTH) break;
		}
	}
	return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** Ten distinct one-time codes, `xxxxx-xxxxx`. Show them once; store only `hashRecoveryCode` of each. */
export function newRecoveryCodes(): string[] {
	const codes = new Set<string>();
	while (codes.size < RECOVERY_CODE_COUNT) codes.add(randomRecoveryCode());
	return [...codes];
}

/** Lower-cases and strips whitespace and dashes, so "ABCDE FGHJK" and "abcde-fghjk" compare equal. */
export function normalizeRecoveryCode(input: string): string {
	return input.toLowerCase().replace(/[\s-]+/g, "");
}

/** HMAC-SHA-256 (hex) of the normalised code, keyed with a server secret. */
export async function hashRecoveryCode(code: string, pepper: Uint8Array): Promise<string> {
	// Keyed (HMAC with the server's TOTP key): a leaked table of ~50-bit codes cannot be brute-forced offline.
	const key = await crypto.subtle.importKey(
		"raw",
		new Uint8Array(pepper),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(normalizeRecoveryCode(code)));
	return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}
