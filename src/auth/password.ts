/**
 * Password hashing and policy. Runtime-neutral: `node:crypto` scrypt works on Node and on workerd with
 * `nodejs_compat` (PBKDF2 does not scale there — production workerd caps it at 100,000 iterations).
 *
 * Stored form is a PHC string, `$scrypt$ln=14,r=8,p=5$<salt>$<hash>` (standard base64, no padding), so
 * the cost can rise later: `verifyPassword` recomputes with the stored parameters and reports
 * `needsRehash` when they differ from the current parameters; the caller then stores a fresh hash.
 * The current parameters are `PASSWORD_HASH_PARAMS` unless the app's config says otherwise
 * (`AuthSettings.passwordHashing`: set by the test suite only, never from the environment).
 */
import { scrypt, timingSafeEqual } from "node:crypto";
import { dictionary } from "@zxcvbn-ts/language-common";

/** N = 2^ln. OWASP-listed scrypt setting that stays under workerd's scrypt cost cap. */
export const PASSWORD_HASH_PARAMS = Object.freeze({
	ln: 14,
	r: 8,
	p: 5,
	saltBytes: 16,
	keyBytes: 32,
});

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

interface ScryptParams {
	ln: number;
	r: number;
	p: number;
}

/** The parameters new hashes are made with (and old ones are compared to). */
export interface PasswordHashing extends ScryptParams {
	saltBytes: number;
	keyBytes: number;
}

/**
 * Upper bound on what a stored hash may make us allocate (scrypt needs ≈ 128·N·r bytes). Current
 * parameters need 16 MiB; this leaves room to raise them while refusing absurd (corrupt) records.
 */
const MAX_SCRYPT_MEMORY = 64 * 1024 * 1024;

/** `maxmem` for one scrypt call: Node/OpenSSL need 128·N·r + 128·r·p bytes; add slack. */
function maxmemFor({ ln, r, p }: ScryptParams): number {
	return 128 * 2 ** ln * r + 128 * r * p + 1024 * 1024;
}

function deriveKey(
	password: string,
	salt: Uint8Array,
	keyBytes: number,
	params: ScryptParams,
): Promise<Uint8Array> {
	// NFKC: the same visible password typed on different systems hashes the same (NIST SP 800-63B).
	const secret = new TextEncoder().encode(password.normalize("NFKC"));
	return new Promise((resolve, reject) => {
		scrypt(
			secret,
			salt,
			keyBytes,
			{ N: 2 ** params.ln, r: params.r, p: params.p, maxmem: maxmemFor(params) },
			(error, key) => (error ? reject(error) : resolve(new Uint8Array(key))),
		);
	});
}

// --- base64 (standard alphabet, no padding), as PHC strings use it ---

function encodeB64(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replace(/=+$/, "");
}

/** Strict decode: only the canonical unpadded encoding is accepted; anything else → null. */
function decodeB64(text: string): Uint8Array | null {
	if (!/^[A-Za-z0-9+/]+$/.test(text) || text.length % 4 === 1) return null;
	let binary: string;
	try {
		binary = atob(text + "=".repeat((4 - (text.length % 4)) % 4));
	} catch {
		return null;
	}
	const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
	return encodeB64(bytes) === text ? bytes : null;
}

// --- PHC ---

interface ParsedHash extends ScryptParams {
	salt: Uint8Array;
	hash: Uint8Array;
}

const PHC_PATTERN =
	/^\$scrypt\$ln=([1-9][0-9]?),r=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parsePhc(phc: unknown): ParsedHash | null {
	if (typeof phc !== "string" || phc.length > 512) return null;
	const match = PHC_PATTERN.exec(phc);
	if (!match) return null;
	const [, lnText, rText, pText, saltText, hashText] = match as unknown as [
		string,
		string,
		string,
		string,
		string,
		string,
	];
	const ln = Number(lnText);
	const r = Number(rText);
	const p = Number(pText);
	if (ln < 10 || ln > 24 || r > 32 || p > 16) return null;
	if (128 * 2 ** ln * r > MAX_SCRYPT_MEMORY) return null;
	const salt = decodeB64(saltText);
	const hash = decodeB64(hashText);
	if (!salt || salt.length < 8 || salt.length > 64) return null;
	if (!hash || hash.length < 16 || hash.length > 64) return null;
	return { ln, r, p, salt, hash };
}

