import { and, eq, gt, isNull, lt, lte, or, type SQL, sql } from "drizzle-orm";
import { randomBase62, hashApiKey as sha256Hex } from "../auth/api-key.js";
import type { Role } from "../auth/jwt.js";
import type { Database } from "../db/client.js";
import { loginThrottles, refreshFamilies, refreshTokens, type UserRow, users } from "../db/schema.js";
import { ApiError, type ErrorCode, WWW_AUTHENTICATE_BEARER } from "../errors.js";
import { canonicalIpv6, ipv6Groups } from "../http/ip.js";
import { newId } from "../ids.js";

export const SESSION_SETTINGS = {
	/** A refresh token unused this long dies (the user logs in again). */
	refreshIdleMs: 7 * 86_400_000,
	/** No session lives longer than this, however active. */
	refreshAbsoluteMs: 30 * 86_400_000,
	/**
	 * A rotated token presented again within this window is two tabs refreshing at once, not a
	 * replay: it gets a fresh token of the same family. Later, it revokes the family.
	 */
	reuseGraceMs: 10_000,
	/**
	 * Successors one rotation may have: the first, and one per reuse within the grace window (a tab
	 * each). Without a cap a token replayed within the window minted any number of live successors.
	 */
	maxSuccessorsPerRotation: 8,
	/**
	 * Sessions of one user at once: a login beyond revokes the least recently used (its newest token
	 * is the oldest); each login made a new one, without end.
	 */
	maxSessionsPerUser: 50,
} as const;

/**
 * Login back-off, per account and per client address. Exponential from the threshold on, capped:
 * an attacker can slow an account's logins to one a minute but never lock its owner out for longer.
 * Failures older than the window are forgotten.
 */
export const THROTTLE_SETTINGS = {
	windowMs: 15 * 60_000,
	account: { threshold: 5, baseMs: 1_000, maxMs: 60_000 },
	address: { threshold: 20, baseMs: 1_000, maxMs: 15 * 60_000 },
	/**
	 * Wrong second factors (TOTP or recovery codes) per user, counted only once the password was
	 * right, over a day: from the 5th, waits of 1 min doubling to 1 h. The account's back-off alone
	 * (never more than 60 s, so that no one can lock an owner out) left whoever has the password
	 * ~1,440 code guesses a day, ~0.4 % a day against the 3 codes a TOTP window accepts.
	 */
	secondFactor: { threshold: 5, baseMs: 60_000, maxMs: 3_600_000, windowMs: 86_400_000 },
} as const;

type ThrottlePolicy = { threshold: number; baseMs: number; maxMs: number; windowMs?: number };

const SECOND_FACTOR = "second-factor:";

/** The second-factor back-off's scope: the user's, whichever org (an account is one user row). */
export function secondFactorScope(userId: string): string {
	return `${SECOND_FACTOR}${userId}`;
}

/**
 * Throttle rows the sweep may delete: not blocked, and their failures past their scope's window
 * (a day for the second factor's, else 15 minutes) — a row deleted earlier would forget them.
 */
export function forgottenThrottles(now: number): SQL {
	const window = sql`(CASE WHEN ${loginThrottles.scope} LIKE ${`${SECOND_FACTOR}%`} THEN ${THROTTLE_SETTINGS.secondFactor.windowMs} ELSE ${THROTTLE_SETTINGS.windowMs} END)`;
	return and(
		lt(loginThrottles.blockedUntil, now),
		lt(loginThrottles.lastFailureAt, sql`${now} - ${window}`),
	) as SQL;
}

/**
 * Forgets the user's wrong codes: their password changed (whoever was guessing codes with the old
 * one has nothing to pair them with) or an admin turned their 2FA off. Whoever has a user's password
 * can keep their codes blocked (up to an hour at a time); these are the ways out.
 */
export async function clearSecondFactorBackOff(db: Database, userId: string): Promise<void> {
	await db.delete(loginThrottles).where(eq(loginThrottles.scope, secondFactorScope(userId)));
}
export interface LoginThrottle {
	scope: string;
	policy: ThrottlePolicy;
}

/** A 401 of the session routes. Every 401 carries a challenge (contract §1): the Bearer one. */
export function unauthorized(code: ErrorCode, message: string): ApiError {
	return new ApiError(401, code, message, { headers: { "WWW-Authenticate": WWW_AUTHENTICATE_BEARER } });
}

export function accountScope(email: string): string {
	return `account:${email}`;
}
/**
 * The client address's back-off scope: an IPv4 address whole, an IPv6 address by its /64, the
 * smallest block a subscriber (a home line, a VM) is given: counted per whole address, each of its
 * 2^64 addresses had its own 20 failures before the back-off (docs/sessions.md says why not /48). An IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`, a dual-stack socket's) counts as its IPv4 address.
 */
