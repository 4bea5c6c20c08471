import { randomBytes, scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
	checkPasswordPolicy,
	hashPassword,
	PASSWORD_HASH_PARAMS,
	verifyAgainstDummy,
	verifyPassword,
} from "../../src/auth/password.js";
import { authSettingsFrom } from "../../src/config.js";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");
const fromB64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

/** A PHC string built independently of the module under test. */
function handMadePhc(password: string, ln: number, r = 8, p = 5): string {
	const salt = randomBytes(16);
	const hash = scryptSync(password, salt, 32, { N: 2 ** ln, r, p, maxmem: 64 * 1024 * 1024 });
	return `$scrypt$ln=${ln},r=${r},p=${p}$${b64(salt)}$${b64(hash)}`;
}

/** `count` code points, none repeated back to back, all outside the BMP (two UTF-16 units each). */
const astral = (count: number) =>
	Array.from({ length: count }, (_, i) => String.fromCodePoint(0x1f600 + (i % 64))).join("");

describe("the cost the servers hash at", () => {
	it("is PASSWORD_HASH_PARAMS: the auth settings both runtimes build from their environment set no other", () => {
		const auth = authSettingsFrom(
			{ ALLOWED_ORIGINS: "https://dash.example.com", PASSWORD_HASHING: "ln=10" },
			Buffer.alloc(32, 7).toString("base64"),
		);
		expect(auth.passwordHashing).toBeUndefined();
	});

	it("an app given other parameters hashes with them, and calls a hash at the defaults one to rehash", async () => {
		const cheaper = { ...PASSWORD_HASH_PARAMS, ln: 11, p: 1 };
		const phc = await hashPassword("correct horse battery staple", cheaper);
		expect(phc).toMatch(/^\$scrypt\$ln=11,r=8,p=1\$/);
		expect(await verifyPassword("correct horse battery staple", phc, cheaper)).toEqual({
			ok: true,
			needsRehash: false,
		});
		expect(await verifyPassword("correct horse battery staple", phc)).toEqual({
			ok: true,
			needsRehash: true,
		});
	});
});

describe("hashPassword / verifyPassword", () => {
	it("produces a PHC string with the current parameters that round-trips", async () => {
		const phc = await hashPassword("correct horse battery staple");
		expect(phc).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
		expect(PASSWORD_HASH_PARAMS).toMatchObject({ ln: 14, r: 8, p: 5 });
		expect(await verifyPassword("correct horse battery staple", phc)).toEqual({
			ok: true,
			needsRehash: false,
		});
	});

	it("stores real scrypt output (recomputable with node:crypto from the PHC fields)", async () => {
		const phc = await hashPassword("interop check ✓");
		const [, , , salt, hash] = phc.split("$") as [string, string, string, string, string];
		const expected = scryptSync("interop check ✓", fromB64(salt), 32, {
			N: 2 ** 14,
			r: 8,
			p: 5,
			maxmem: 64 * 1024 * 1024,
		});
		expect(b64(expected)).toBe(hash);
	});

	it("uses a fresh salt per hash", async () => {
		const [a, b] = await Promise.all([hashPassword("same password!"), hashPassword("same password!")]);
		expect(a).not.toBe(b);
	});

	it("refuses a wrong password", async () => {
		const phc = await hashPassword("correct horse battery staple");
		expect(await verifyPassword("correct horse battery stapl", phc)).toEqual({
			ok: false,
			needsRehash: false,
		});
		expect(await verifyPassword("Correct horse battery staple", phc)).toEqual({
			ok: false,
			needsRehash: false,
		});
		expect(await verifyPassword("", phc)).toEqual({ ok: false, needsRehash: false });
	});

	it("returns ok:false without throwing for malformed PHC strings", async () => {
		const password = "correct horse battery staple";
		const good = await hashPassword(password);
		expect((await verifyPassword(password, good)).ok).toBe(true);
		const [, , params, salt, hash] = good.split("$") as [string, string, string, string, string];
		const flipped = (hash[0] === "A" ? "B" : "A") + hash.slice(1);
		const malformed = [
			"",
			"not a hash",
			"$scrypt$",
			`$scrypt$${params}$${salt}`,
			`$scrypt$${params}$${salt}$${hash}$`,
			`$argon2id$${params}$${salt}$${hash}`,
			`scrypt$${params}$${salt}$${hash}`,
			`$scrypt$ln=14,r=8$${salt}$${hash}`,
			`$scrypt$ln=99,r=8,p=5$${salt}$${hash}`,
			`$scrypt$ln=0,r=8,p=5$${salt}$${hash}`,
			`$scrypt$ln=14,r=0,p=5$${salt}$${hash}`,
			`$scrypt$ln=14,r=8,p=-5$${salt}$${hash}`,
			`$scrypt$ln=14,r=8,p=5000$${salt}$${hash}`,
			`$scrypt$ln=20,r=32,p=5$${salt}$${hash}`,
			`$scrypt$${params}$${salt}==$${hash}`,
			`$scrypt$${params}$${salt}$${hash}=`,
			`$scrypt$${params}$${salt}$${hash.slice(0, 8)}`,
			`$scrypt$${params}$${salt}$${hash.replace(/./, "*")}`,
			`$scrypt$${params}$$${hash}`,
			`${good} `,
			good.toUpperCase(),
			`$scrypt$${params}$${salt}$${flipped}`,
			`$scrypt$${params}$${salt}$${"A".repeat(600)}`,
		];
		for (const phc of malformed) {
			await expect(verifyPassword(password, phc), phc).resolves.toEqual({ ok: false, needsRehash: false });
		}
		for (const junk of [null, undefined, 42, {}]) {
			await expect(verifyPassword(password, junk as unknown as string)).resolves.toEqual({
				ok: false,
				needsRehash: false,
			});
		}
	});

	it("verifies an older hash (ln=13) with its own parameters and asks for a rehash", async () => {
		const old = handMadePhc("an older account password", 13);
		expect(await verifyPassword("an older account password", old)).toEqual({ ok: true, needsRehash: true });
		expect(await verifyPassword("an older account passworD", old)).toEqual({ ok: false, needsRehash: false });
		const current = handMadePhc("an older account password", 14);
		expect(await verifyPassword("an older account password", current)).toEqual({
			ok: true,
			needsRehash: false,
		});
	});

	it("can verify parameters above the default 32 MiB scrypt maxmem (ln=15)", async () => {
		const stronger = handMadePhc("a future stronger hash", 15);
		expect(await verifyPassword("a future stronger hash", stronger)).toEqual({ ok: true, needsRehash: true });
	});

	it("hashes a 1,024-code-point password and never truncates", async () => {
		const long = astral(1024);
		expect(long.length).toBe(2048);
		expect(checkPasswordPolicy(long)).toBeNull();
		const phc = await hashPassword(long);
		expect((await verifyPassword(long, phc)).ok).toBe(true);
		const lastDiffers = `${long.slice(0, -2)}${String.fromCodePoint(0x1f700)}`;
		expect(Array.from(lastDiffers)).toHaveLength(1024);
		expect(lastDiffers).not.toBe(long);
		expect((await verifyPassword(lastDiffers, phc)).ok).toBe(false);

		const asciiA = `${"x".repeat(999)}ab`;
		const asciiB = `${"x".repeat(999)}ac`;
		expect((await verifyPassword(asciiB, await hashPassword(asciiA))).ok).toBe(false);
	});

	it("verifyAgainstDummy resolves (never throws) for any input", async () => {
		await expect(verifyAgainstDummy("whatever password")).resolves.toBeUndefined();
		await expect(verifyAgainstDummy("")).resolves.toBeUndefined();
		await expect(verifyAgainstDummy(astral(1025))).resolves.toBeUndefined();
	});
});