function formatPhc(params: ScryptParams, salt: Uint8Array, hash: Uint8Array): string {
	return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${encodeB64(salt)}$${encodeB64(hash)}`;
}

// --- public API ---

export async function hashPassword(
	password: string,
	params: PasswordHashing = PASSWORD_HASH_PARAMS,
): Promise<string> {
	const salt = crypto.getRandomValues(new Uint8Array(params.saltBytes));
	const hash = await deriveKey(password, salt, params.keyBytes, params);
	return formatPhc(params, salt, hash);
}

/**
 * Verifies `password` against a stored PHC string. A malformed or unsupported string yields
 * `{ ok: false }` (never throws for bad input). `needsRehash` is only meaningful when `ok`.
 */
export async function verifyPassword(
	password: string,
	phc: string,
	current: PasswordHashing = PASSWORD_HASH_PARAMS,
): Promise<{ ok: boolean; needsRehash: boolean }> {
	const parsed = parsePhc(phc);
	if (!parsed || typeof password !== "string") return { ok: false, needsRehash: false };
	const candidate = await deriveKey(password, parsed.salt, parsed.hash.length, parsed);
	const ok = timingSafeEqual(candidate, parsed.hash);
	const needsRehash =
		ok &&
		(parsed.ln !== current.ln ||
			parsed.r !== current.r ||
			parsed.p !== current.p ||
			parsed.salt.length !== current.saltBytes ||
			parsed.hash.length !== current.keyBytes);
	return { ok, needsRehash };
}

const dummyHashes = new Map<PasswordHashing, string>();

/**
 * Spends one scrypt at the current parameters against a fixed dummy hash (random salt and random
 * digest, built once per isolate), so a login for an unknown email costs about what a wrong password
 * costs. Building the dummy needs no scrypt, so the first call is not slower than the rest.
 */
export async function verifyAgainstDummy(
	password: string,
	params: PasswordHashing = PASSWORD_HASH_PARAMS,
): Promise<void> {
	let dummyHash = dummyHashes.get(params);
	if (!dummyHash) {
		dummyHash = formatPhc(
			params,
			crypto.getRandomValues(new Uint8Array(params.saltBytes)),
			crypto.getRandomValues(new Uint8Array(params.keyBytes)),
		);
		dummyHashes.set(params, dummyHash);
	}
	await verifyPassword(typeof password === "string" ? password : "", dummyHash, params);
}

// --- policy ---

let commonPasswords: Set<string> | undefined;

/** The ~49k most common passwords (lower-case in the source list), as a Set built on first use. */
function commonPasswordSet(): Set<string> {
	commonPasswords ??= new Set(dictionary["passwords-common"].map((word) => word.toLowerCase()));
	return commonPasswords;
}

/** Trailing digits, punctuation, symbols and spaces: "password1234!" → "password". */
const TRAILING_NOISE = /[\p{N}\p{P}\p{S}\s]+$/u;
const MIN_STRIPPED_MATCH = 6;

/**
 * Returns null when the password is acceptable, else a message for the user. Length is counted in
 * Unicode code points and is never truncated: 12..1,024.
 */
export function checkPasswordPolicy(password: string): string | null {
	if (typeof password !== "string") return "Password must be a string.";
	const codePoints = Array.from(password);
	if (codePoints.length < PASSWORD_MIN_LENGTH) {
		return `Password must be at least ${PASSWORD_MIN_LENGTH} characters long.`;
	}
	if (codePoints.length > PASSWORD_MAX_LENGTH) return "Password must be at most 1,024 characters long.";
	if (codePoints.every((c) => c === codePoints[0]))
		return "Password must not be a single repeated character.";
	const common = commonPasswordSet();
	const lower = password.toLowerCase();
	const stripped = lower.replace(TRAILING_NOISE, "");
	if (common.has(lower) || (Array.from(stripped).length >= MIN_STRIPPED_MATCH && common.has(stripped))) {
		return "This password is too common; choose a less predictable one.";
	}
	return null;
}
