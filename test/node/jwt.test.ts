import { createHmac } from "node:crypto";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ACCESS_TOKEN_TTL_S, createJwtSigner, generateSigningKey } from "../../src/auth/jwt.js";
import { ConfigError, jwtSettingsFrom, type PrivateJwk } from "../../src/config.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const BEARER_CHALLENGE = 'Bearer realm="hexcovery", error="invalid_token"';
const PATH = "/api/v1/annotations";

type Json = Record<string, unknown>;

let t: TestApp;
let realKey: PrivateJwk;
let foreignKey: PrivateJwk;
let orgId: string;

beforeAll(async () => {
	t = await createTestApp();
	realKey = t.jwt.signingKeys[0] as PrivateJwk;
	foreignKey = await generateSigningKey();
	({ orgId } = await t.createOrgWithKey("JWT Co"));
});
afterAll(() => t.close());

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString("base64url");
const part = (value: unknown) => b64url(JSON.stringify(value));

function header(overrides: Json = {}): Json {
	return { alg: "EdDSA", typ: "at+jwt", kid: realKey.kid, ...overrides };
}

function claims(overrides: Json = {}): Json {
	const iat = Math.floor(t.clock.now() / 1000);
	return {
		iss: t.jwt.issuer,
		aud: t.jwt.audience,
		sub: "usr_attacker",
		org_id: orgId,
		role: "viewer",
		iat,
		exp: iat + 900,
		jti: "j1",
		...overrides,
	};
}

function without(object: Json, ...names: string[]): Json {
	const copy = { ...object };
	for (const name of names) delete copy[name];
	return copy;
}

/** Builds a compact JWS by hand (full control over every header), Ed25519-signed with `key`. */
async function forge(head: Json, payload: Json, key: PrivateJwk = realKey): Promise<string> {
	const input = `${part(head)}.${part(payload)}`;
	const cryptoKey = await crypto.subtle.importKey(
		"jwk",
		{ kty: "OKP", crv: "Ed25519", x: key.x, d: key.d },
		{ name: "Ed25519" },
		false,
		["sign"],
	);
	const signature = await crypto.subtle.sign("Ed25519", cryptoKey, new TextEncoder().encode(input));
	return `${input}.${b64url(new Uint8Array(signature))}`;
}

function publicJwk(key: PrivateJwk): Json {
	return { kty: "OKP", crv: "Ed25519", x: key.x, kid: key.kid };
}

function call(token: string): Promise<Response> {
	return Promise.resolve(t.app.request(PATH, { headers: { Authorization: `Bearer ${token}` } }));
}

async function expectRejected(token: string, code: "invalid_token" | "token_expired" = "invalid_token") {
	const response = await call(token);
	const body = (await response.json()) as { error: { code: string; request_id: string } };
	expect({ status: response.status, code: body.error?.code }).toEqual({ status: 401, code });
	expect(response.headers.get("WWW-Authenticate")).toBe(BEARER_CHALLENGE);
	expect(response.headers.get("X-Request-Id")).toBeTruthy();
}

async function expectAccepted(token: string) {
	const response = await call(token);
	expect(response.status, await response.clone().text()).toBe(200);
}

describe("baseline", () => {
	it("a token minted by the app passes (200)", async () => {
		await expectAccepted(await t.mintToken({ orgId, role: "viewer" }));
	});

	it("the hand-forging helper makes tokens the app accepts when nothing is wrong", async () => {
		// Every attack below changes one thing from this token, so each rejection is the attack's.
		await expectAccepted(await forge(header(), claims()));
	});
});

