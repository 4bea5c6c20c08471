import { ConfigError, optionalText, type Settings } from "../config.js";
import { type AttributeLimits, DEFAULT_ATTRIBUTE_LIMITS, STORED_SIZE_PER_BODY_BYTE } from "./batch.js";

/** OTLP ingest limits (docs/otlp.md). */
export interface OtlpSettings {
	/** Largest request body, checked before and after decompression (HTTP 413, gRPC RESOURCE_EXHAUSTED). */
	maxBodyBytes: number;
	/** Export requests of one org in flight at once in one isolate/process; more get 429. */
	maxConcurrentPerOrg: number;
	/** Attributes kept per record, resource and scope; the rest are dropped and reported. */
	attributeLimits: AttributeLimits;
	/** Bytes of exports one org may send per second, on average, per process or isolate (then 429). */
	orgBytesPerSecond: number;
	/** The burst above that average (at least one body of maxBodyBytes). */
	orgByteBurst: number;
	/** Export bytes in flight in this process or isolate over all orgs (at least one body); then 429. */
	maxBytesInFlight: number;
}

export const DEFAULT_OTLP_SETTINGS: OtlpSettings = {
	maxBodyBytes: 16 * 1024 * 1024,
	maxConcurrentPerOrg: 16,
	attributeLimits: DEFAULT_ATTRIBUTE_LIMITS,
	orgBytesPerSecond: 8 * 1024 * 1024,
	orgByteBurst: 32 * 1024 * 1024,
	maxBytesInFlight: 256 * 1024 * 1024,
};

/** The most an export's rows may take as stored: a multiple of the body limit (src/ingest/batch.ts). */
export const maxStoredCharsOf = (settings: Pick<OtlpSettings, "maxBodyBytes">): number =>
	settings.maxBodyBytes * STORED_SIZE_PER_BODY_BYTE;

export function positiveInteger(settings: Settings, name: string, fallback: number): number {
	const raw = optionalText(settings, name, String(fallback));
	const value = Number(raw);
	if (!Number.isInteger(value) || value < 1)
		throw new ConfigError(name, "invalid", "expected a positive integer");
	return value;
}

/**
 * OTLP_MAX_BODY_BYTES (default 16 MiB), OTLP_MAX_CONCURRENT_PER_ORG (default 16) and
 * OTLP_MAX_ATTRIBUTES_PER_RECORD|RESOURCE|SCOPE (default 256 each), OTLP_ORG_BYTES_PER_SECOND
 * (default 8 MiB), OTLP_ORG_BYTE_BURST (default 32 MiB) and OTLP_MAX_BYTES_IN_FLIGHT (default 256 MiB).
 */
export function otlpSettingsFrom(settings: Settings): OtlpSettings {
	return {
		maxBodyBytes: positiveInteger(settings, "OTLP_MAX_BODY_BYTES", DEFAULT_OTLP_SETTINGS.maxBodyBytes),
		maxConcurrentPerOrg: positiveInteger(
			settings,
			"OTLP_MAX_CONCURRENT_PER_ORG",
			DEFAULT_OTLP_SETTINGS.maxConcurrentPerOrg,
		),
		attributeLimits: {
			perRecord: positiveInteger(
				settings,
				"OTLP_MAX_ATTRIBUTES_PER_RECORD",
				DEFAULT_ATTRIBUTE_LIMITS.perRecord,
			),
			perResource: positiveInteger(
				settings,
				"OTLP_MAX_ATTRIBUTES_PER_RESOURCE",
				DEFAULT_ATTRIBUTE_LIMITS.perResource,
			),
			perScope: positiveInteger(settings, "OTLP_MAX_ATTRIBUTES_PER_SCOPE", DEFAULT_ATTRIBUTE_LIMITS.perScope),
		},
		orgBytesPerSecond: positiveInteger(
			settings,
			"OTLP_ORG_BYTES_PER_SECOND",
			DEFAULT_OTLP_SETTINGS.orgBytesPerSecond,
		),
		orgByteBurst: positiveInteger(settings, "OTLP_ORG_BYTE_BURST", DEFAULT_OTLP_SETTINGS.orgByteBurst),
		maxBytesInFlight: positiveInteger(
			settings,
			"OTLP_MAX_BYTES_IN_FLIGHT",
			DEFAULT_OTLP_SETTINGS.maxBytesInFlight,
		),
	};
}
