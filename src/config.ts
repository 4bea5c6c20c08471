import { z } from "zod";
import { parseEncryptionKey } from "./auth/totp.js";

/** A setting is missing or invalid. The message names the setting, never its value. */
export class ConfigError extends Error {
	constructor(
		readonly setting: string,
		problem: "missing" | "invalid",
		hint?: string,
	) {
		super(`Setting ${setting} is ${problem}${hint ? `: ${hint}` : ""}.`);
		this.name = "ConfigError";
	}
}

const ed25519PrivateJwk = z.looseObject({
	kty: z.literal("OKP"),
	crv: z.literal("Ed25519"),
	/** 32 bytes in base64url, unpadded (RFC 8037). */
	x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	d: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
	kid: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
	alg: z.literal("EdDSA").optional(),
});
const privateJwks = z.object({ keys: z.array(ed25519PrivateJwk).min(1) });
export type PrivateJwk = z.infer<typeof ed25519PrivateJwk>;

export interface PublicJwk {
	kty: "OKP";
	crv: "Ed25519";
	x: string;
	kid: string;
	alg: "EdDSA";
	use: "sig";
}

export interface JwtSettings {
	issuer: string;
	audience: string;
	/** The first key signs; every key verifies (rotation). */
	signingKeys: PrivateJwk[];
	publicKeys: PublicJwk[];
}

export interface AuthSettings {
	/** When set, `POST /api/v1/setup` needs a matching `X-Setup-Token`. */
	setupToken: string | null;
	/** AES-256-GCM key for TOTP secrets at rest (also keys the recovery-code hashes). */
	totpKey: Uint8Array;
	/** Origins besides the API's own that may call login/refresh/logout (the dashboard's). */
	allowedOrigins: string[];
}

export interface AppConfig {
	jwt: JwtSettings;
	auth: AuthSettings;
}

/** The raw settings both runtimes read (process.env on Node, the Worker's env). */
export type Settings = Record<string, unknown>;

function optionalText(settings: Settings, name: string, fallback: string): string {
	const value = settings[name];
	if (value === undefined || value === "") return fallback;
	if (typeof value !== "string") throw new ConfigError(name, "invalid", "expected text");
	return value;
}

export function requiredText(settings: Settings, name: string): string {
	const value = settings[name];
	if (value === undefined || value === null || value === "") throw new ConfigError(name, "missing");
	if (typeof value !== "string") throw new ConfigError(name, "invalid", "expected text");
	return value;
}

export function publicJwkOf(key: PrivateJwk): PublicJwk {
	return { kty: "OKP", crv: "Ed25519", x: key.x, kid: key.kid, alg: "EdDSA", use: "sig" };
}

export function parseSigningKeys(json: string, name = "JWT_SIGNING_KEYS"): PrivateJwk[] {
	let parsed: unknown;
	try {
		parsed = JSON.parse(json);
	} catch {
		throw new ConfigError(name, "invalid", "expected a private JWKS as JSON");
	}
	const result = privateJwks.safeParse(parsed);
	if (!result.success)
		throw new ConfigError(name, "invalid", "expected a JWKS of Ed25519 private keys with kid");
	const kids = new Set(result.data.keys.map((k) => k.kid));
	if (kids.size !== result.data.keys.length) throw new ConfigError(name, "invalid", "duplicate kid");
	return result.data.keys;
}

export function jwtSettingsFrom(settings: Settings, signingKeysJson: string): JwtSettings {
	const signingKeys = parseSigningKeys(signingKeysJson);
	return {
		issuer: optionalText(settings, "JWT_ISSUER", "hexcovery"),
		audience: optionalText(settings, "JWT_AUDIENCE", "hexcovery-api"),
		signingKeys,
		publicKeys: signingKeys.map(publicJwkOf),
	};
}

export function authSettingsFrom(settings: Settings, totpKeyText: string): AuthSettings {
	let totpKey: Uint8Array;
	try {
		totpKey = parseEncryptionKey(totpKeyText);
	} catch {
		throw new ConfigError("TOTP_ENCRYPTION_KEY", "invalid", "expected 32 bytes as base64, base64url or hex");
	}
	const origins = optionalText(settings, "ALLOWED_ORIGINS", "")
		.split(",")
		.map((o) => o.trim())
		.filter((o) => o !== "");
	for (const origin of origins) {
		let parsed: URL | undefined;
		try {
			parsed = new URL(origin);
		} catch {
			parsed = undefined;
		}
		if (!parsed || parsed.origin !== origin) {
			throw new ConfigError(
				"ALLOWED_ORIGINS",
				"invalid",
				"expected comma-separated origins like https://app.example.com",
			);
		}
	}
	return { setupToken: optionalText(settings, "SETUP_TOKEN", "") || null, totpKey, allowedOrigins: origins };
}

export function portFrom(settings: Settings, name: string, fallback: number): number {
	const raw = optionalText(settings, name, String(fallback));
	const port = Number(raw);
	if (!Number.isInteger(port) || port < 0 || port > 65535)
		throw new ConfigError(name, "invalid", "expected a port");
	return port;
}

export { optionalText };
