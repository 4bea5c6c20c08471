/**
 * IPv6 text as the URL parser reads it: the one IPv6 parser (webhook targets, the login back-off's
 * client addresses), so both read every spelling (`::`, a dotted IPv4 tail, upper case) alike.
 */

/** The URL parser's canonical text of an IPv6 address (no brackets, no zone), or null when it is not one. */
export function canonicalIpv6(address: string): string | null {
	try {
		return new URL(`http://[${address}]/`).hostname.slice(1, -1);
	} catch {
		return null;
	}
}

/** Expands an IPv6 literal, as the URL parser serialises it (hex groups, `::` once), into 8 groups. */
export function ipv6Groups(text: string): number[] | null {
	const halves = text.split("::");
	if (halves.length > 2) return null;
	const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
	const head = parse(halves[0] ?? "");
	const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
	const known = head.length + rest.length;
	if ((halves.length === 1 && known !== 8) || known > 8) return null;
	const groups = [...head, ...new Array<number>(halves.length === 2 ? 8 - known : 0).fill(0), ...rest];
	return groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff) ? null : groups;
}
