import { createHmac } from "node:crypto";
import { generate } from "otplib";
import { describe, expect, it } from "vitest";
import {
	decryptSecret,
	encryptSecret,
	hashRecoveryCode,
	newRecoveryCodes,
	newTotpSecret,
	normalizeRecoveryCode,
	parseEncryptionKey,
	RECOVERY_CODE_ALPHABET,
	TOTP_SETTINGS,
	totpCodeAt,
	totpUri,
	verifyTotp,
} from "../../src/auth/totp.js";

/** RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890". */
const RFC_SEED = new TextEncoder().encode("12345678901234567890");
const RFC_SEED_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC_VECTORS: Array<[number, string]> = [
	[59, "94287082"],
	[1111111109, "07081804"],
	[1111111111, "14050471"],
	[1234567890, "89005924"],
	[2000000000, "69279037"],
	[20000000000, "65353130"],
];

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

describe("TOTP", () => {
	it("has the agreed settings", () => {
		expect(TOTP_SETTINGS).toEqual({ period: 30, digits: 6, window: 1, algorithm: "sha1" });
	});

	it("matches the RFC 6238 SHA-1 vectors (8 digits through otplib, bytes and base32 secrets)", async () => {
		for (const [epoch, expected] of RFC_VECTORS) {
			const options = { epoch, digits: 8, algorithm: "sha1", period: 30 } as const;
			expect(await generate({ ...options, secret: RFC_SEED }), `t=${epoch}`).toBe(expected);
			expect(await generate({ ...options, secret: RFC_SEED_BASE32 }), `t=${epoch}`).toBe(expected);
		}
	});

	it("totpCodeAt gives the last 6 digits of the RFC vectors and verifyTotp accepts them", async () => {
		for (const [epoch, expected] of RFC_VECTORS) {
			const code = await totpCodeAt(RFC_SEED_BASE32, epoch * 1000);
			expect(code, `t=${epoch}`).toBe(expected.slice(-6));
			expect(await verifyTotp(RFC_SEED_BASE32, code, epoch * 1000)).toBe(Math.floor(epoch / 30));
		}
	});

	it("accepts ±1 step, refuses ±2, and returns the matched step", async () => {
		const nowMs = 1_700_000_012_345;
		const step = Math.floor(nowMs / 1000 / 30);
		const codes = new Map<number, string>();
		for (const delta of [-2, -1, 0, 1, 2])
			codes.set(delta, await totpCodeAt(RFC_SEED_BASE32, nowMs + delta * 30_000));
		// Precondition for the ±2 assertions: those codes do not also occur inside the window.
		expect(new Set(codes.values()).size).toBe(5);

		expect(await verifyTotp(RFC_SEED_BASE32, codes.get(0) as string, nowMs)).toBe(step);
		expect(await verifyTotp(RFC_SEED_BASE32, codes.get(-1) as string, nowMs)).toBe(step - 1);
		expect(await verifyTotp(RFC_SEED_BASE32, codes.get(1) as string, nowMs)).toBe(step + 1);
		expect(await verifyTotp(RFC_SEED_BASE32, codes.get(-2) as string, nowMs)).toBeNull();
		expect(await verifyTotp(RFC_SEED_BASE32, codes.get(2) as string, nowMs)).toBeNull();
	});

	it("uses exact step boundaries", async () => {
		const stepStartMs = 1_700_000_010_000; // divisible by 30 s
		expect((stepStartMs / 1000) % 30).toBe(0);
		const step = stepStartMs / 1000 / 30;
		const current = await totpCodeAt(RFC_SEED_BASE32, stepStartMs);
		expect(await totpCodeAt(RFC_SEED_BASE32, stepStartMs + 29_999)).toBe(current);
		expect(await totpCodeAt(RFC_SEED_BASE32, stepStartMs - 1)).not.toBe(current);
		// At the last millisecond of the step, the previous step's neighbour is still step - 1 (not step - 2).
		expect(await verifyTotp(RFC_SEED_BASE32, current, stepStartMs + 29_999)).toBe(step);
		expect(await verifyTotp(RFC_SEED_BASE32, current, stepStartMs + 30_000 + 29_999)).toBe(step);
		expect(await verifyTotp(RFC_SEED_BASE32, current, stepStartMs + 60_000)).toBeNull();
	});

	it("a fresh secret's current code verifies; another secret's does not", async () => {
		const secret = newTotpSecret();
		const nowMs = 1_750_000_000_000;
		const code = await totpCodeAt(secret, nowMs);
		expect(code).toMatch(/^[0-9]{6}$/);
		expect(await verifyTotp(secret, code, nowMs)).toBe(Math.floor(nowMs / 30_000));
		// Another secret's code must not verify. Guard against the ~3-in-a-million case where it equals one
		// of this secret's window codes, so the assertion below is never vacuous by accident.
		const window = await Promise.all([-1, 0, 1].map((d) => totpCodeAt(secret, nowMs + d * 30_000)));
		const other = await totpCodeAt(RFC_SEED_BASE32, nowMs);
		expect(window).toContain(code);
		if (!window.includes(other)) expect(await verifyTotp(secret, other, nowMs)).toBeNull();
	});

	it("refuses anything that is not exactly 6 ASCII digits, before touching the secret", async () => {
		const nowMs = 1111111111_000;
		const code = await totpCodeAt(RFC_SEED_BASE32, nowMs);
		expect(await verifyTotp(RFC_SEED_BASE32, code, nowMs)).not.toBeNull();
		const bad = [
			"",
			code.slice(0, 5),
			`${code}0`,
			"14050471",
			` ${code}`,
			`${code} `,
			`${code.slice(0, 3)} ${code.slice(3)}`,
			`${code.slice(0, 3)}-${code.slice(3)}`,
			code.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))), // full-width digits
			"12345a",
			"-12345",
		];
		for (const input of bad)
			expect(await verifyTotp(RFC_SEED_BASE32, input, nowMs), JSON.stringify(input)).toBeNull();
		expect(await verifyTotp(RFC_SEED_BASE32, 140504 as unknown as string, nowMs)).toBeNull();
		// An undecodable secret makes otplib throw, so a null here proves no crypto was attempted.
		await expect(verifyTotp("not base32 !!", "123456", nowMs)).rejects.toThrow();
		expect(await verifyTotp("not base32 !!", "12345", nowMs)).toBeNull();
	});

	it("newTotpSecret is 20 random bytes in base32", () => {
		const a = newTotpSecret();
		const b = newTotpSecret();
		expect(a).toMatch(/^[A-Z2-7]{32}$/);
		expect(a).not.toBe(b);
	});

	it("builds an otpauth:// URI", () => {
		const uri = new URL(totpUri({ secret: RFC_SEED_BASE32, accountName: "ada@example.com" }));
		expect(uri.protocol).toBe("otpauth:");
		expect(uri.host).toBe("totp");
		expect(decodeURIComponent(uri.pathname)).toBe("/Hexcovery:ada@example.com");
		expect(uri.searchParams.get("secret")).toBe(RFC_SEED_BASE32);
		expect(uri.searchParams.get("issuer")).toBe("Hexcovery");
		// otplib leaves out parameters equal to the authenticator defaults; when present they must match.
		expect(uri.searchParams.get("algorithm") ?? "SHA1").toBe("SHA1");
		expect(uri.searchParams.get("digits") ?? "6").toBe("6");
		expect(uri.searchParams.get("period") ?? "30").toBe("30");
		const custom = new URL(totpUri({ secret: RFC_SEED_BASE32, accountName: "bob", issuer: "Acme Co" }));
		expect(custom.searchParams.get("issuer")).toBe("Acme Co");
		expect(decodeURIComponent(custom.pathname)).toBe("/Acme Co:bob");
	});
});

