import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { endSession, getAccessToken, refreshSession, refusedForRole } from "./session";

/** The API's error shape (contract §2), thrown for every non-2xx answer. */
export class ApiProblem extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly requestId: string | null,
		readonly retryAfterS: number | null = null,
		readonly details: Array<{ path?: string; message: string }> = [],
	) {
		super(message);
	}
}

const TOKEN_ERRORS = new Set(["token_expired", "invalid_token"]);

/** Called when a request finds the session gone (a failed refresh): the app shows sign-in. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void): void {
	onSignedOut = handler;
}

/**
 * fetch with the access token; on a 401 for an expired or invalid token it refreshes once (shared
 * with every other waiting request) and retries; when that fails the session has ended. A 401 for a
 * token that has since been renewed (a slower sibling request) retries with the new token at once.
 * A 403 `insufficient_role` refreshes the session in the background (the user's role has changed).
 */
async function authorizedFetch(request: Request): Promise<Response> {
	const retry = request.clone();
	const sentWith = getAccessToken();
	const response = await fetchPatiently(withToken(request));
	if (response.status === 403 && getAccessToken() !== null) {
		// The role in the token is out of date (a demotion since it was issued): a refresh brings the
		// current one, so the header and what the views offer follow. The refusal is answered as is.
		const refusal = await errorOf(response.clone());
		if (refusal.code === "insufficient_role") refusedForRole(refusal.message ?? "");
		return response;
	}
	if (response.status !== 401 || getAccessToken() === null) return response;
	const { code } = await errorOf(response.clone());
	if (!TOKEN_ERRORS.has(code ?? "")) return response;
	// Another request already renewed the token while this one was in flight: use the new one.
	if (getAccessToken() !== sentWith) return fetchPatiently(withToken(retry));
	if (!(await refreshSession())) {
		endSession();
		onSignedOut();
		return response;
	}
	return fetchPatiently(withToken(retry));
}

/** Waits out the API's short `rate_limited` answers (heavy reads in flight) a few times before giving up. */
const RATE_LIMIT_RETRIES = 5;
const MAX_RETRY_WAIT_S = 5;

async function fetchPatiently(request: Request): Promise<Response> {
	for (let attempt = 0; ; attempt++) {
		const copy = attempt < RATE_LIMIT_RETRIES ? request.clone() : request;
		const response = await fetch(copy);
		if (response.status !== 429 || attempt >= RATE_LIMIT_RETRIES) return response;
		const wait = Number(response.headers.get("Retry-After"));
		if (
			!(wait > 0 && wait <= MAX_RETRY_WAIT_S) ||
			(await errorOf(response.clone())).code !== "rate_limited"
		) {
			return response;
		}
		await new Promise((resolve) => setTimeout(resolve, wait * 1000 * (1 + Math.random() / 2)));
	}
}

function withToken(request: Request): Request {
	const token = getAccessToken();
	if (token) request.headers.set("Authorization", `Bearer ${token}`);
	return request;
}

/** The code and message of an error answer in the contract's shape (nulls when the body is not one). */
async function errorOf(response: Response): Promise<{ code: string | null; message: string | null }> {
	try {
		const body = (await response.json()) as { error?: { code?: string; message?: string } };
		return { code: body.error?.code ?? null, message: body.error?.message ?? null };
	} catch {
		return { code: null, message: null };
	}
}

export const api = createClient<paths>({ baseUrl: "", fetch: authorizedFetch, credentials: "same-origin" });

interface Answer<T> {
	data?: T;
	error?: unknown;
	response: Response;
}

/** The answer's data, or an ApiProblem with the API's code, message and request id. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
	const { data, error, response } = await call;
	if (response.ok) return data as T;
	throw problemFrom(response, error);
}

export function problemFrom(response: Response, body: unknown): ApiProblem {
	const error = (
		body as { error?: { code?: string; message?: string; request_id?: string; details?: [] } } | null
	)?.error;
	const retryAfter = Number(response.headers.get("Retry-After"));
	return new ApiProblem(
		response.status,
		error?.code ?? "http_error",
		error?.message ?? `The server answered ${response.status} ${response.statusText}.`,
		error?.request_id ?? response.headers.get("X-Request-Id"),
		Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
		error?.details ?? [],
	);
}

/** Any thrown value as an ApiProblem (network failures included), for display. */
export function asProblem(error: unknown): ApiProblem {
	if (error instanceof ApiProblem) return error;
	return new ApiProblem(
		0,
		"network_error",
		"Could not reach the server. Check your connection and try again.",
		null,
	);
}

/**
 * A keyset-paginated list read whole, for a page that sorts or counts it itself: up to `maxPages`
 * pages, each asked with the cursor the last one gave; `more` when the list goes on past them.
 */
export async function readPages<T>(
	page: (cursor: string | undefined) => Promise<{ data: T[]; next_cursor: string | null }>,
	maxPages: number,
): Promise<{ data: T[]; more: boolean }> {
	const data: T[] = [];
	let cursor: string | undefined;
	for (let n = 0; n < maxPages; n++) {
		const answer = await page(cursor);
		data.push(...answer.data);
		cursor = answer.next_cursor ?? undefined;
		if (!cursor) break;
	}
	return { data, more: cursor !== undefined };
}