describe("checkPasswordPolicy", () => {
	it("accepts reasonable passwords", () => {
		for (const ok of [
			"correct horse battery staple",
			"j8#Lq2!vR9xZ",
			"Tr0ub4dour&3xyz",
			"mot de passe très long",
		]) {
			expect(checkPasswordPolicy(ok), ok).toBeNull();
		}
	});

	it("counts code points: 12..1,024", () => {
		expect(checkPasswordPolicy("abcdefghijk")).toMatch(/at least 12/);
		expect(checkPasswordPolicy("abcdefghijkm")).toBeNull();
		// 11 astral code points are 22 UTF-16 units: still too short.
		expect(checkPasswordPolicy(astral(11))).toMatch(/at least 12/);
		expect(checkPasswordPolicy(astral(12))).toBeNull();
		expect(checkPasswordPolicy(astral(1024))).toBeNull();
		expect(checkPasswordPolicy(astral(1025))).toMatch(/at most 1,024/);
		expect(checkPasswordPolicy(`${"ab".repeat(512)}c`)).toMatch(/at most 1,024/);
	});

	it("refuses a single repeated character", () => {
		expect(checkPasswordPolicy("aaaaaaaaaaaa")).toMatch(/repeated/);
		expect(checkPasswordPolicy("😀".repeat(20))).toMatch(/repeated/);
		expect(checkPasswordPolicy("aaaaaaaaaaab")).toBeNull();
	});

	it("refuses common passwords, case-insensitively and with trailing digits/punctuation", () => {
		const common = [
			"password1234",
			"PASSWORD1234",
			"password1234!",
			"Password1234!!",
			"Qwertyuiop123",
			"qwertyuiop!!!",
			"123456789012",
			"iloveyou12345",
			"Sunshine2024!",
			"BASEBALL#1234",
			"letmein!!!!!",
			"monkey 2024 !!",
		];
		for (const password of common) expect(checkPasswordPolicy(password), password).toMatch(/too common/);
	});

	it("does not strip down to short (< 6) common words or strip leading noise", () => {
		// "angel" and "tiger" are in the list but shorter than 6, so stripping does not apply.
		expect(checkPasswordPolicy("angel!!!!!!!")).toBeNull();
		expect(checkPasswordPolicy("tiger2024!!!!")).toBeNull();
		// Only trailing noise is stripped.
		expect(checkPasswordPolicy("2024!!!!password")).toBeNull();
	});
});
