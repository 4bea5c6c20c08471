import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Client } from "@libsql/client";
import type { AppDeps } from "../app-env.js";
import { createJwtVerifier, generateSigningKey } from "../auth/jwt.js";
import { createKeyMemoryCache, KeyResolver } from "../auth/key-resolver.js";
import { createDbKeyStore } from "../auth/key-store.js";
import { type Clock, systemClock } from "../clock.js";
import { type AppConfig, jwtSettingsFrom, optionalText, type Settings } from "../config.js";
import type { Database } from "../db/client.js";
import { openMigratedDatabase } from "../db/node.js";

export const DEFAULT_DATABASE_URL = "file:./data/hexcovery.db";

/** The per-process memory tier of the key resolver (Node's "isolate" is the process). */
const keyMemory = createKeyMemoryCache(systemClock);

/**
 * JWT signing keys: JWT_SIGNING_KEYS when set; otherwise a development key kept in
 * `<data dir>/jwt-keys.json`, created on first use (never for production: say so in the log).
 */
export async function signingKeysJson(
	settings: Settings,
	dataDir: string,
	log: (line: object) => void,
): Promise<string> {
	const configured = optionalText(settings, "JWT_SIGNING_KEYS", "");
	if (configured) return configured;
	const path = join(dataDir, "jwt-keys.json");
	if (!existsSync(path)) {
		mkdirSync(dirname(path), { recursive: true });
		writeFileSync(path, `${JSON.stringify({ keys: [await generateSigningKey()] }, null, 2)}\n`, {
			mode: 0o600,
		});
		log({ level: "warn", msg: "JWT_SIGNING_KEYS is not set: generated a development signing key", path });
	} else {
		log({ level: "warn", msg: "JWT_SIGNING_KEYS is not set: using the development signing key", path });
	}
	return readFileSync(path, "utf8");
}

export interface NodeDeps {
	deps: AppDeps;
	client: Client;
}

/** Builds the Node runtime's deps: embedded libSQL (migrated), memory-only key cache, config from env. */
export async function buildNodeDeps(
	settings: Settings,
	options: { clock?: Clock; log?: (line: object) => void; db?: { client: Client; db: Database } } = {},
): Promise<NodeDeps> {
	const clock = options.clock ?? systemClock;
	const log = options.log ?? ((line: object) => console.log(JSON.stringify(line)));
	const databaseUrl = optionalText(settings, "DATABASE_URL", DEFAULT_DATABASE_URL);
	const dataDir = optionalText(settings, "DATA_DIR", "./data");
	const opened =
		options.db ??
		(await openMigratedDatabase(databaseUrl, optionalText(settings, "DATABASE_AUTH_TOKEN", "") || undefined));
	const config: AppConfig = { jwt: jwtSettingsFrom(settings, await signingKeysJson(settings, dataDir, log)) };
	const deps: AppDeps = {
		db: opened.db,
		clock,
		config,
		keyResolver: new KeyResolver({ store: createDbKeyStore(opened.db), memory: keyMemory, clock }),
		verifyJwt: createJwtVerifier(config.jwt, clock),
	};
	return { deps, client: opened.client };
}