describe("TOTP secret encryption", () => {
	const key = new Uint8Array(32).map((_, i) => i);
	const otherKey = new Uint8Array(32).map((_, i) => 255 - i);
	const plain = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

	it("round-trips with a fresh IV each time", async () => {
		const a = await encryptSecret(plain, key);
		const b = await encryptSecret(plain, key);
		expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
		expect(a).not.toBe(b);
		expect(a).not.toContain(plain);
		// ciphertext + 16-byte tag
		expect(Buffer.from(a.split(".")[2] as string, "base64url").length).toBe(plain.length + 16);
		expect(await decryptSecret(a, key)).toBe(plain);
		expect(await decryptSecret(b, key)).toBe(plain);
	});

	it("detects tampering in the ciphertext, the tag and the IV", async () => {
		const blob = await encryptSecret(plain, key);
		const [version, ivText, sealedText] = blob.split(".") as [string, string, string];
		const flip = (text: string, index: number) => {
			const bytes = new Uint8Array(Buffer.from(text, "base64url"));
			bytes[index] = (bytes[index] as number) ^ 0x01;
			return b64url(bytes);
		};
		const sealedLength = Buffer.from(sealedText, "base64url").length;
		await expect(decryptSecret(`${version}.${ivText}.${flip(sealedText, 0)}`, key)).rejects.toThrow();
		await expect(
			decryptSecret(`${version}.${ivText}.${flip(sealedText, sealedLength - 1)}`, key),
		).rejects.toThrow();
		await expect(decryptSecret(`${version}.${flip(ivText, 0)}.${sealedText}`, key)).rejects.toThrow();
		await expect(decryptSecret(`${version}.${flip(ivText, 11)}.${sealedText}`, key)).rejects.toThrow();
		// The untouched blob still decrypts, so the failures above come from the flips.
		expect(await decryptSecret(blob, key)).toBe(plain);
	});

	it("fails with the wrong key", async () => {
		const blob = await encryptSecret(plain, key);
		await expect(decryptSecret(blob, otherKey)).rejects.toThrow(/decryption failed/);
	});

	it("refuses malformed blobs and bad keys", async () => {
		const blob = await encryptSecret(plain, key);
		const [, ivText, sealedText] = blob.split(".") as [string, string, string];
		for (const bad of [
			"",
			"v1",
			`v2.${ivText}.${sealedText}`,
			`v1.${ivText}`,
			`v1.${ivText}.${sealedText}.x`,
			`v1.${ivText.slice(2)}.${sealedText}`,
			`v1.${ivText}.${sealedText.slice(0, 10)}`,
			`v1.${ivText}.${sealedText}=`,
			`v1.${ivText}.${sealedText.replace(/^./, "+")}`,
		]) {
			await expect(decryptSecret(bad, key), bad).rejects.toThrow();
		}
		await expect(encryptSecret(plain, new Uint8Array(16))).rejects.toThrow(/32 bytes/);
		await expect(decryptSecret(blob, new Uint8Array(31))).rejects.toThrow(/32 bytes/);
	});
});

