import { eq } from "drizzle-orm";
import { randomBase62 } from "../auth/api-key.js";
import type { Role } from "../auth/jwt.js";
import { checkPasswordPolicy, hashPassword, type PasswordHashing } from "../auth/password.js";
import type { Clock } from "../clock.js";
import { DEFAULT_ORG_LIMITS } from "../config.js";
import type { Database } from "../db/client.js";
import { insertUnderLimit } from "../db/insert-under-limit.js";
import { type UserRow, users } from "../db/schema.js";
import { newId } from "../ids.js";
import { limitReached } from "./org-limits.js";

/** Length of a generated one-time password: 24 base62 characters ≈ 143 bits. */
export const INITIAL_PASSWORD_LENGTH = 24;

/** A random one-time password that passes the password policy (checked, not assumed). */
export function generateInitialPassword(): string {
	for (;;) {
		const password = randomBase62(INITIAL_PASSWORD_LENGTH);
		if (checkPasswordPolicy(password) === null) return password;
	}
}

export interface NewUser {
	orgId: string;
	/** Already trimmed and lower-cased. */
	email: string;
	name: string;
	role: Role;
	/** A chosen password (already checked against the policy); without one, a one-time password is generated. */
	password?: string | undefined;
}

/**
 * Creates a user. Without a password, generates a one-time one and sets `must_change_password`: the
 * user's tokens then carry `pcr` until it is changed. Accounts are per org: an address with an account
 * in another org gets a new, independent one here (the other is untouched); null when the address
 * already has an account in this org. 409 `user_limit_reached` when the org has `limit` users.
 */
export async function createUser(
	db: Database,
	clock: Clock,
	input: NewUser,
	hashing?: PasswordHashing,
	limit = DEFAULT_ORG_LIMITS.users,
): Promise<{ user: UserRow; initialPassword: string | null } | null> {
	const initialPassword = input.password === undefined ? generateInitialPassword() : null;
	const now = clock.now();
	const row: UserRow = {
		id: newId("usr"),
		orgId: input.orgId,
		email: input.email,
		name: input.name,
		role: input.role,
		passwordHash: await hashPassword(input.password ?? (initialPassword as string), hashing),
		mustChangePassword: initialPassword !== null,
		passwordChangedAt: initialPassword === null ? now : null,
		totpSecret: null,
		totpEnabledAt: null,
		totpLastStep: null,
		disabledAt: null,
		createdAt: now,
		updatedAt: now,
	};
	const inserted = await insertUnderLimit(db, users, row, eq(users.orgId, input.orgId), limit, {
		ignoreConflict: true,
	});
	if (inserted === "full") throw limitReached("users", limit);
	return inserted === "inserted" ? { user: row, initialPassword } : null;
}