export function addressScope(address: string): string {
	return `address:${throttledAddress(address)}`;
}

/** `address`'s IPv6 /64 as `2001:db8:1:2::/64`; an IPv4 address (mapped or not) or anything unreadable as it is. */
export function throttledAddress(address: string): string {
	let text = address.trim();
	if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
	if (!text.includes(":")) return address;
	const zone = text.indexOf("%");
	const groups = ipv6Groups(canonicalIpv6(zone >= 0 ? text.slice(0, zone) : text) ?? "");
	if (!groups) return address;
	if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
		const [high, low] = [groups[6] as number, groups[7] as number];
		return [high >> 8, high & 255, low >> 8, low & 255].join(".");
	}
	return `${groups
		.slice(0, 4)
		.map((g) => g.toString(16))
		.join(":")}::/64`;
}

/** 429 `too_many_attempts` while any scope is blocked; checked before the password is looked at. */
export async function assertNotThrottled(db: Database, scopes: string[], now: number): Promise<void> {
	const rows = await db
		.select({ blockedUntil: loginThrottles.blockedUntil })
		.from(loginThrottles)
		.where(and(sql`${loginThrottles.scope} IN ${scopes}`, gt(loginThrottles.blockedUntil, now)));
	const until = Math.max(0, ...rows.map((r) => r.blockedUntil));
	if (until > now) {
		const seconds = Math.max(1, Math.ceil((until - now) / 1000));
		throw new ApiError(429, "too_many_attempts", `Too many failed logins; try again in ${seconds} s.`, {
			headers: { "Retry-After": String(seconds) },
		});
	}
}

/** The upsert that counts one failure (restarting after a quiet window) and sets the block. */
function upsertFailure(
	db: Database,
	scope: string,
	policy: ThrottlePolicy,
	now: number,
	onlyIfUnblocked: boolean,
) {
	const staleBefore = now - (policy.windowMs ?? THROTTLE_SETTINGS.windowMs);
	const next = sql`(CASE WHEN ${loginThrottles.lastFailureAt} < ${staleBefore} THEN 1 ELSE ${loginThrottles.failures} + 1 END)`;
	const blockFor = (failures: ReturnType<typeof sql>) =>
		sql`(CASE WHEN ${failures} >= ${policy.threshold} THEN ${now} + min(${policy.maxMs}, ${policy.baseMs} * (1 << min(30, ${failures} - ${policy.threshold}))) ELSE 0 END)`;
	return db
		.insert(loginThrottles)
		.values({
			scope,
			failures: 1,
			lastFailureAt: now,
			blockedUntil: policy.threshold <= 1 ? now + policy.baseMs : 0,
		})
		.onConflictDoUpdate({
			target: loginThrottles.scope,
			set: { failures: next, lastFailureAt: now, blockedUntil: blockFor(next) },
			...(onlyIfUnblocked ? { setWhere: lte(loginThrottles.blockedUntil, now) } : {}),
		});
}

/** One atomic upsert: count the failure (restarting after a quiet window) and set the block. */
export async function recordLoginFailure(
	db: Database,
	scope: string,
	policy: ThrottlePolicy,
	now: number,
): Promise<void> {
	await upsertFailure(db, scope, policy, now, false);
}

/** What admitLoginAttempt counted: hand it to forgiveLoginAttempt when the attempt was no failure. */
export type AdmittedAttempt = {
	scope: string;
	blockedUntil: number;
	/** When the attempt was counted, and the scope's last failure before it (null: none). */
	admittedAt: number;
	previousFailureAt: number | null;
}[];

/**
 * Admits one login attempt, counting it as a failure up front in every scope, each in one atomic
 * upsert that does nothing while the scope is blocked. Counting before the password is checked is
 * what makes the back-off hold against concurrent guesses: a check-then-record would let a burst of
 * parallel requests all pass the check before the first failure is stored.
 */
export async function admitLoginAttempt(
	db: Database,
	throttles: LoginThrottle[],
	now: number,
): Promise<AdmittedAttempt> {
	const admitted: AdmittedAttempt = [];
	for (const { scope, policy } of throttles) {
		// Read first, so forgiving the attempt can give the failures before it back their own time
		// (else a success kept them from ever being 15 minutes old).
		const [before] = await db
			.select({ at: loginThrottles.lastFailureAt })
			.from(loginThrottles)
			.where(eq(loginThrottles.scope, scope));
		const [row] = await upsertFailure(db, scope, policy, now, true).returning({
			blockedUntil: loginThrottles.blockedUntil,
		});
		if (!row) {
			// Blocked since the caller's check: a concurrent attempt got there first.
			await forgiveLoginAttempt(db, admitted);
			await assertNotThrottled(
				db,
				throttles.map((t) => t.scope),
				now,
			);
			throw new ApiError(429, "too_many_attempts", "Too many failed logins; try again in 1 s.", {
				headers: { "Retry-After": "1" },
			});
		}
		admitted.push({
			scope,
			blockedUntil: row.blockedUntil,
			admittedAt: now,
			previousFailureAt: before?.at ?? null,
		});
	}
	return admitted;
}

