import { and, desc, eq, isNull, type SQL } from "drizzle-orm";
import { apiKeyStart, generateApiKey, hashApiKey } from "../auth/api-key.js";
import type { Defer, KeyResolver } from "../auth/key-resolver.js";
import type { Clock } from "../clock.js";
import { DEFAULT_ORG_LIMITS } from "../config.js";
import type { Database } from "../db/client.js";
import { insertUnderLimit } from "../db/insert-under-limit.js";
import { apiKeys, orgs } from "../db/schema.js";
import { newId } from "../ids.js";
import { limitReached } from "./org-limits.js";

export interface ApiKeySummary {
	id: string;
	orgId: string;
	name: string;
	start: string;
	createdAt: number;
	createdBy: string;
	lastUsedAt: number | null;
	expiresAt: number | null;
	revokedAt: number | null;
}

export type ApiKeyStatus = "active" | "revoked" | "expired";

export function apiKeyStatus(key: ApiKeySummary, now: number): ApiKeyStatus {
	if (key.revokedAt !== null) return "revoked";
	if (key.expiresAt !== null && key.expiresAt <= now) return "expired";
	return "active";
}

export async function createOrg(
	db: Database,
	clock: Clock,
	name: string,
): Promise<{ id: string; name: string }> {
	const org = { id: newId("org"), name, createdAt: clock.now() };
	await db.insert(orgs).values(org);
	return { id: org.id, name };
}

/**
 * Creates a key and returns it with its secret: the only time the secret exists outside the caller.
 * 409 `api_key_limit_reached` when the org has `limit` keys not revoked.
 */
export async function createApiKey(
	db: Database,
	clock: Clock,
	input: { orgId: string; name: string; createdBy: string; expiresAt?: number | null },
	limit = DEFAULT_ORG_LIMITS.apiKeys,
): Promise<{ key: string; summary: ApiKeySummary }> {
	const key = generateApiKey();
	const summary: ApiKeySummary = {
		id: newId("key"),
		orgId: input.orgId,
		name: input.name,
		start: apiKeyStart(key),
		createdAt: clock.now(),
		createdBy: input.createdBy,
		lastUsedAt: null,
		expiresAt: input.expiresAt ?? null,
		revokedAt: null,
	};
	const live = and(eq(apiKeys.orgId, input.orgId), isNull(apiKeys.revokedAt)) as SQL;
	if (
		(await insertUnderLimit(db, apiKeys, { ...summary, keyHash: hashApiKey(key) }, live, limit)) === "full"
	) {
		throw limitReached("apiKeys", limit);
	}
	return { key, summary };
}

const summaryColumns = {
	id: apiKeys.id,
	orgId: apiKeys.orgId,
	name: apiKeys.name,
	start: apiKeys.start,
	createdAt: apiKeys.createdAt,
	createdBy: apiKeys.createdBy,
	lastUsedAt: apiKeys.lastUsedAt,
	expiresAt: apiKeys.expiresAt,
	revokedAt: apiKeys.revokedAt,
};

export async function listApiKeys(db: Database, orgId: string): Promise<ApiKeySummary[]> {
	return db
		.select(summaryColumns)
		.from(apiKeys)
		.where(eq(apiKeys.orgId, orgId))
		.orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

/**
 * Revokes a key and removes it from this isolate's memory and from KV at once. `orgId` scopes the
 * lookup for tenant-facing callers; the CLI (an operator) passes none. Returns false if not found.
 * Request handlers pass `defer` (from `deferFor(c)`) so KV is cleared once more shortly after.
 */
export async function revokeApiKey(
	db: Database,
	clock: Clock,
	resolver: KeyResolver | null,
	keyId: string,
	orgId?: string,
	defer?: Defer,
): Promise<boolean> {
	const scope = orgId ? and(eq(apiKeys.id, keyId), eq(apiKeys.orgId, orgId)) : eq(apiKeys.id, keyId);
	const rows = await db
		.select({ keyHash: apiKeys.keyHash, revokedAt: apiKeys.revokedAt })
		.from(apiKeys)
		.where(scope);
	const row = rows[0];
	if (!row) return false;
	if (row.revokedAt === null) await db.update(apiKeys).set({ revokedAt: clock.now() }).where(scope);
	if (resolver) await resolver.invalidate(row.keyHash, defer);
	return true;
}

/**
 * Renames a key of an org (revoked or not); null when the org has no such key. The caches hold the
 * name (annotations record it as their author), so the key is forgotten there too when a resolver is given.
 */
export async function renameApiKey(
	db: Database,
	orgId: string,
	keyId: string,
	name: string,
	resolver?: KeyResolver,
	defer?: Defer,
): Promise<ApiKeySummary | null> {
	const [row] = await db
		.update(apiKeys)
		.set({ name })
		.where(and(eq(apiKeys.id, keyId), eq(apiKeys.orgId, orgId)))
		.returning({ ...summaryColumns, keyHash: apiKeys.keyHash });
	if (!row) return null;
	const { keyHash, ...summary } = row;
	if (resolver) await resolver.invalidate(keyHash, defer);
	return summary;
}
