/**
 * Shared helpers for the session tests (auth-*.test.ts): seeded users, login/refresh/logout calls,
 * cookie handling and JWKS verification, all through the app's real HTTP surface.
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { expect } from "vitest";
import { createApp } from "../../src/app.js";
import type { AppDeps } from "../../src/app-env.js";
import type { Role } from "../../src/auth/jwt.js";
import { createKeyMemoryCache } from "../../src/auth/key-resolver.js";
import { hashPassword } from "../../src/auth/password.js";
import { totpCodeAt } from "../../src/auth/totp.js";
import type { AuthSettings, JwtSettings } from "../../src/config.js";
import { type UserRow, users } from "../../src/db/schema.js";
import { assembleDeps } from "../../src/deps.js";
import { silentLog } from "../../src/log.js";
import { createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import {
	openTestDatabase,
	TEST_PASSWORD_HASHING,
	type TestDatabase,
	testAuthSettings,
	testJwtSettings,
} from "../support/node-app.js";

export const BEARER_CHALLENGE = 'Bearer realm="hexcovery", error="invalid_token"';
export const ALLOWED_ORIGIN = "https://dashboard.example.com";
/** app.request() URLs resolve against this origin: it is the API's own. */
export const SAME_ORIGIN = "http://localhost";
export const PASSWORD = "correct horse battery staple";
export const OTHER_PASSWORD = "another long passphrase 42";
export const COOKIE = "hexcovery_refresh";
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const DAY = 86_400_000;

/** What the session tests need from an app: the real HTTP surface, its deps, clock and database. */
export interface Harness {
	app: ReturnType<typeof createApp>;
	deps: AppDeps;
	clock: FakeClock;
	database: TestDatabase;
	jwt: JwtSettings;
	close(): void;
}

/**
 * The app as createTestApp builds it, with auth settings of the test's choosing and a clock on a
 * TOTP step boundary (2026-11-28T12:00:00Z), so a code computed "now" stays valid for the whole step.
 */
export async function createAuthApp(auth: Partial<AuthSettings> = {}): Promise<Harness> {
	const database = await openTestDatabase();
	const clock = new FakeClock();
	const jwt = await testJwtSettings();
	const deps = assembleDeps({
		db: database.db,
		clock,
		config: { jwt, auth: testAuthSettings(auth) },
		keyMemory: createKeyMemoryCache(clock),
		log: silentLog,
		clientAddress: (c) => c.req.header("X-Test-Client-Address") ?? "127.0.0.1",
	});
	return { app: createApp(deps), deps, clock, database, jwt, close: () => database.close() };
}

let counter = 0;
/** A value no other test in the run uses (emails, client addresses). */
export function unique(prefix: string): string {
	counter += 1;
	return `${prefix}${counter}${Math.random().toString(36).slice(2, 8)}`;
}
export const uniqueEmail = () => `${unique("user")}@example.com`;
export const uniqueAddress = () => `198.51.100.${unique("")}`;

let defaultHash: Promise<string> | undefined;

export interface SeededUser {
	user: UserRow;
	email: string;
	password: string;
	orgId: string;
}

/** A user inserted straight into the database (in a fresh org unless one is given). */
export async function seedUser(
	h: Harness,
	options: {
		email?: string;
		password?: string;
		role?: Role;
		orgId?: string;
		mustChangePassword?: boolean;
		disabled?: boolean;
		passwordHash?: string;
	} = {},
): Promise<SeededUser> {
	const email = options.email ?? uniqueEmail();
	const password = options.password ?? PASSWORD;
	const orgId = options.orgId ?? (await createOrg(h.database.db, h.clock, unique("Org "))).id;
	let passwordHash = options.passwordHash;
	if (passwordHash === undefined) {
		if (password === PASSWORD) {
			defaultHash ??= hashPassword(PASSWORD, TEST_PASSWORD_HASHING);
			passwordHash = await defaultHash;
		} else {
			passwordHash = await hashPassword(password, TEST_PASSWORD_HASHING);
		}
	}
	const now = h.clock.now();
	const [user] = await h.database.db
		.insert(users)
		.values({
			id: unique("usr_"),
			orgId,
			email,
			name: "Ada Lovelace",
			role: options.role ?? "owner",
			passwordHash,
			mustChangePassword: options.mustChangePassword ?? false,
			passwordChangedAt: now,
			disabledAt: options.disabled ? now : null,
			createdAt: now,
			updatedAt: now,
		})
		.returning();
	return { user: user as UserRow, email, password, orgId };
}

export interface CallOptions {
	method?: string;
	body?: unknown;
	token?: string;
	cookie?: string;
	address?: string;
	headers?: Record<string, string>;
}

export function call(h: Harness, path: string, options: CallOptions = {}): Promise<Response> {
	const headers: Record<string, string> = { ...options.headers };
	if (options.body !== undefined) headers["Content-Type"] = "application/json";
	if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
	if (options.cookie !== undefined) headers.Cookie = `${COOKIE}=${options.cookie}`;
	if (options.address !== undefined) headers["X-Test-Client-Address"] = options.address;
	return Promise.resolve(
		h.app.request(path, {
			method: options.method ?? "POST",
			headers,
			...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
		}),
	);
}