describe("JWT attacks (each → 401 invalid_token)", () => {
	afterEach(() => vi.restoreAllMocks());

	it("alg none, in several casings, with and without a signature", async () => {
		for (const alg of ["none", "None", "NONE", "nOnE"]) {
			const unsigned = `${part(header({ alg }))}.${part(claims())}`;
			await expectRejected(`${unsigned}.`);
			const real = (await forge(header(), claims())).split(".")[2];
			await expectRejected(`${unsigned}.${real}`);
		}
	});

	it("empty signature, and a signature stripped from a valid token", async () => {
		await expectRejected(`${part(header())}.${part(claims())}.`);
		const [h, p] = (await t.mintToken({ orgId })).split(".");
		await expectRejected(`${h}.${p}.`);
		await expectRejected(`${h}.${p}`);
	});

	it("a tampered payload under a valid signature (viewer → owner, other org)", async () => {
		const [h, , s] = (await forge(header(), claims({ role: "viewer" }))).split(".");
		await expectRejected(`${h}.${part(claims({ role: "owner" }))}.${s}`);
		await expectRejected(`${h}.${part(claims({ org_id: "org_other" }))}.${s}`);
	});

	it("HS256 signed with the public key's bytes (algorithm confusion)", async () => {
		const pub = publicJwk(realKey);
		const secrets: (string | Buffer)[] = [
			Buffer.from(realKey.x, "base64url"),
			realKey.x,
			JSON.stringify(pub),
			JSON.stringify({ ...pub, alg: "EdDSA", use: "sig" }),
		];
		for (const alg of ["HS256", "HS384", "HS512"]) {
			for (const secret of secrets) {
				const input = `${part(header({ alg }))}.${part(claims())}`;
				const hash = `sha${alg.slice(2)}`;
				const mac = createHmac(hash, secret).update(input).digest("base64url");
				await expectRejected(`${input}.${mac}`);
			}
		}
	});

	it("alg pinned to EdDSA: the same Ed25519 signature under alg Ed25519 is refused", async () => {
		await expectRejected(await forge(header({ alg: "Ed25519" }), claims()));
		await expectRejected(await forge(header({ alg: "ES256" }), claims()));
	});

	it("a valid token signed by a foreign Ed25519 key with the same kid", async () => {
		await expectRejected(await forge(header(), claims(), foreignKey));
	});

	it("unknown kid (even when signed by the real key), and no kid at all", async () => {
		await expectRejected(await forge(header({ kid: foreignKey.kid }), claims(), foreignKey));
		await expectRejected(await forge(header({ kid: "unknown-kid" }), claims()));
		await expectRejected(await forge(without(header(), "kid"), claims()));
		await expectRejected(await forge(header({ kid: 42 }), claims()));
		await expectRejected(await forge(header({ kid: "" }), claims()));
	});

	it("kid with path or SQL characters", async () => {
		for (const kid of [
			"../../../../etc/passwd",
			"/dev/null",
			"..\\..\\keys",
			"' OR '1'='1",
			"k1'; DROP TABLE api_keys; --",
			`${realKey.kid}\u0000`,
			`${realKey.kid}/../${realKey.kid}`,
			"x".repeat(65),
		]) {
			await expectRejected(await forge(header({ kid }), claims()));
		}
		// The api_keys table is still there and readable.
		const rows = await t.database.client.execute("SELECT count(*) AS n FROM api_keys");
		expect(Number(rows.rows[0]?.n)).toBeGreaterThan(0);
	});

	it("security: jku, x5u and embedded jwk headers pointing at the attacker's key are not followed", async () => {
		const fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
			throw new Error("the verifier must not fetch");
		});
		const attackerJwks = "https://attacker.example/.well-known/jwks.json";
		const attacks: Json[] = [
			header({ jku: attackerJwks }),
			header({ jku: attackerJwks, kid: foreignKey.kid }),
			header({ x5u: "https://attacker.example/cert.pem" }),
			header({ jwk: publicJwk(foreignKey) }),
			header({ jwk: publicJwk(foreignKey), kid: foreignKey.kid }),
			without(header({ jwk: publicJwk(foreignKey) }), "kid"),
			header({ jwk: { ...publicJwk(foreignKey), kid: realKey.kid } }),
		];
		for (const head of attacks) await expectRejected(await forge(head, claims(), foreignKey));
		expect(fetchSpy).not.toHaveBeenCalled();
	});

	it("an unknown critical header is refused", async () => {
		await expectRejected(await forge(header({ crit: ["x-hex"], "x-hex": true }), claims()));
	});

	it("expired: past exp on the fake clock → token_expired; the second before → accepted", async () => {
		const token = await t.mintToken({ orgId, role: "viewer" });
		const issuedAt = t.clock.now();
		t.clock.set(issuedAt + 899_000);
		await expectAccepted(token);
		t.clock.set(issuedAt + 901_000);
		await expectRejected(token, "token_expired");
		t.clock.set(issuedAt + 3_600_000);
		await expectRejected(token, "token_expired");
		t.clock.set(issuedAt);
	});

	it("security: an expired token with a bad signature is invalid_token, not token_expired (no oracle)", async () => {
		const iat = Math.floor(t.clock.now() / 1000) - 3600;
		await expectRejected(await forge(header(), claims({ iat, exp: iat + 900 }), foreignKey), "invalid_token");
		await expectRejected(await forge(header(), claims({ iat, exp: iat + 900 })), "token_expired");
	});

	it("nbf in the future", async () => {
		const now = Math.floor(t.clock.now() / 1000);
		await expectRejected(await forge(header(), claims({ nbf: now + 600 })));
		// A past nbf is fine: the rejection above is the future nbf's.
		await expectAccepted(await forge(header(), claims({ nbf: now - 60 })));
	});

	it("missing exp, or exp not a number", async () => {
		await expectRejected(await forge(header(), without(claims(), "exp")));
		const now = Math.floor(t.clock.now() / 1000);
		await expectRejected(await forge(header(), claims({ exp: String(now + 900) })));
		await expectRejected(await forge(header(), claims({ exp: null })));
	});

	it("missing or invalid org_id, sub, iat", async () => {
		await expectRejected(await forge(header(), without(claims(), "org_id")));
		await expectRejected(await forge(header(), claims({ org_id: "" })));
		await expectRejected(await forge(header(), claims({ org_id: 123 })));
		await expectRejected(await forge(header(), claims({ org_id: [orgId] })));
		await expectRejected(await forge(header(), without(claims(), "sub")));
		await expectRejected(await forge(header(), claims({ sub: "" })));
		await expectRejected(await forge(header(), without(claims(), "iat")));
	});

	it("wrong iss", async () => {
		await expectRejected(await forge(header(), claims({ iss: "https://evil.example" })));
		await expectRejected(await forge(header(), without(claims(), "iss")));
	});

	it("wrong aud", async () => {
		await expectRejected(await forge(header(), claims({ aud: "another-api" })));
		await expectRejected(await forge(header(), claims({ aud: ["another-api"] })));
		await expectRejected(await forge(header(), without(claims(), "aud")));
	});

	it("wrong typ (an ID token or a plain JWT is not an access token)", async () => {
		for (const typ of ["JWT", "jwt", "id+jwt", "refresh+jwt", ""]) {
			await expectRejected(await forge(header({ typ }), claims()));
		}
		await expectRejected(await forge(without(header(), "typ"), claims()));
	});

	it("role not in the set", async () => {
		for (const role of ["superadmin", "Owner", "root", "", 3]) {
			await expectRejected(await forge(header(), claims({ role })));
		}
		await expectRejected(await forge(header(), claims({ role: ["owner"] })));
		await expectRejected(await forge(header(), without(claims(), "role")));
	});

	it("JSON serialization (flattened and general) instead of compact", async () => {
		const [protectedHeader, payload, signature] = (await forge(header(), claims())).split(".");
		const flattened = JSON.stringify({ protected: protectedHeader, payload, signature });
		const general = JSON.stringify({ payload, signatures: [{ protected: protectedHeader, signature }] });
		await expectRejected(flattened);
		await expectRejected(general);
	});

	it("not a JWS at all: wrong part count, bad base64url, non-JSON header", async () => {
		const [h, p, s] = (await forge(header(), claims())).split(".");
		await expectRejected(`${h}.${p}.${s}.${s}`);
		await expectRejected(`${h}.${p}`);
		await expectRejected(`${h}!.${p}.${s}`);
		await expectRejected(`${b64url("not json")}.${p}.${s}`);
		await expectRejected(`${h}.${b64url("not json")}.${s}`);
	});

	it("oversized token (> 4096 characters) even with a valid signature; ≤ 4096 still passes", async () => {
		async function tokenOfLength(target: number): Promise<string> {
			let pad = target;
			for (;;) {
				const token = await forge(header(), claims({ pad: "a".repeat(pad) }));
				if (token.length <= target) return token;
				pad -= Math.max(1, Math.floor(((token.length - target) * 3) / 4));
			}
		}
		const fits = await tokenOfLength(4096);
		expect(fits.length).toBeLessThanOrEqual(4096);
		expect(fits.length).toBeGreaterThan(4090);
		await expectAccepted(fits);
		const oversized = await forge(header(), claims({ pad: "a".repeat(4000) }));
		expect(oversized.length).toBeGreaterThan(4096);
		await expectRejected(oversized);
		await expectRejected(await forge(header(), claims({ pad: "a".repeat(100_000) })));
	});

	it("security: verification reads neither the database nor the key store", async () => {
		const before = t.store.reads;
		await expectAccepted(await t.mintToken({ orgId }));
		await expectRejected(await forge(header(), claims(), foreignKey));
		expect(t.store.reads).toBe(before);
	});
});

