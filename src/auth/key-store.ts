import { and, eq, isNull, lte, or } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { apiKeys } from "../db/schema.js";
import type { KeyRecord, KeyStore } from "./key-resolver.js";

/** Tier 3 of the key resolver: one indexed read by lookup hash returns all the auth decision needs. */
export function createDbKeyStore(db: Database): KeyStore {
	return {
		async findByHash(keyHash: string): Promise<KeyRecord | null> {
			const rows = await db
				.select({
					keyId: apiKeys.id,
					orgId: apiKeys.orgId,
					name: apiKeys.name,
					expiresAt: apiKeys.expiresAt,
					revokedAt: apiKeys.revokedAt,
				})
				.from(apiKeys)
				.where(eq(apiKeys.keyHash, keyHash))
				.limit(1);
			return rows[0] ?? null;
		},
		async touchLastUsed(keyId: string, at: number, minIntervalMs: number): Promise<void> {
			await db
				.update(apiKeys)
				.set({ lastUsedAt: at })
				.where(
					and(
						eq(apiKeys.id, keyId),
						or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, at - minIntervalMs)),
					),
				);
		},
	};
}
