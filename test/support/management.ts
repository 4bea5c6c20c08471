import type { Role } from "../../src/auth/jwt.js";
import { type UserRow, users } from "../../src/db/schema.js";
import { newId } from "../../src/ids.js";
import type { TestApp } from "./node-app.js";

/** A credential for a request: a session token, an API key, or nothing. */
export type Credential = { token: string } | { key: string } | null;

export interface Answer {
	status: number;
	headers: Headers;
	text: string;
	// biome-ignore lint/suspicious/noExplicitAny: tests read whatever shape the route answers
	json: any;
}

export async function send(
	t: TestApp,
	method: string,
	path: string,
	options: { auth?: Credential; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
	const headers: Record<string, string> = { ...options.headers };
	if (options.auth && "token" in options.auth) headers.Authorization = `Bearer ${options.auth.token}`;
	if (options.auth && "key" in options.auth) headers["X-API-Key"] = options.auth.key;
	let body: string | undefined;
	if (options.body !== undefined) {
		headers["Content-Type"] = "application/json";
		body = JSON.stringify(options.body);
	}
	const response = await t.app.request(path, { method, headers, body });
	const text = await response.text();
	let json: unknown = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch {
		json = null;
	}
	return { status: response.status, headers: response.headers, text, json };
}

let seq = 0;

/** Inserts a user straight into the database (no scrypt unless a hash is given). */
export async function seedUser(
	t: TestApp,
	input: {
		orgId: string;
		role: Role;
		email?: string;
		name?: string;
		passwordHash?: string | null;
		mustChangePassword?: boolean;
		disabled?: boolean;
	},
): Promise<UserRow> {
	seq++;
	const now = t.clock.now();
	const row: UserRow = {
		id: newId("usr"),
		orgId: input.orgId,
		email: input.email ?? `user${seq}-${Math.random().toString(36).slice(2, 8)}@example.com`,
		name: input.name ?? `User ${seq}`,
		role: input.role,
		passwordHash: input.passwordHash ?? null,
		mustChangePassword: input.mustChangePassword ?? false,
		passwordChangedAt: null,
		totpSecret: null,
		totpEnabledAt: null,
		totpLastStep: null,
		disabledAt: input.disabled ? now : null,
		createdAt: now + seq,
		updatedAt: now,
	};
	await t.database.db.insert(users).values(row);
	return row;
}

/** A session token for a user, as login would issue it (with `pcr` while the password must change). */
export async function sessionFor(
	t: TestApp,
	user: Pick<UserRow, "id" | "orgId" | "role" | "mustChangePassword">,
	overrides: { role?: Role } = {},
): Promise<{ token: string }> {
	return {
		token: await t.deps.signAccessToken({
			userId: user.id,
			orgId: user.orgId,
			role: overrides.role ?? user.role,
			passwordChangeRequired: user.mustChangePassword,
		}),
	};
}
