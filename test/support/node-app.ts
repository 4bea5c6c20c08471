import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { createApp } from "../../src/app.js";
import type { AppDeps } from "../../src/app-env.js";
import { generateSigningKey, type Role } from "../../src/auth/jwt.js";
import { createKeyMemoryCache, type KeyStore, type KeyValueStore } from "../../src/auth/key-resolver.js";
import { createDbKeyStore } from "../../src/auth/key-store.js";
import type { PasswordHashing } from "../../src/auth/password.js";
import {
	type AuthSettings,
	type HeartbeatSettings,
	type JwtSettings,
	type OqlSettings,
	type OrgLimits,
	publicJwkOf,
} from "../../src/config.js";
import type { Database } from "../../src/db/client.js";
import { openMigratedDatabase } from "../../src/db/node.js";
import { openReaderPool } from "../../src/db/reader-pool.js";
import type { ReadLimits } from "../../src/db/reads.js";
import { assembleDeps } from "../../src/deps.js";
import { DEFAULT_ATTRIBUTE_LIMITS } from "../../src/ingest/batch.js";
import { type EmbeddedWriterOptions, openEmbeddedWriter } from "../../src/ingest/embedded-writer.js";
import { openWriterThread } from "../../src/ingest/writer-thread.js";
import type { LogLine } from "../../src/log.js";
import { nodeRequestBody } from "../../src/runtime/node-deps.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "./clock.js";
import { recordingLog } from "./log.js";
import { writerThreadBundle } from "./writer-thread-bundle.js";

export interface TestDatabase {
	client: Client;
	db: Database;
	dir: string;
	close(): void;
}

/** A real embedded libSQL database in a fresh temporary folder, migrated like production. */
export async function openTestDatabase(parent = tmpdir()): Promise<TestDatabase> {
	const dir = mkdtempSync(join(parent, "hexcovery-test-"));
	const { client, db } = await openMigratedDatabase(`file:${join(dir, "test.db")}`);
	return {
		client,
		db,
		dir,
		close() {
			client.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/**
 * scrypt at a test cost: the same scheme and PHC format, ~40× less CPU than PASSWORD_HASH_PARAMS
 * (2 MiB instead of 16 MiB, one lane instead of five), so the suite's hundreds of logins take
 * seconds instead of minutes. test/node/password.test.ts checks the real parameters; the servers
 * never set `passwordHashing` (test/node/password.test.ts too).
 */
export const TEST_PASSWORD_HASHING: PasswordHashing = Object.freeze({
	ln: 11,
	r: 8,
	p: 1,
	saltBytes: 16,
	keyBytes: 32,
});

/** Auth settings for tests: a fixed TOTP key, no setup token, one extra allowed origin, test-cost scrypt. */
export function testAuthSettings(overrides: Partial<AuthSettings> = {}): AuthSettings {
	return {
		setupToken: null,
		totpKey: new Uint8Array(32).fill(42),
		allowedOrigins: ["https://dashboard.example.com"],
		passwordHashing: TEST_PASSWORD_HASHING,
		...overrides,
	};
}

export async function testJwtSettings(): Promise<JwtSettings> {
	const key = await generateSigningKey();
	return {
		issuer: "hexcovery",
		audience: "hexcovery-api",
		signingKeys: [key],
		publicKeys: [publicJwkOf(key)],
	};
}

/** Counts the reads of the database tier, around the real store. */
export function countingStore(store: KeyStore): KeyStore & { reads: number } {
	const counted = {
		reads: 0,
		findByHash(hash: string) {
			counted.reads++;
			return store.findByHash(hash);
		},
		touchLastUsed: store.touchLastUsed.bind(store),
	};
	return counted;
}

export interface TestApp {
	app: ReturnType<typeof createApp>;
	deps: AppDeps;
	clock: FakeClock;
	database: TestDatabase;
	store: KeyStore & { reads: number };
	jwt: JwtSettings;
	/** What the app logged (src/log.ts): kept here, never printed. */
	logged: LogLine[];
	/** Signs a token with the app's key (login arrives with the sessions issue). */
	mintToken(claims: { orgId: string; userId?: string; role?: Role }): Promise<string>;
	createOrgWithKey(name?: string): Promise<{ orgId: string; key: string; keyId: string }>;
	close(): Promise<void>;
}

/** The app as the Node runtime builds it, over a real embedded database, with a fake clock. */
export async function createTestApp(
	options: {
		kv?: KeyValueStore;
		clock?: FakeClock;
		heartbeats?: HeartbeatSettings;
		oql?: OqlSettings;
		/**
		 * The Node runtime's group-commit writer over the same file (pings and OTLP go through it);
		 * an object: with these options (e.g. an injected fsync).
		 */
		writer?: boolean | EmbeddedWriterOptions;
		/** The same writer in its own thread, as the Node server runs it (src/ingest/writer-thread.ts). */
		writerThread?: boolean;
		/** Reader processes for heavy reads, as the Node runtime runs them (default: none, in-process). */
		readPool?: number;
		reads?: ReadLimits;
		orgLimits?: OrgLimits;
		/** The database folder (e.g. on a small tmpfs); a fresh temporary folder by default. */
		dir?: string;
	} = {},
): Promise<TestApp> {
	const database = await openTestDatabase(options.dir);
	const writer = options.writer
		? openEmbeddedWriter(join(database.dir, "test.db"), options.writer === true ? {} : options.writer)
		: undefined;
	const clock = options.clock ?? new FakeClock(Date.now());
	const jwt = await testJwtSettings();
	const store = countingStore(createDbKeyStore(database.db));
	const { log, lines: logged } = recordingLog();
	const deps = assembleDeps({
		db: database.db,
		clock,
		config: {
			jwt,
			auth: testAuthSettings(),
			...(options.heartbeats && { heartbeats: options.heartbeats }),
			...(options.oql && { oql: options.oql }),
			...(options.reads && { reads: options.reads }),
			...(options.orgLimits && { orgLimits: options.orgLimits }),
		},
		...(options.readPool && {
			readExecutor: openReaderPool(join(database.dir, "test.db"), { size: options.readPool, log }),
		}),
		keyMemory: createKeyMemoryCache(clock),
		kv: options.kv,
		keyStore: store,
		log,
		// Tests name the client address in a header to exercise per-address throttling.
		clientAddress: (c) => c.req.header("X-Test-Client-Address") ?? "127.0.0.1",
		// As the Node runtime: over a real socket, bodies are read from Node's request.
		requestBody: nodeRequestBody,
	});
	if (writer) deps.writer = writer;
	if (options.writerThread) {
		deps.writerThread = openWriterThread(join(database.dir, "test.db"), {
			attributeLimits: DEFAULT_ATTRIBUTE_LIMITS,
			log,
			entry: await writerThreadBundle(),
		});
		await deps.writerThread.ready;
	}
	const sign = deps.signAccessToken;
	return {
		app: createApp(deps),
		deps,
		clock,
		database,
		store,
		jwt,
		logged,
		mintToken: ({ orgId, userId = "usr_test", role = "member" }) => sign({ orgId, userId, role }),
		async createOrgWithKey(name = "Acme") {
			const org = await createOrg(database.db, clock, name);
			const { key, summary } = await createApiKey(database.db, clock, {
				orgId: org.id,
				name: "test key",
				createdBy: "cli",
			});
			return { orgId: org.id, key, keyId: summary.id };
		},
		async close() {
			writer?.close();
			await deps.writerThread?.close();
			await deps.reads.executor.close();
			database.close();
		},
	};
}
