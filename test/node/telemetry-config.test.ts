/**
 * TELEMETRY_URL and its companions (src/telemetry/config.ts): unset keeps telemetry in libSQL; a
 * ClickHouse HTTP origin with credentials in their own settings is accepted; anything else stops the
 * start with a ConfigError that names the setting and never echoes its value.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config.js";
import { buildNodeDeps } from "../../src/runtime/node-deps.js";
import { clickHouseSettingsFrom } from "../../src/telemetry/config.js";
import { openTestDatabase } from "../support/node-app.js";

describe("TELEMETRY_URL", () => {
	it("unset: telemetry stays in libSQL", () => {
		expect(clickHouseSettingsFrom({})).toBeNull();
		expect(clickHouseSettingsFrom({ TELEMETRY_URL: "" })).toBeNull();
	});

	it("an http(s) origin, with user, password and database from their settings", () => {
		expect(clickHouseSettingsFrom({ TELEMETRY_URL: "https://ch.example.com:8443" })).toEqual({
			url: "https://ch.example.com:8443",
			username: "default",
			password: "",
			database: "default",
		});
		expect(
			clickHouseSettingsFrom({
				TELEMETRY_URL: "http://127.0.0.1:8123/",
				TELEMETRY_USER: "hex",
				TELEMETRY_PASSWORD: "pw",
				TELEMETRY_DATABASE: "telemetry_1",
			}),
		).toEqual({ url: "http://127.0.0.1:8123", username: "hex", password: "pw", database: "telemetry_1" });
	});

	it.each([
		["not a url", "expected http(s)://host:port"],
		["libsql://ch.example.com", "expected an http: or https: URL"],
		["https://user:secret-pw@ch.example.com:8443", "TELEMETRY_USER and TELEMETRY_PASSWORD"],
		["https://ch.example.com:8443/telemetry", "no path or query"],
		["https://ch.example.com:8443/?database=x", "no path or query"],
	])("refuses %s", (url, hint) => {
		const attempt = () => clickHouseSettingsFrom({ TELEMETRY_URL: url });
		expect(attempt).toThrow(ConfigError);
		expect(attempt).toThrow(/^Setting TELEMETRY_URL is invalid/);
		expect(attempt).toThrow(hint);
		try {
			attempt();
		} catch (error) {
			expect((error as Error).message).not.toContain("secret-pw");
		}
	});

	it("refuses a bad database name, and credentials without a URL", () => {
		expect(() =>
			clickHouseSettingsFrom({ TELEMETRY_URL: "http://ch:8123", TELEMETRY_DATABASE: "a;DROP" }),
		).toThrow(/^Setting TELEMETRY_DATABASE is invalid/);
		expect(() => clickHouseSettingsFrom({ TELEMETRY_PASSWORD: "pw" })).toThrow(
			/^Setting TELEMETRY_URL is missing: TELEMETRY_PASSWORD is set without it/,
		);
	});

	it("a ClickHouse that does not answer stops the start with the setting and the origin named", async () => {
		const database = await openTestDatabase();
		try {
			// Port 9 on loopback (discard): nothing listens there in the test environment.
			await expect(
				buildNodeDeps(
					{ TELEMETRY_URL: "http://127.0.0.1:9", TELEMETRY_PASSWORD: "secret-pw", DATA_DIR: database.dir },
					{ db: database, log: () => {} },
				),
			).rejects.toThrow(
				/^Setting TELEMETRY_URL is invalid: ClickHouse at http:\/\/127\.0\.0\.1:9 \(database default, user default\) could not be migrated: /,
			);
		} finally {
			database.close();
		}
	});
});
