/**
 * Which URLs a notification channel may deliver to. Only http(s). Unless the deployment allows it
 * (WEBHOOK_ALLOW_PRIVATE_TARGETS=true), local targets are refused: `localhost` and `*.localhost`,
 * and IP literals in loopback, private, link-local (cloud metadata), CGNAT, unspecified and
 * multicast ranges, IPv4 and IPv6 (IPv4-mapped addresses included). A host *name* is checked where
 * it is resolved: on Node the webhook transport (src/runtime/webhook-node.ts) resolves it, refuses
 * any of these addresses and connects to the address it checked (docs/security.md, "Webhook
 * targets"); on Workers, fetch leaves from Cloudflare's network, which cannot reach private ones.
 */

import { canonicalIpv6, ipv6Groups } from "../http/ip.js";

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Why `text` may not be a webhook target, or null when it may. */
export function webhookUrlProblem(text: string, allowPrivate: boolean): string | null {
	if (text.length > MAX_WEBHOOK_URL_LENGTH) return "url is too long";
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return "url is not a valid URL";
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return "url must be http or https";
	if (url.username !== "" || url.password !== "") return "url must not carry credentials";
	if (!allowPrivate && isLocalHost(url.hostname)) {
		return "url points at a local or private address (set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow)";
	}
	return null;
}

/** Slack incoming webhooks get Slack's message format (`{"text": …}`). */
export function isSlackWebhook(text: string): boolean {
	try {
		const url = new URL(text);
		return url.protocol === "https:" && url.hostname === "hooks.slack.com";
	} catch {
		return false;
	}
}

/** Whether a resolved address (IPv4 dotted quad or IPv6 text) is one webhooks may not reach. */
export function isPrivateAddress(address: string): boolean {
	if (!address.includes(":")) return isLocalHost(address);
	const canonical = canonicalIpv6(address);
	if (canonical === null) return true; // unparseable: refuse rather than guess
	return isLocalHost(`[${canonical}]`);
}

export function isLocalHost(hostname: string): boolean {
	const host = hostname.toLowerCase().replace(/\.$/, "");
	if (host === "localhost" || host.endsWith(".localhost") || host === "") return true;
	if (host.startsWith("[") && host.endsWith("]")) return isPrivateIpv6(host.slice(1, -1));
	const v4 = parseIpv4(host);
	return v4 !== null && isPrivateIpv4(v4);
}

/** Dotted quad only (the URL parser already turned other IPv4 spellings like `0x7f.1` into it). */
function parseIpv4(host: string): number[] | null {
	const parts = host.split(".");
	if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
	return parts.map(Number);
}

function isPrivateIpv4([a, b]: number[]): boolean {
	if (a === undefined || b === undefined) return false;
	return (
		a === 0 || // "this network"
		a === 10 ||
		a === 127 ||
		(a === 100 && b >= 64 && b <= 127) || // CGNAT
		(a === 169 && b === 254) || // link-local, cloud metadata
		(a === 172 && b >= 16 && b <= 31) ||
		(a === 192 && b === 168) ||
		(a === 192 && b === 0) || // IETF protocol assignments
		(a === 198 && (b === 18 || b === 19)) || // benchmarking
		a >= 224 // multicast and reserved
	);
}

function isPrivateIpv6(text: string): boolean {
	const g = ipv6Groups(text);
	if (!g) return true; // unparseable: refuse rather than guess
	const [g0 = 0, , , , , g5 = 0, g6 = 0, g7 = 0] = g;
	const allZeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
	if (allZeroUpTo(7) && (g7 === 0 || g7 === 1)) return true; // :: and ::1
	if (allZeroUpTo(5) && g5 === 0xffff) return isPrivateIpv4([g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff]); // ::ffff:a.b.c.d
	if (allZeroUpTo(6)) return isPrivateIpv4([g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff]); // ::a.b.c.d (deprecated)
	if ((g0 & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
	if ((g0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
	if ((g0 & 0xff00) === 0xff00) return true; // multicast
	if (g0 === 0x64 && g[1] === 0xff9b) return isPrivateIpv4([g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff]); // NAT64
	return false;
}