describe("GET /.well-known/jwks.json", () => {
	it("lists the public key (kid, x, EdDSA) with no private part", async () => {
		const response = await t.app.request("/.well-known/jwks.json");
		expect(response.status).toBe(200);
		expect(response.headers.get("X-Request-Id")).toBeTruthy();
		const text = await response.text();
		const jwks = JSON.parse(text) as { keys: Json[] };
		expect(jwks.keys).toHaveLength(1);
		const [key] = jwks.keys;
		expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", kid: realKey.kid, x: realKey.x });
		for (const k of jwks.keys) {
			expect(k).not.toHaveProperty("d");
			for (const privateField of ["p", "q", "dp", "dq", "qi", "k"])
				expect(k).not.toHaveProperty(privateField);
		}
		expect(text).not.toContain(realKey.d);
	});

	it("a client can verify the app's tokens with the published JWKS alone", async () => {
		const jwks = (await (await t.app.request("/.well-known/jwks.json")).json()) as Parameters<
			typeof createLocalJWKSet
		>[0];
		const token = await t.mintToken({ orgId, userId: "usr_42", role: "member" });
		const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
			algorithms: ["EdDSA"],
			issuer: t.jwt.issuer,
			audience: t.jwt.audience,
			currentDate: new Date(t.clock.now()),
		});
		expect(protectedHeader).toMatchObject({ alg: "EdDSA", typ: "at+jwt", kid: realKey.kid });
		expect(payload).toMatchObject({ sub: "usr_42", org_id: orgId, role: "member" });
		expect((payload.exp as number) - (payload.iat as number)).toBe(900);
		// And a foreign key's token does not verify against it.
		await expect(
			jwtVerify(await forge(header(), claims(), foreignKey), createLocalJWKSet(jwks), {
				algorithms: ["EdDSA"],
				currentDate: new Date(t.clock.now()),
			}),
		).rejects.toThrow();
	});
});

