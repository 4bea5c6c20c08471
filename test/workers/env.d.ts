import type { KeyValueStore } from "../../src/auth/key-resolver.js";

declare global {
	namespace Cloudflare {
		interface GlobalProps {
			mainModule: typeof import("../../src/runtime/worker.js");
		}
		interface Env {
			DATABASE_URL: string;
			/** The ClickHouse stand-in (test/support/edge-clickhouse.ts), when the engine is installed. */
			CLICKHOUSE_URL: string;
			JWT_SIGNING_KEYS: string;
			TOTP_ENCRYPTION_KEY: string;
			KEY_CACHE: KeyValueStore;
			/** The telemetry queue's producer (vitest.config.ts), bound as TELEMETRY_QUEUE by queue tests. */
			QUEUED_TELEMETRY: Queue<string>;
			/** Miniflare's R2 (vitest.config.ts): the queue path's spill of rows too large for a message. */
			TELEMETRY_SPILL: R2Bucket;
		}
	}
}
