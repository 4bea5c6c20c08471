import { signal } from "@preact/signals";
import type { components } from "./schema";

export type User = components["schemas"]["User"];
type AccessToken = components["schemas"]["AccessToken"];

/**
 * The session: the access token lives here, in memory only (never in storage or a JS-readable
 * cookie). The HttpOnly refresh cookie (path /api/v1/auth) renews it on load, shortly before it
 * expires and after a 401 `token_expired`/`invalid_token`; one refresh runs at a time however many
 * requests wait for it. Two tabs share the cookie: the API's 10-second grace for a just-rotated
 * refresh token keeps a tab that refreshes at the same moment signed in.
 */
export const currentUser = signal<User | null>(null);
/**
 * The signed-in user's role changed under them (a demotion or promotion by an admin), found when
 * the API refused an action for the role (`insufficient_role`) and the refresh brought the current
 * one: the shell says so, with the refusal, since the pages change what they offer at that moment.
 */
export const roleChange = signal<{ from: User["role"]; to: User["role"]; refusal: string | null } | null>(
	null,
);
let lastRefusal: string | null = null;

/** Notes the API's refusal for the role (its message), then refreshes to learn the current role. */
export function refusedForRole(message: string): void {
	lastRefusal = message;
	void refreshSession();
}

/** False until the first refresh on load has answered. */
export const sessionChecked = signal(false);

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Whether this tab was signed in (until the person signed out): a sign-in page then says the session ended. */
let signedInHere = false;
export function sessionEndedHere(): boolean {
	return signedInHere;
}

export function getAccessToken(): string | null {
	return accessToken;
}

/** Takes a token answer from login, refresh or a password change. */
export function acceptToken(answer: AccessToken): void {
	accessToken = answer.access_token;
	const before = currentUser.value;
	if (before && before.id === answer.user.id && before.role !== answer.user.role) {
		roleChange.value = { from: before.role, to: answer.user.role, refusal: lastRefusal };
	}
	lastRefusal = null;
	signedInHere = true;
	currentUser.value = answer.user;
	scheduleRefresh(answer.expires_in);
}

/** Refresh ahead of expiry: a minute before, or at 80 % of a short lifetime. */
function scheduleRefresh(expiresInS: number): void {
	clearTimeout(refreshTimer);
	const leadS = Math.min(60, expiresInS * 0.2);
	refreshTimer = setTimeout(() => void refreshSession(), Math.max(1, expiresInS - leadS) * 1000);
}

/** One refresh at a time: concurrent callers share the answer. Resolves true when signed in. */
export function refreshSession(): Promise<boolean> {
	refreshing ??= (async () => {
		try {
			const response = await fetch("/api/v1/auth/refresh", {
				method: "POST",
				credentials: "same-origin",
				headers: { Accept: "application/json" },
			});
			if (!response.ok) {
				endSession();
				return false;
			}
			acceptToken((await response.json()) as AccessToken);
			return true;
		} catch {
			// Offline or the server is down: keep what we have; the next request will tell.
			return accessToken !== null;
		} finally {
			refreshing = null;
			sessionChecked.value = true;
		}
	})();
	return refreshing;
}

export function endSession(): void {
	clearTimeout(refreshTimer);
	accessToken = null;
	currentUser.value = null;
	roleChange.value = null;
}

export async function signOut(): Promise<void> {
	try {
		await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin" });
	} finally {
		signedInHere = false;
		endSession();
	}
}