describe("parseEncryptionKey", () => {
	const bytes = new Uint8Array(32).map((_, i) => (i * 37 + 250) & 0xff); // includes bytes that need +/ in base64
	const std = Buffer.from(bytes).toString("base64");
	const url = Buffer.from(bytes).toString("base64url");
	const hex = Buffer.from(bytes).toString("hex");

	it("accepts base64 (44), base64url (43) and hex (64)", () => {
		expect(std).toHaveLength(44);
		expect(url).toHaveLength(43);
		expect(std).toMatch(/[+/]/);
		expect(url).toMatch(/[-_]/);
		expect(parseEncryptionKey(std)).toEqual(bytes);
		expect(parseEncryptionKey(url)).toEqual(bytes);
		expect(parseEncryptionKey(hex)).toEqual(bytes);
		expect(parseEncryptionKey(hex.toUpperCase())).toEqual(bytes);
		expect(parseEncryptionKey(`  ${std}\n`)).toEqual(bytes);
	});

	it("refuses anything else with an error naming TOTP_ENCRYPTION_KEY", () => {
		const wrong = [
			"",
			"secret",
			Buffer.alloc(16).toString("base64"),
			Buffer.alloc(33).toString("base64"),
			Buffer.alloc(31).toString("hex"),
			`${hex.slice(0, 63)}g`,
			`${url.slice(0, 42)}!`,
			`${std.slice(0, 43)}A`, // 44 chars without padding
			`${std.replace(/[A-Za-z0-9]/, "-")}`, // mixes the two alphabets
			url.slice(0, 42) + String.fromCharCode(url.charCodeAt(42) + 1), // non-canonical final character
		];
		for (const text of wrong) expect(() => parseEncryptionKey(text), text).toThrow(/TOTP_ENCRYPTION_KEY/);
		expect(() => parseEncryptionKey(undefined as unknown as string)).toThrow(/TOTP_ENCRYPTION_KEY/);
	});
});

describe("recovery codes", () => {
	it("issues 10 distinct codes of 10 unambiguous characters as xxxxx-xxxxx", () => {
		expect(RECOVERY_CODE_ALPHABET).not.toMatch(/[0O1lI]/);
		const codes = newRecoveryCodes();
		expect(codes).toHaveLength(10);
		expect(new Set(codes).size).toBe(10);
		const pattern = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{5}-[${RECOVERY_CODE_ALPHABET}]{5}$`);
		for (const code of codes) expect(code).toMatch(pattern);
	});

	it("draws from the whole alphabet and differs between calls", () => {
		const seen = new Set<string>();
		const batches = Array.from({ length: 20 }, () => newRecoveryCodes());
		for (const code of batches.flat()) for (const c of code.replace("-", "")) seen.add(c);
		// 2,000 draws from 31 symbols: every symbol appears (miss probability ≈ 31·(30/31)^2000 ≈ 1e-27).
		expect([...seen].sort().join("")).toBe([...RECOVERY_CODE_ALPHABET].sort().join(""));
		expect(new Set(batches.flat()).size).toBe(200);
	});

	it("normalises case, spaces and dashes", () => {
		expect(normalizeRecoveryCode("ABCDE-FGHJK")).toBe("abcdefghjk");
		expect(normalizeRecoveryCode(" abcde fghjk ")).toBe("abcdefghjk");
		expect(normalizeRecoveryCode("ab-cd-ef gh\tjk")).toBe("abcdefghjk");
		expect(normalizeRecoveryCode("abcdefghjk")).toBe("abcdefghjk");
	});

	it("hashes the normalised code with HMAC-SHA-256 under the server key (hex)", async () => {
		const [code] = newRecoveryCodes() as [string];
		const pepper = new Uint8Array(32).fill(7);
		const expected = createHmac("sha256", pepper).update(code.replace("-", "")).digest("hex");
		expect(await hashRecoveryCode(code, pepper)).toBe(expected);
		expect(await hashRecoveryCode(` ${code.toUpperCase().replace("-", " ")} `, pepper)).toBe(expected);
		expect(await hashRecoveryCode(`${code.slice(0, -1)}${code.endsWith("2") ? "3" : "2"}`, pepper)).not.toBe(
			expected,
		);
		// Without the key the stored value cannot be recomputed: another key gives another hash.
		expect(await hashRecoveryCode(code, new Uint8Array(32).fill(8))).not.toBe(expected);
	});
});