describe("verified-token cache", () => {
	it("a cached token does not vouch for a look-alike: one changed signature character is still refused", async () => {
		const token = await t.mintToken({ orgId, role: "viewer" });
		await expectAccepted(token);
		await expectAccepted(token);
		const last = token.at(-2) === "A" ? "B" : "A";
		await expectRejected(`${token.slice(0, -2)}${last}${token.at(-1)}`);
	});

	it("a cached token still expires on time (token_expired, not a stale pass)", async () => {
		const token = await t.mintToken({ orgId, role: "viewer" });
		const issuedAt = t.clock.now();
		await expectAccepted(token);
		t.clock.set(issuedAt + 900_000);
		await expectRejected(token, "token_expired");
		t.clock.set(issuedAt);
	});
});

describe("ACCESS_TOKEN_TTL_S: a shorter access-token lifetime (tests, strict deployments)", () => {
	it("defaults to 900 s, accepts 10 to 900 and refuses anything else at start", async () => {
		const keys = JSON.stringify({ keys: [await generateSigningKey()] });
		expect(jwtSettingsFrom({}, keys).accessTokenTtlS).toBe(ACCESS_TOKEN_TTL_S);
		expect(jwtSettingsFrom({ ACCESS_TOKEN_TTL_S: "10" }, keys).accessTokenTtlS).toBe(10);
		for (const bad of ["9", "901", "abc", "-5"]) {
			expect(() => jwtSettingsFrom({ ACCESS_TOKEN_TTL_S: bad }, keys), bad).toThrow(ConfigError);
		}
	});

	it("signs tokens whose exp is iat + the setting", async () => {
		const keys = JSON.stringify({ keys: [await generateSigningKey()] });
		const settings = jwtSettingsFrom({ ACCESS_TOKEN_TTL_S: "30" }, keys);
		const token = await createJwtSigner(
			settings,
			new FakeClock(Date.UTC(2026, 0, 1)),
		)({
			userId: "usr_x",
			orgId: "org_x",
			role: "viewer",
		});
		const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as {
			iat: number;
			exp: number;
		};
		expect(claims.exp - claims.iat).toBe(30);
	});
});
