import { ConfigError, optionalText, type Settings } from "../config.js";

/**
 * Where telemetry (logs, spans, metric points) is stored: libSQL, the app's own database (the
 * default), or ClickHouse when TELEMETRY_URL is set (docs/scale-out.md, "Configuration"). Metadata
 * (orgs, users, keys, monitors, dashboards, schema discovery, queue receipts) stays in libSQL.
 */
export interface ClickHouseSettings {
	/** TELEMETRY_URL: the HTTP interface's origin, `http(s)://host:port` (no path, credentials or query). */
	url: string;
	/** TELEMETRY_USER (default `default`). */
	username: string;
	/** TELEMETRY_PASSWORD (default empty). */
	password: string;
	/** TELEMETRY_DATABASE (default `default`). */
	database: string;
}

const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * TELEMETRY_URL and its companions; null when TELEMETRY_URL is unset (telemetry in libSQL). A bad
 * value is a ConfigError naming the setting (never its value: a URL may carry a secret).
 */
export function clickHouseSettingsFrom(settings: Settings): ClickHouseSettings | null {
	const raw = optionalText(settings, "TELEMETRY_URL", "").trim();
	if (raw === "") {
		for (const name of ["TELEMETRY_USER", "TELEMETRY_PASSWORD", "TELEMETRY_DATABASE"]) {
			if (optionalText(settings, name, "") !== "")
				throw new ConfigError("TELEMETRY_URL", "missing", `${name} is set without it`);
		}
		return null;
	}
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		throw new ConfigError(
			"TELEMETRY_URL",
			"invalid",
			"expected http(s)://host:port of ClickHouse's HTTP interface",
		);
	}
	if (url.protocol !== "http:" && url.protocol !== "https:")
		throw new ConfigError(
			"TELEMETRY_URL",
			"invalid",
			"expected an http: or https: URL (ClickHouse's HTTP interface)",
		);
	if (url.username !== "" || url.password !== "")
		throw new ConfigError(
			"TELEMETRY_URL",
			"invalid",
			"put credentials in TELEMETRY_USER and TELEMETRY_PASSWORD",
		);
	if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "")
		throw new ConfigError(
			"TELEMETRY_URL",
			"invalid",
			"expected no path or query; name the database in TELEMETRY_DATABASE",
		);
	const database = optionalText(settings, "TELEMETRY_DATABASE", "default");
	if (!DATABASE_NAME.test(database))
		throw new ConfigError("TELEMETRY_DATABASE", "invalid", "expected a name of letters, digits and _");
	return {
		url: url.origin,
		username: optionalText(settings, "TELEMETRY_USER", "default"),
		password: optionalText(settings, "TELEMETRY_PASSWORD", ""),
		database,
	};
}
