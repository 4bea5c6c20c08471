import { z } from "zod";
import type { PasswordHashing } from "./auth/password.js";
import { parseEncryptionKey } from "./auth/totp.js";
import { DEFAULT_READ_LIMITS, type ReadLimits } from "./db/reads.js";
import { DEFAULT_DATABASE_TIMEOUT_MS } from "./db/remote.js";
import type { OtlpSettings } from "./ingest/settings.js";

/** A setting is missing or invalid. The message names the setting, never its value. */
export class ConfigError extends Error {
	constructor(
		readonly setting: string,
		problem: "missing" | "invalid",
		hint?: string,
	) {
		// A hint that ends in its own punctuation ("did you mean file:…?") gets no period after it.
		super(
			`Setting ${setting} is ${problem}${hint ? `: ${hint}` : ""}${hint && /[.?!]$/.test(hint) ? "" : "."}`,
		);
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
	/** ACCESS_TOKEN_TTL_S: access-token lifetime, 10–900 s (default 900; shorter for tests and strict deployments). */
	accessTokenTtlS?: number;
}

export interface AuthSettings {
	/** When set, `POST /api/v1/setup` needs a matching `X-Setup-Token`. */
	setupToken: string | null;
	/** AES-256-GCM key for TOTP secrets at rest (also keys the recovery-code hashes). */
	totpKey: Uint8Array;
	/** Origins besides the API's own that may call login/refresh/logout (the dashboard's). */
	allowedOrigins: string[];
	/**
	 * The scrypt parameters of new password hashes; absent: PASSWORD_HASH_PARAMS (OWASP's). Not a
	 * setting: the servers never set it. The test suite lowers it so that hundreds of logins do not
	 * cost minutes of CPU (scrypt itself, the PHC format and every check stay the same).
	 */
	passwordHashing?: PasswordHashing;
}

/** Heartbeat alerts (docs/heartbeats.md). */
export interface HeartbeatSettings {
	/**
	 * WEBHOOK_ALLOW_PRIVATE_TARGETS=true lets notification channels point at loopback, private and
	 * link-local addresses (a receiver on the same machine, tests). Off by default.
	 */
	allowPrivateWebhookTargets: boolean;
	/** HEARTBEAT_MAX_MONITORS_PER_ORG (default 1,000): a first ping beyond it is 409 `monitor_limit_reached`. */
	maxMonitorsPerOrg?: number;
	/** HEARTBEAT_MAX_CHANNELS_PER_ORG (default 20): a channel beyond it is 409 `channel_limit_reached`. */
	maxChannelsPerOrg?: number;
}

export const DEFAULT_MAX_MONITORS_PER_ORG = 1_000;
export const DEFAULT_MAX_CHANNELS_PER_ORG = 20;

/**
 * How many of each the org may have (docs/limits.md); beyond, 409 `<kind>_limit_reached`. Lists of
 * them are answered whole, so these bound those answers too.
 */
export interface OrgLimits {
	/** ORG_MAX_USERS (default 10,000), disabled accounts included. */
	users: number;
	/** ORG_MAX_TEAMS (default 1,000). */
	teams: number;
	/** ORG_MAX_API_KEYS (default 1,000): keys not revoked (expired ones count until revoked). */
	apiKeys: number;
	/** ORG_MAX_DASHBOARDS (default 5,000). */
	dashboards: number;
	/** ORG_MAX_SAVED_QUERIES (default 10,000), private ones included. */
	savedQueries: number;
}

export const DEFAULT_ORG_LIMITS: OrgLimits = {
	users: 10_000,
	teams: 1_000,
	apiKeys: 1_000,
	dashboards: 5_000,
	savedQueries: 10_000,
};

export interface AppConfig {
	jwt: JwtSettings;
	auth: AuthSettings;
	/** OTLP ingest limits; the defaults when absent. */
	otlp?: OtlpSettings;
	/** Absent: the defaults (private webhook targets refused). */
	heartbeats?: HeartbeatSettings;
	/** Absent: DEFAULT_OQL_SETTINGS. */
	oql?: OqlSettings;
	/** Heavy reads in flight per org and in total (src/db/reads.ts); absent: DEFAULT_READ_LIMITS. */
	reads?: ReadLimits;
	/** Absent: DEFAULT_ORG_LIMITS. */
	orgLimits?: OrgLimits;
}

/** OQL (`POST /api/v1/dsl`, dashboards, saved queries; docs/oql.md). */
export interface OqlSettings {
	/** OQL_MAX_RANGE_DAYS: the widest time window a query may read (default 31). */
	maxRangeDays: number;
	/** OQL_TIMEOUT_MS: a statement still running after this answers 503 `query_timeout` (default 10,000). */
	timeoutMs: number;
	/**
	 * OQL_MAX_MATCH_COST: the most work a statement's MATCHES may do, as characters of text in the
	 * window × the pattern's per-character cost (its states squared); beyond it, 400
	 * `oql_range_too_large` before anything runs. Default 10^10, about 2.5 s of worst-case matching.
	 */
	maxMatchCost?: number;
}

export const DEFAULT_MAX_MATCH_COST = 1e10;
export const DEFAULT_OQL_SETTINGS: OqlSettings = {
	maxRangeDays: 31,
	timeoutMs: 10_000,
	maxMatchCost: DEFAULT_MAX_MATCH_COST,
};

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
		accessTokenTtlS: Math.round(
			numberSetting(settings, "ACCESS_TOKEN_TTL_S", 900, 10, 900, "expected seconds, 10 to 900"),
		),
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

export function heartbeatSettingsFrom(settings: Settings): HeartbeatSettings {
	const raw = optionalText(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", "false").toLowerCase();
	if (raw !== "true" && raw !== "false" && raw !== "1" && raw !== "0") {
		throw new ConfigError("WEBHOOK_ALLOW_PRIVATE_TARGETS", "invalid", "expected true or false");
	}
	const count = (name: string, fallback: number) => {
		const text = optionalText(settings, name, String(fallback));
		const value = Number(text);
		if (!/^\d+$/.test(text) || value < 1 || value > 1_000_000)
			throw new ConfigError(name, "invalid", "expected a whole number from 1 to 1000000");
		return value;
	};
	return {
		allowPrivateWebhookTargets: raw === "true" || raw === "1",
		maxMonitorsPerOrg: count("HEARTBEAT_MAX_MONITORS_PER_ORG", DEFAULT_MAX_MONITORS_PER_ORG),
		maxChannelsPerOrg: count("HEARTBEAT_MAX_CHANNELS_PER_ORG", DEFAULT_MAX_CHANNELS_PER_ORG),
	};
}

/** A non-negative decimal setting within [min, max], or the fallback when unset. */
function numberSetting(
	settings: Settings,
	name: string,
	fallback: number,
	min: number,
	max: number,
	hint: string,
): number {
	const raw = optionalText(settings, name, String(fallback));
	const value = Number(raw);
	if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(value) || value < min || value > max) {
		throw new ConfigError(name, "invalid", hint);
	}
	return value;
}

export function oqlSettingsFrom(settings: Settings): OqlSettings {
	const number = (name: string, fallback: number, min: number, max: number, hint: string) =>
		numberSetting(settings, name, fallback, min, max, hint);
	return {
		maxRangeDays: number(
			"OQL_MAX_RANGE_DAYS",
			DEFAULT_OQL_SETTINGS.maxRangeDays,
			1 / 24,
			3650,
			"expected a number of days from 0.0417 (1 h) to 3650",
		),
		timeoutMs: Math.round(
			number(
				"OQL_TIMEOUT_MS",
				DEFAULT_OQL_SETTINGS.timeoutMs,
				1,
				600_000,
				"expected milliseconds, 1 to 600000",
			),
		),
		maxMatchCost: number(
			"OQL_MAX_MATCH_COST",
			DEFAULT_MAX_MATCH_COST,
			1,
			1e15,
			"expected a number from 1 to 1e15 (written out in digits)",
		),
	};
}

/** A whole number setting within [min, max]; the fallback when unset. */
export function integerFrom(
	settings: Settings,
	name: string,
	fallback: number,
	min: number,
	max: number,
): number {
	const raw = optionalText(settings, name, String(fallback)).trim();
	const value = Number(raw);
	if (!/^\d+$/.test(raw) || value < min || value > max) {
		throw new ConfigError(name, "invalid", `expected a whole number from ${min} to ${max}`);
	}
	return value;
}

/** HEAVY_READS_PER_ORG and HEAVY_READS_TOTAL (docs/performance.md, "Heavy reads"). */
export function readLimitsFrom(settings: Settings): ReadLimits {
	return {
		perOrg: integerFrom(settings, "HEAVY_READS_PER_ORG", DEFAULT_READ_LIMITS.perOrg, 1, 10_000),
		total: integerFrom(settings, "HEAVY_READS_TOTAL", DEFAULT_READ_LIMITS.total, 1, 100_000),
	};
}

/** ORG_MAX_USERS, ORG_MAX_TEAMS, ORG_MAX_API_KEYS, ORG_MAX_DASHBOARDS, ORG_MAX_SAVED_QUERIES. */
export function orgLimitsFrom(settings: Settings): OrgLimits {
	const limit = (name: string, fallback: number) => integerFrom(settings, name, fallback, 1, 1_000_000);
	return {
		users: limit("ORG_MAX_USERS", DEFAULT_ORG_LIMITS.users),
		teams: limit("ORG_MAX_TEAMS", DEFAULT_ORG_LIMITS.teams),
		apiKeys: limit("ORG_MAX_API_KEYS", DEFAULT_ORG_LIMITS.apiKeys),
		dashboards: limit("ORG_MAX_DASHBOARDS", DEFAULT_ORG_LIMITS.dashboards),
		savedQueries: limit("ORG_MAX_SAVED_QUERIES", DEFAULT_ORG_LIMITS.savedQueries),
	};
}

/** READ_POOL_SIZE (Node): reader processes for heavy reads; 0 runs them on the main thread. */
export function readPoolSizeFrom(settings: Settings): number {
	return integerFrom(settings, "READ_POOL_SIZE", 2, 0, 64);
}

/** DATABASE_TIMEOUT_MS (Workers): the deadline of one remote libSQL call. */
export function databaseTimeoutFrom(settings: Settings): number {
	return integerFrom(settings, "DATABASE_TIMEOUT_MS", DEFAULT_DATABASE_TIMEOUT_MS, 100, 600_000);
}

export function portFrom(settings: Settings, name: string, fallback: number): number {
	const raw = optionalText(settings, name, String(fallback));
	const port = Number(raw);
	if (!Number.isInteger(port) || port < 0 || port > 65535)
		throw new ConfigError(name, "invalid", "expected a port");
	return port;
}

export { optionalText };