/** Takes back what admitLoginAttempt counted (the attempt was no failure), and the block it set. */
export async function forgiveLoginAttempt(db: Database, admitted: AdmittedAttempt): Promise<void> {
	for (const { scope, blockedUntil, admittedAt, previousFailureAt } of admitted) {
		await db
			.update(loginThrottles)
			.set({
				failures: sql`max(0, ${loginThrottles.failures} - 1)`,
				// The last failure is again the one before this attempt, unless a later one came since.
				lastFailureAt: sql`(CASE WHEN ${loginThrottles.lastFailureAt} = ${admittedAt} THEN ${previousFailureAt ?? admittedAt} ELSE ${loginThrottles.lastFailureAt} END)`,
				// Only the block this attempt set: a later one belongs to a later failure.
				blockedUntil: sql`(CASE WHEN ${loginThrottles.blockedUntil} = ${blockedUntil} THEN 0 ELSE ${loginThrottles.blockedUntil} END)`,
			})
			.where(eq(loginThrottles.scope, scope));
	}
}

export interface IssuedRefreshToken {
	token: string;
	/** When the cookie should expire: the family's absolute expiry. */
	expiresAt: number;
}

function newRefreshToken(): string {
	// 43 base62 characters ≈ 256 bits.
	return `hxr_${randomBase62(43)}`;
}

/** Starts a session: a new refresh family with its first token. */
export async function startRefreshFamily(
	db: Database,
	user: { id: string; orgId: string },
	now: number,
): Promise<IssuedRefreshToken> {
	const familyId = newId("fam");
	const token = newRefreshToken();
	const expiresAt = now + SESSION_SETTINGS.refreshAbsoluteMs;
	await db.batch([
		db
			.insert(refreshFamilies)
			.values({ id: familyId, userId: user.id, orgId: user.orgId, createdAt: now, expiresAt }),
		db.insert(refreshTokens).values({
			tokenHash: await sha256Hex(token),
			familyId,
			createdAt: now,
			expiresAt: Math.min(expiresAt, now + SESSION_SETTINGS.refreshIdleMs),
		}),
		// The user's sessions beyond the newest maxSessionsPerUser end (the oldest signed out).
		db.run(sql`UPDATE refresh_families SET revoked_at = ${now}, revoked_reason = 'session_limit'
			WHERE id IN (
				SELECT f.id FROM refresh_families AS f
				WHERE f.user_id = ${user.id} AND f.revoked_at IS NULL AND f.expires_at > ${now}
				ORDER BY (SELECT max(t.created_at) FROM refresh_tokens AS t WHERE t.family_id = f.id) DESC, f.id DESC
				LIMIT -1 OFFSET ${SESSION_SETTINGS.maxSessionsPerUser}
			)`),
	]);
	return { token, expiresAt };
}

const invalidRefresh = () =>
	unauthorized("invalid_token", "The refresh token is invalid or expired; log in again.");

export interface RotatedSession {
	user: UserRow;
	refresh: IssuedRefreshToken;
}

/**
 * Exchanges a refresh token for a new one. The claim on the old token is one atomic statement, so
 * of two concurrent uses exactly one rotates it; the other is either a second tab (within the
 * grace window: it gets its own successor) or a replay (the family is revoked).
 */