export function login(
	h: Harness,
	body: { email: string; password: string; org?: string; totp_code?: string; recovery_code?: string },
	options: Omit<CallOptions, "body"> = {},
): Promise<Response> {
	// Only the login fields: callers may pass a whole SeededUser (whose orgId is not sent as `org`).
	const fields = {
		email: body.email,
		password: body.password,
		org: body.org,
		totp_code: body.totp_code,
		recovery_code: body.recovery_code,
	};
	const json = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
	return call(h, "/api/v1/auth/login", { address: "192.0.2.1", ...options, body: json });
}

export function refresh(
	h: Harness,
	cookie: string | undefined,
	options: CallOptions = {},
): Promise<Response> {
	return call(h, "/api/v1/auth/refresh", { ...options, ...(cookie === undefined ? {} : { cookie }) });
}

export function logout(h: Harness, cookie: string | undefined, options: CallOptions = {}): Promise<Response> {
	return call(h, "/api/v1/auth/logout", { ...options, ...(cookie === undefined ? {} : { cookie }) });
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

export interface TokenJson {
	access_token: string;
	token_type: string;
	expires_in: number;
	user: UserJson;
}

export interface Session {
	body: TokenJson;
	token: string;
	cookie: string;
	setCookie: string;
}

/** The refresh cookie a response sets: its value and the whole Set-Cookie line. */
export function refreshCookieOf(response: Response): { value: string; line: string } | null {
	const lines = response.headers.getSetCookie().filter((l) => l.startsWith(`${COOKIE}=`));
	expect(lines.length, "at most one refresh cookie per response").toBeLessThanOrEqual(1);
	const line = lines[0];
	if (line === undefined) return null;
	return { value: line.slice(COOKIE.length + 1).split(";")[0] as string, line };
}

/** A response as a client sees it, minus the one thing allowed to differ: the request id. */
export async function observable(response: Response) {
	const requestId = response.headers.get("X-Request-Id") as string;
	const headers = [...response.headers.entries()].filter(([name]) => name !== "x-request-id");
	const body = (await response.text()).replaceAll(requestId, "<request-id>");
	return { status: response.status, headers, body };
}

/** Expects a 200 token answer with a refresh cookie and returns the session it starts. */
export async function expectSession(response: Response): Promise<Session> {
	const text = await response.text();
	expect(response.status, text).toBe(200);
	const body = JSON.parse(text) as TokenJson;
	const cookie = refreshCookieOf(response);
	expect(cookie, "a refresh cookie").not.toBeNull();
	expect(cookie?.value).toMatch(/^hxr_[0-9A-Za-z]{43}$/);
	return {
		body,
		token: body.access_token,
		cookie: cookie?.value as string,
		setCookie: cookie?.line as string,
	};
}

export async function loginOk(
	h: Harness,
	seeded: { email: string; password: string },
	extra: { totp_code?: string; recovery_code?: string } = {},
	options: Omit<CallOptions, "body"> = {},
): Promise<Session> {
	return expectSession(await login(h, { email: seeded.email, password: seeded.password, ...extra }, options));
}

export interface ErrorJson {
	error: { code: string; message: string; request_id: string; details?: { path: string; message: string }[] };
}

/**
 * Status, error.code, the request id (header = body), JSON content type; on a 401 the exact
 * `WWW-Authenticate` challenge when one is given.
 */
export async function expectError(
	response: Response,
	status: number,
	code: string,
	challenge?: string | null,
): Promise<ErrorJson> {
	const text = await response.text();
	let body: ErrorJson;
	try {
		body = JSON.parse(text) as ErrorJson;
	} catch {
		throw new Error(`not JSON (${response.status}): ${text.slice(0, 200)}`);
	}
	expect({ status: response.status, code: body.error?.code }, text).toEqual({ status, code });
	expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
	expect(response.headers.get("X-Request-Id")).toMatch(UUID);
	expect(body.error.request_id).toBe(response.headers.get("X-Request-Id"));
	expect(body.error.message.length).toBeGreaterThan(0);
	if (challenge !== undefined) expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
	return body;
}

/** Verifies an access token with nothing but the app's published JWKS. */
export async function verifyWithJwks(h: Harness, token: string) {
	const response = await h.app.request("/.well-known/jwks.json");
	expect(response.status).toBe(200);
	const jwks = (await response.json()) as JSONWebKeySet;
	return jwtVerify(token, createLocalJWKSet(jwks), {
		algorithms: ["EdDSA"],
		issuer: h.jwt.issuer,
		audience: h.jwt.audience,
		typ: "at+jwt",
		currentDate: new Date(h.clock.now()),
	});
}

/** TOTP setup + enable for the session's user; answers the secret and the recovery codes shown once. */
export async function enableTotp(
	h: Harness,
	token: string,
	password = PASSWORD,
): Promise<{ secret: string; recoveryCodes: string[] }> {
	const setup = await call(h, "/api/v1/auth/totp/setup", { token });
	expect(setup.status, await setup.clone().text()).toBe(200);
	const { secret } = (await setup.json()) as { secret: string };
	const enable = await call(h, "/api/v1/auth/totp/enable", {
		token,
		body: { password, code: await totpCodeAt(secret, h.clock.now()) },
	});
	expect(enable.status, await enable.clone().text()).toBe(200);
	const { recovery_codes } = (await enable.json()) as { recovery_codes: string[] };
	return { secret, recoveryCodes: recovery_codes };
}

/** The code an authenticator shows at the harness's current time. */
export function codeNow(h: Harness, secret: string): Promise<string> {
	return totpCodeAt(secret, h.clock.now());
}
