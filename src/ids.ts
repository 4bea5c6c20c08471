import { randomBase62 } from "./auth/api-key.js";

/** Opaque, prefixed, 120-bit random ids (`org_…`, `key_…`, `ann_…`): unguessable and self-describing. */
export function newId(
	prefix: "org" | "key" | "ann" | "usr" | "team" | "fam" | "mon" | "flp" | "nch",
): string {
	return `${prefix}_${randomBase62(20)}`;
}