export async function rotateRefreshToken(db: Database, token: string, now: number): Promise<RotatedSession> {
	if (!/^hxr_[0-9A-Za-z]{43}$/.test(token)) throw invalidRefresh();
	const tokenHash = await sha256Hex(token);
	const claimed = await db
		.update(refreshTokens)
		.set({ rotatedAt: now })
		.where(
			and(
				eq(refreshTokens.tokenHash, tokenHash),
				isNull(refreshTokens.rotatedAt),
				gt(refreshTokens.expiresAt, now),
			),
		)
		.returning({ familyId: refreshTokens.familyId });
	let familyId = claimed[0]?.familyId;
	/** Set when this is a reuse within the grace window: when the token was rotated. */
	let graceSince: number | undefined;
	if (!familyId) {
		const [seen] = await db
			.select({
				familyId: refreshTokens.familyId,
				rotatedAt: refreshTokens.rotatedAt,
				expiresAt: refreshTokens.expiresAt,
			})
			.from(refreshTokens)
			.where(eq(refreshTokens.tokenHash, tokenHash));
		if (!seen || seen.rotatedAt === null || seen.expiresAt <= now) throw invalidRefresh();
		if (now - seen.rotatedAt > SESSION_SETTINGS.reuseGraceMs) {
			await revokeFamily(db, seen.familyId, now, "reuse");
			throw unauthorized(
				"refresh_token_reused",
				"This refresh token was already used; the session is revoked.",
			);
		}
		familyId = seen.familyId;
		graceSince = seen.rotatedAt;
	}
	const [row] = await db
		.select({ family: refreshFamilies, user: users })
		.from(refreshFamilies)
		.innerJoin(users, eq(users.id, refreshFamilies.userId))
		.where(eq(refreshFamilies.id, familyId));
	if (!row || row.family.revokedAt !== null || row.family.expiresAt <= now || row.user.disabledAt !== null) {
		throw invalidRefresh();
	}
	const next = newRefreshToken();
	const successor = {
		tokenHash: await sha256Hex(next),
		familyId,
		createdAt: now,
		expiresAt: Math.min(row.family.expiresAt, now + SESSION_SETTINGS.refreshIdleMs),
	};
	if (graceSince === undefined) {
		await db.insert(refreshTokens).values(successor);
	} else {
		// A reuse within the grace window: counted with the rotation's other successors (the tokens
		// of the family made since it) and inserted in one statement, so parallel reuses cannot all
		// pass the count.
		const inserted =
			await db.run(sql`INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
			SELECT ${successor.tokenHash}, ${familyId}, ${now}, ${successor.expiresAt}
			WHERE (SELECT count(*) FROM refresh_tokens
				WHERE family_id = ${familyId} AND created_at >= ${graceSince} AND token_hash <> ${tokenHash})
				< ${SESSION_SETTINGS.maxSuccessorsPerRotation}`);
		if (Number(inserted.rowsAffected) === 0) throw invalidRefresh();
	}
	return { user: row.user, refresh: { token: next, expiresAt: row.family.expiresAt } };
}

export async function revokeFamily(
	db: Database,
	familyId: string,
	now: number,
	reason: string,
): Promise<void> {
	await db
		.update(refreshFamilies)
		.set({ revokedAt: now, revokedReason: reason })
		.where(and(eq(refreshFamilies.id, familyId), isNull(refreshFamilies.revokedAt)));
}

/** Logout: revokes the family the token belongs to, whatever state the token is in. */
export async function revokeFamilyOfToken(db: Database, token: string, now: number): Promise<void> {
	if (!/^hxr_[0-9A-Za-z]{43}$/.test(token)) return;
	const [seen] = await db
		.select({ familyId: refreshTokens.familyId })
		.from(refreshTokens)
		.where(eq(refreshTokens.tokenHash, await sha256Hex(token)));
	if (seen) await revokeFamily(db, seen.familyId, now, "logout");
}

/** Ends every session of a user (password change, disable, delete). Access tokens still live ≤ 15 min. */
export async function revokeUserFamilies(
	db: Database,
	userId: string,
	now: number,
	reason: string,
): Promise<void> {
	await db
		.update(refreshFamilies)
		.set({ revokedAt: now, revokedReason: reason })
		.where(and(eq(refreshFamilies.userId, userId), isNull(refreshFamilies.revokedAt)));
}

/** Housekeeping for the sweep: drops tokens and families that can no longer be used. */
export async function pruneExpiredSessions(db: Database, now: number): Promise<void> {
	await db.delete(refreshTokens).where(lt(refreshTokens.expiresAt, now));
	await db
		.delete(refreshFamilies)
		.where(
			or(
				lt(refreshFamilies.expiresAt, now),
				lt(refreshFamilies.revokedAt, now - SESSION_SETTINGS.refreshIdleMs),
			),
		);
}

export interface UserJson {
	id: string;
	org_id: string;
	email: string;
	name: string;
	role: Role;
	totp_enabled: boolean;
	must_change_password: boolean;
	disabled: boolean;
	created_at: string;
}

export function toUserJson(user: UserRow): UserJson {
	return {
		id: user.id,
		org_id: user.orgId,
		email: user.email,
		name: user.name,
		role: user.role,
		totp_enabled: user.totpEnabledAt !== null,
		must_change_password: user.mustChangePassword,
		disabled: user.disabledAt !== null,
		created_at: new Date(user.createdAt).toISOString(),
	};
}
